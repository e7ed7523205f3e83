"""Alembic environment: lmgate hands it an open connection (lmgate.store.migrate); no alembic.ini, no URL here."""

from __future__ import annotations

from alembic import context

from lmgate.store.migrate import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table=VERSION_TABLE, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
