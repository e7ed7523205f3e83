"""Where request records go: a rotating JSONL file, and the database when one is configured."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from lmgate.store.engine import Store
    from lmgate.store.spend import Settled


class JsonlFileSink:
    """Appends one JSON line per record; rotates to `.1`, `.2`, … past `max_bytes`."""

    name = "file"

    def __init__(self, path: Path, max_bytes: int = 50 * 1024 * 1024, backups: int = 5) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups

    def _rotate(self) -> None:
        for i in range(self.backups - 1, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{i}")
            if src.exists():
                src.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))

    def _write(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.path.stat().st_size + len(data) > self.max_bytes:
                self._rotate()
        except FileNotFoundError:
            pass
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    async def prepare(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)

    async def write(self, lines: bytes) -> None:
        await asyncio.to_thread(self._write, lines)

    async def close(self) -> None:
        return None


class DatabaseSink:
    """Batched inserts into the `request_log` table (SQLite or Postgres), idempotent per request_id.

    It is the spend log too: with `spend`, each batch settles the key and team spend of the rows it
    added, in the same transaction (store/spend.py), and hands the new totals to `on_spend` (the key
    limits' seeds, keys/limits.py). `needs_file`: the keys' embedded SQLite file, which only the first
    key creates; until it exists batches are dropped here (the JSONL log still has them, and no
    virtual key, hence no spend, exists yet). SQLAlchemy loads with the first write.
    """

    name = "database"

    def __init__(self, url: str, spend: bool = False, needs_file: Path | None = None) -> None:
        self.url = url
        self.spend = spend
        self.needs_file = needs_file
        self.on_spend: Callable[[list[Settled]], None] | None = None
        self._store: Store | None = None

    @property
    def ready(self) -> bool:
        """Whether the table exists to be written and read: false until the keys' file is made."""
        return self.needs_file is None or self.needs_file.exists()

    @property
    def store(self) -> Store:
        if self._store is None:
            from lmgate.store.engine import Store

            self._store = Store(self.url)
        return self._store

    async def prepare(self) -> None:
        if self.ready:
            await self.store.create()

    async def write(self, lines: bytes) -> None:
        if not self.ready:
            return
        texts = [line.decode() for line in lines.splitlines() if line]
        settled = await self.store.insert_request_logs([orjson.loads(text) for text in texts], self.spend, texts)
        if settled and self.on_spend is not None:
            self.on_spend(settled)

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
