"""Accounting: token usage extraction and cost."""
