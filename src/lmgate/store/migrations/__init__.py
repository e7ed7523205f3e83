"""Alembic migrations of the store (run by lmgate.store.migrate, never by an alembic.ini)."""
