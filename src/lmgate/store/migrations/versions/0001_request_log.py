"""The request log table, as `metadata.create_all` made it before migrations existed.

Databases created by that code have this table and no version table: they are stamped at this
revision (lmgate.store.migrate), not recreated.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lmgate_request_log",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("key_alias", sa.String(128), nullable=False),
        sa.Column("inbound", sa.String(16), nullable=False),
        sa.Column("requested_model", sa.String(256), nullable=False),
        sa.Column("model_group", sa.String(256), nullable=False),
        sa.Column("deployment", sa.String(256), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("cost", sa.Float, nullable=False),
        sa.Column("latency_s", sa.Float, nullable=False),
        sa.Column("ttft_s", sa.Float),
        sa.Column("error_class", sa.String(64), nullable=False),
        sa.Column("route", sa.JSON, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_lmgate_request_log_time", "lmgate_request_log", ["time"])


def downgrade() -> None:
    op.drop_index("ix_lmgate_request_log_time", "lmgate_request_log")
    op.drop_table("lmgate_request_log")
