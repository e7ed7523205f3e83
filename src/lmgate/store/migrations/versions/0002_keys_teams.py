"""Virtual keys and teams (LiteLLM's field names), a team column on the request log, and the revision
counter every gateway polls to know its key cache is stale.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _limits() -> list[sa.Column]:
    """The limit and budget fields (stored now; enforced by the limits issue)."""
    return [
        sa.Column("rpm_limit", sa.Integer),
        sa.Column("tpm_limit", sa.Integer),
        sa.Column("max_parallel_requests", sa.Integer),
        sa.Column("max_budget", sa.Float),
        sa.Column("budget_duration", sa.String(32)),
        sa.Column("model_rpm_limit", sa.JSON),
        sa.Column("model_tpm_limit", sa.JSON),
        sa.Column("spend", sa.Float, nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "lmgate_teams",
        sa.Column("team_id", sa.String(64), primary_key=True),
        sa.Column("team_alias", sa.String(256)),
        sa.Column("models", sa.JSON, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("blocked", sa.Boolean, nullable=False, server_default=sa.false()),
        *_limits(),
    )
    op.create_table(
        "lmgate_keys",
        sa.Column("token", sa.String(64), primary_key=True),  # sha256 hex of the key value, as LiteLLM
        sa.Column("key_name", sa.String(64), nullable=False),  # "sk-...abcd": recognisable, not usable
        sa.Column("key_alias", sa.String(256), unique=True),
        sa.Column("team_id", sa.String(64), index=True),
        sa.Column("models", sa.JSON, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("blocked", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("expires", sa.Float),  # unix seconds; null = never
        *_limits(),
    )
    revision_table = op.create_table(
        "lmgate_keys_revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.bulk_insert(revision_table, [{"id": 1, "revision": 0}])
    with op.batch_alter_table("lmgate_request_log") as batch:
        batch.add_column(sa.Column("team", sa.String(256)))


def downgrade() -> None:
    with op.batch_alter_table("lmgate_request_log") as batch:
        batch.drop_column("team")
    op.drop_table("lmgate_keys_revision")
    op.drop_table("lmgate_keys")
    op.drop_table("lmgate_teams")
