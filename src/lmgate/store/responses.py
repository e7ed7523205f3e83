"""Stored Responses (`store: true`): what `previous_response_id`, GET/DELETE /v1/responses/{id} and
/input_items read. SQLite file by default, Postgres via `database_url` (same engine rules as the store).

One row per response: its own input items and the finished Response object, plus the id it continued.
A conversation is rebuilt with one recursive query along `previous_id`. A row is written (committed)
before the client hears `response.completed`, so a follow-up at any worker or replica finds it; saves
that arrive while a write is in flight go together in the next one (group commit), so a busy gateway
makes one write per batch, not per response. Rows
expire after the retention period; reads ignore expired rows and `purge` deletes them. `owner` is a
digest of the API key that made the response: only that key (or the master key) reads it back.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Column, Float, Index, MetaData, String, Table, Text, delete, event, literal, select
from sqlalchemy.exc import DBAPIError

from lmgate.store.engine import Store

MAX_CHAIN = 10_000  # turns followed back along previous_response_id (a guard, not a product limit)

# Its own metadata: created by this store alone, not by the request log's create_all (two engines
# creating the same table at once race on SQLite). A migration should own it once Alembic lands.
metadata = MetaData()
responses = Table(
    "lmgate_responses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("previous_id", String(64)),
    Column("input", Text, nullable=False),  # JSON array: this turn's input items
    Column("response", Text, nullable=False),  # JSON: the Response object as sent
    Index("ix_lmgate_responses_expires_at", "expires_at"),
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL: readers (other workers) never wait for a writer, and a commit is visible to them at once
    without an fsync per commit (synchronous=NORMAL: durable at the next checkpoint; a power cut may
    lose the last moments, never corrupt the file)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def owner_of(api_key: str | None) -> str:
    """The owner recorded for a key (a digest, never the key itself)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:32] if api_key else ""


@dataclass(slots=True)
class Stored:
    id: str
    input: list[Any]
    response: dict[str, Any]


class ResponseStore:
    """The responses table on a `Store`'s engine."""

    def __init__(self, store: Store, retention_s: float) -> None:
        self.store = store
        self.retention_s = retention_s
        self._created = False
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    @classmethod
    def open(cls, database_url: str, retention_s: float) -> ResponseStore:
        store = Store(database_url)
        if store.dialect == "sqlite":
            event.listen(store.engine.sync_engine, "connect", _sqlite_pragmas)
        return cls(store, retention_s)

    @property
    def used(self) -> bool:
        """Whether this process has reached the table yet."""
        return self._created

    async def _ensure(self) -> None:
        if self._created:
            return
        try:
            async with self.store.engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
        except DBAPIError:  # another worker created it between our check and our CREATE
            async with self.store.engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
        self._created = True

    async def save(self, owner: str, input_items: list[Any], response: dict[str, Any]) -> None:
        """Returns once the row is committed (in a batch with the saves that came meanwhile)."""
        now = time.time()
        row = {
            "id": response["id"],
            "owner": owner,
            "created_at": now,
            "expires_at": now + self.retention_s,
            "previous_id": response.get("previous_response_id"),
            "input": orjson.dumps(input_items).decode(),
            "response": orjson.dumps(response).decode(),
        }
        done = asyncio.get_running_loop().create_future()
        self._pending.append((row, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await done

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._ensure()
                async with self.store.engine.begin() as conn:
                    await conn.execute(responses.insert(), [row for row, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    def _visible(self, owner: str | None) -> Any:
        """Rows a caller may read: unexpired, and its own unless `owner` is None (the master key)."""
        cond = responses.c.expires_at > time.time()
        return cond if owner is None else cond & (responses.c.owner == owner)

    async def get(self, response_id: str, owner: str | None) -> Stored | None:
        await self._ensure()
        query = select(responses.c.input, responses.c.response).where(responses.c.id == response_id, self._visible(owner))
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else Stored(response_id, orjson.loads(row[0]), orjson.loads(row[1]))

    async def chain(self, response_id: str, owner: str | None) -> list[Stored] | None:
        """The response and every one it continued, oldest first; None when `response_id` is not visible."""
        await self._ensure()
        t = responses
        head = select(t.c.id, t.c.previous_id, t.c.input, t.c.response, literal(0).label("depth"))
        walk = head.where(t.c.id == response_id, self._visible(owner)).cte("chain", recursive=True)
        step = select(t.c.id, t.c.previous_id, t.c.input, t.c.response, (walk.c.depth + 1).label("depth"))
        step = step.where(t.c.id == walk.c.previous_id, t.c.expires_at > time.time(), walk.c.depth < MAX_CHAIN)
        walk = walk.union_all(step)
        query = select(walk.c.id, walk.c.input, walk.c.response).order_by(walk.c.depth.desc())
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            return None
        return [Stored(r[0], orjson.loads(r[1]), orjson.loads(r[2])) for r in rows]

    async def delete(self, response_id: str, owner: str | None) -> bool:
        await self._ensure()
        async with self.store.engine.begin() as conn:
            result = await conn.execute(delete(responses).where(responses.c.id == response_id, self._visible(owner)))
        return bool(result.rowcount)

    async def purge(self) -> int:
        """Deletes expired rows; returns how many."""
        await self._ensure()
        async with self.store.engine.begin() as conn:
            result = await conn.execute(delete(responses).where(responses.c.expires_at <= time.time()))
        return int(result.rowcount or 0)

    async def close(self) -> None:
        await self.store.close()
