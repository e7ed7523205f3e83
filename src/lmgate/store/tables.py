"""Table definitions (SQLAlchemy Core) for queries; the schema itself is made by the migrations
(store/migrations/versions/), which must match these."""

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
    Column("team", String(256)),
    Column("api_key", String(64)),  # the virtual key's sha256 hash (LiteLLM's spend-log field), never the key
    Column("team_id", String(64)),
    Index("ix_lmgate_request_log_time", "time"),
    Index("ix_lmgate_request_log_api_key", "api_key", "time"),
)


def _limits() -> list[Column]:
    return [
        Column("rpm_limit", Integer),
        Column("tpm_limit", Integer),
        Column("max_parallel_requests", Integer),
        Column("max_budget", Float),
        Column("budget_duration", String(32)),
        Column("model_rpm_limit", JSON),
        Column("model_tpm_limit", JSON),
        Column("spend", Float, nullable=False, default=0.0),
        Column("created_at", Float, nullable=False),
        Column("updated_at", Float, nullable=False),
        Column("soft_budget", Float),
        Column("model_max_budget", JSON),
        Column("model_spend", JSON),
        Column("budget_reset_at", Float),  # when the current budget period ends (unix seconds)
    ]


teams = Table(
    "lmgate_teams",
    metadata,
    Column("team_id", String(64), primary_key=True),
    Column("team_alias", String(256)),
    Column("models", JSON, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("blocked", Boolean, nullable=False, default=False),
    Column("privacy", String(16)),  # "strict" or None (the default): routing/privacy.py
    *_limits(),
)

keys = Table(
    "lmgate_keys",
    metadata,
    Column("token", String(64), primary_key=True),  # sha256 hex of the key value (LiteLLM's hash)
    Column("key_name", String(64), nullable=False),  # "sk-...abcd"
    Column("key_alias", String(256), unique=True),
    Column("team_id", String(64), index=True),
    Column("models", JSON, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("blocked", Boolean, nullable=False, default=False),
    Column("expires", Float),  # unix seconds; None = never
    Column("privacy", String(16)),  # "strict" or None (the default): routing/privacy.py
    *_limits(),
)

# One row (id 1): bumped in the same transaction as every key or team change; gateways poll it.
keys_revision = Table(
    "lmgate_keys_revision",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("revision", Integer, nullable=False),
)
