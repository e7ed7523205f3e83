"""Observability: the per-request record, Prometheus metrics, and the durable request log."""
