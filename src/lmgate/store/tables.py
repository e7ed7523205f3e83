"""Table definitions (SQLAlchemy Core). Created at start-up when missing."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

request_log = Table(
    "lmgate_request_log",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("time", Float, nullable=False),
    Column("key_alias", String(128), nullable=False, default=""),
    Column("inbound", String(16), nullable=False),
    Column("requested_model", String(256), nullable=False),
    Column("model_group", String(256), nullable=False),
    Column("deployment", String(256), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("stream", Boolean, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cost", Float, nullable=False),
    Column("latency_s", Float, nullable=False),
    Column("ttft_s", Float),
    Column("error_class", String(64), nullable=False),
    Column("route", JSON, nullable=False),
    Column("record", Text, nullable=False),
    Index("ix_lmgate_request_log_time", "time"),
)
