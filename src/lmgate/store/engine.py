"""Async engine for `general_settings.database_url` and the queries lmgate makes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from lmgate.store.tables import request_log

if TYPE_CHECKING:
    from lmgate.store.spend import Settled

_COLUMNS = [c.name for c in request_log.columns if c.name != "record"]


def async_url(database_url: str) -> str:
    """LiteLLM-style URLs (postgresql://, postgres://, sqlite:///) -> their asyncio drivers."""
    url = make_url(database_url.replace("postgres://", "postgresql://", 1) if database_url.startswith("postgres://") else database_url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}.get(url.drivername, url.drivername)
    return url.set(drivername=driver).render_as_string(hide_password=False)


class Store:
    def __init__(self, database_url: str) -> None:
        self.url = async_url(database_url)
        # SQLite: give up on a locked database after 2 s; the request log spools and retries.
        connect_args = {"timeout": 2} if self.url.startswith("sqlite") else {}
        self.engine: AsyncEngine = create_async_engine(self.url, pool_pre_ping=True, connect_args=connect_args)
        self._created = False

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def create(self) -> None:
        """Migrate the schema to the newest revision (one process at a time; see migrate.py)."""
        from lmgate.store.migrate import upgrade

        await upgrade(self.engine)
        self._created = True

    async def insert_request_logs(
        self, records: Sequence[dict[str, Any]], spend: bool = False, texts: Sequence[str] | None = None
    ) -> list[Settled]:
        """Insert the records (idempotent per request_id); with `spend`, settle the key and team spend of
        the rows this call added, in the same transaction (store/spend.py). The scopes settled.

        `texts`: each record's JSON as the request log already wrote it, stored as is rather than
        serialised a second time."""
        if not records:
            return []
        if not self._created:
            await self.create()
        if texts is None:
            texts = [orjson.dumps(r).decode() for r in records]
        rows = []
        for r, text in zip(records, texts, strict=True):
            row = {c: r.get(c) for c in _COLUMNS}
            row["record"] = text
            rows.append(row)
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        stmt = insert(request_log).on_conflict_do_nothing(index_elements=["request_id"])
        paying = spend and any(r.get("cost") and (r.get("api_key") or r.get("team_id")) for r in records)
        async with self.engine.begin() as conn:
            if not paying:
                await conn.execute(stmt, rows)
                return []
            added = {row[0] for row in await conn.execute(stmt.returning(request_log.c.request_id), rows)}
            from lmgate.store import spend as spend_mod

            return await spend_mod.settle(conn, [r for r in records if r.get("request_id") in added], time.time())

    async def request_logs_since(self, since: float) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            result = await conn.execute(select(request_log.c.record).where(request_log.c.time >= since))
            return [orjson.loads(row[0]) for row in result]

    async def close(self) -> None:
        await self.engine.dispose()
