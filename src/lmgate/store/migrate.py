"""Schema migrations (Alembic), run at start-up and by `lmgate db upgrade`, one process at a time.

Replicas and workers starting together serialise on a lock: a transaction-scoped advisory lock on
Postgres, a lock file next to the database on SQLite. A database whose version is already `HEAD` costs
one query (Alembic is not even imported). A database made by `metadata.create_all` before migrations
existed (the request log table, no version table) is stamped at the baseline revision and upgraded
from there, never recreated. The version table is `lmgate_alembic_version`, so a database shared with
another Alembic user (LiteLLM's, say) keeps both apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

VERSION_TABLE = "lmgate_alembic_version"
BASELINE = "0001"  # the tables create_all made before migrations
HEAD = "0004"  # tests check this is Alembic's head
LOCK_ID = 0x6C6D67617465  # "lmgate": the Postgres advisory lock key
MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(slots=True, frozen=True)
class Upgrade:
    before: str | None  # None: empty database (or stamped, see `stamped`)
    after: str | None
    stamped: bool = False  # it had the pre-migration tables and was stamped at BASELINE


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def current_version(conn: Connection) -> str | None:
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    row = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
    return row[0] if row else None


def _upgrade(conn: Connection, target: str) -> Upgrade:
    before = current_version(conn)
    if before == HEAD and target in ("head", HEAD):
        return Upgrade(before, before)
    from alembic import command

    cfg = _alembic_config(conn)
    stamped = before is None and inspect(conn).has_table("lmgate_request_log")
    if stamped:
        command.stamp(cfg, BASELINE)
    command.upgrade(cfg, target)
    return Upgrade(before, current_version(conn), stamped)


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for Postgres and in-memory SQLite)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


@contextlib.asynccontextmanager
async def _file_lock(path: Path | None) -> AsyncIterator[None]:
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{path}.migrate.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


async def upgrade(engine: AsyncEngine, target: str = "head") -> Upgrade:
    """Bring the database to `target` (default: the newest revision), one process at a time."""
    async with _file_lock(sqlite_path(str(engine.url))), engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})
        return await conn.run_sync(_upgrade, target)


async def current(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(current_version)


def history() -> list[dict[str, str | None]]:
    """Every revision, oldest first: id, parent and the first line of its docstring."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(cfg)
    out = []
    for rev in reversed(list(scripts.walk_revisions())):
        down = rev.down_revision if isinstance(rev.down_revision, str) or rev.down_revision is None else ",".join(rev.down_revision)
        out.append({"revision": rev.revision, "down_revision": down, "doc": (rev.doc or "").strip().splitlines()[0] if rev.doc else ""})
    return out


def head() -> str:
    """Alembic's head revision, read from the scripts (HEAD must equal it)."""
    return history()[-1]["revision"] or ""
