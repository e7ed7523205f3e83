"""Budgets: soft_budget, model_max_budget, model_spend and budget_reset_at on keys and teams; the key
hash and team id on the request log (the spend log), so spend settles per key and team.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _budget_columns() -> list[sa.Column]:
    return [
        sa.Column("soft_budget", sa.Float),
        sa.Column("model_max_budget", sa.JSON),
        sa.Column("model_spend", sa.JSON),
        sa.Column("budget_reset_at", sa.Float),  # unix seconds: when the current budget period ends
    ]


def upgrade() -> None:
    for table in ("lmgate_keys", "lmgate_teams"):
        with op.batch_alter_table(table) as batch:
            for column in _budget_columns():
                batch.add_column(column)
    with op.batch_alter_table("lmgate_request_log") as batch:
        batch.add_column(sa.Column("api_key", sa.String(64)))
        batch.add_column(sa.Column("team_id", sa.String(64)))
        batch.create_index("ix_lmgate_request_log_api_key", ["api_key", "time"])


def downgrade() -> None:
    with op.batch_alter_table("lmgate_request_log") as batch:
        batch.drop_index("ix_lmgate_request_log_api_key")
        batch.drop_column("team_id")
        batch.drop_column("api_key")
    for table in ("lmgate_keys", "lmgate_teams"):
        with op.batch_alter_table(table) as batch:
            for column in reversed(_budget_columns()):
                batch.drop_column(column.name)
