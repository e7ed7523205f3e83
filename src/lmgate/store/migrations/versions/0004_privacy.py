"""Data privacy per key and team: `privacy` ("strict", or null for the default), read like
`metadata.privacy` by the router (routing/privacy.py).

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("lmgate_keys", "lmgate_teams"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("privacy", sa.String(16)))


def downgrade() -> None:
    for table in ("lmgate_keys", "lmgate_teams"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("privacy")
