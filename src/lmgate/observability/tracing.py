"""Optional OpenTelemetry traces over OTLP/HTTP: one span per request, a child span per upstream attempt.

Enabled by the standard variables (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, headers in `OTEL_EXPORTER_OTLP_HEADERS`) or by `otel` in
`litellm_settings.callbacks`; `OTEL_SDK_DISABLED=true` turns it off. Spans are built after the
response is complete, from the request record, so the request path pays nothing for them; with
tracing off nothing is imported. Attributes follow the OpenTelemetry GenAI semantic conventions.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmgate.observability.record import RequestRecord

log = logging.getLogger("lmgate.tracing")
# GenAI semantic conventions' operation names, by the gateway's endpoint of the request
OPERATIONS = {"chat": "chat", "completion": "text_completion", "embedding": "embeddings"}


def wanted(callbacks: list[str]) -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    env = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return bool(env) or "otel" in callbacks


class Tracing:
    """Owns a private TracerProvider (nothing global) with a batching OTLP/HTTP exporter."""

    def __init__(self) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "lmgate")})
        self.provider = TracerProvider(resource=resource)
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self.tracer = self.provider.get_tracer("lmgate")

    def record(self, rec: RequestRecord) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

        start = int(rec.time * 1e9)
        end = start + int(rec.latency_s * 1e9)
        op = OPERATIONS.get(rec._endpoint, "chat")
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": op,
            "gen_ai.request.model": rec.requested_model,
            "gen_ai.provider.name": rec.provider,
            "gen_ai.response.model": rec.upstream_model,
            "gen_ai.usage.input_tokens": rec.prompt_tokens,
            "gen_ai.usage.output_tokens": rec.completion_tokens,
            "http.response.status_code": rec.status,
            "lmgate.request_id": rec.request_id,
            "lmgate.client_request_id": rec.client_request_id,
            "lmgate.inbound_protocol": rec.inbound,
            "lmgate.deployment": rec.deployment,
            "lmgate.stream": rec.stream,
            "lmgate.cost_usd": rec.cost,
        }
        if rec.ttft_s is not None:
            attrs["lmgate.time_to_first_token_s"] = rec.ttft_s
        span = self.tracer.start_span(
            f"{op} {rec.requested_model}", kind=SpanKind.SERVER, start_time=start, attributes=attrs
        )
        if rec.status >= 400:
            span.set_attribute("error.type", rec.error_class or str(rec.status))
            span.set_status(Status(StatusCode.ERROR, rec.error_class))
        ctx = set_span_in_context(span)
        cursor = start
        for attempt in rec.attempts:
            took = int(attempt.seconds * 1e9)
            child = self.tracer.start_span(
                f"{op} {attempt.deployment}",
                context=ctx,
                kind=SpanKind.CLIENT,
                start_time=cursor,
                attributes={
                    "gen_ai.operation.name": op,
                    "gen_ai.provider.name": attempt.provider,
                    "lmgate.deployment": attempt.deployment,
                    "lmgate.model_group": attempt.model_group,
                    "lmgate.outcome": attempt.outcome,
                },
            )
            if attempt.outcome != "ok":
                child.set_status(Status(StatusCode.ERROR, attempt.outcome))
            child.end(end_time=min(end, cursor + took))
            cursor += took
        span.end(end_time=end)

    def shutdown(self) -> None:
        try:
            self.provider.shutdown()  # flushes pending spans
        except Exception:
            log.exception("flushing traces failed")


def build(callbacks: list[str]) -> Tracing | None:
    if not wanted(callbacks):
        return None
    try:
        return Tracing()
    except ImportError:
        log.error("OpenTelemetry is configured but not installed: pip install 'lmgate[otel]'")
        return None
