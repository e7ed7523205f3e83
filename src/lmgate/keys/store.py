"""Keys and teams in the database (SQLAlchemy Core, async). Every write bumps the revision counter in
the same transaction, which is how every gateway learns its cache is stale."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from lmgate.errors import BadRequest
from lmgate.store.engine import Store
from lmgate.store.migrate import sqlite_path, upgrade
from lmgate.store.tables import keys, keys_revision, teams

Row = dict[str, Any]
UNREACHABLE = (OperationalError, InterfaceError, OSError)  # the database is down or refuses connections


class KeyStore:
    def __init__(self, url: str) -> None:
        self.store = Store(url)
        self.path = sqlite_path(self.store.url)  # None on Postgres

    @property
    def exists(self) -> bool:
        """False only for a SQLite file nobody has created yet (no key was ever made)."""
        return self.path is None or self.path.exists()

    async def migrate(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():  # keys live here: readable by the gateway's user only
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        await upgrade(self.store.engine)

    async def close(self) -> None:
        await self.store.close()

    # ---- reads --------------------------------------------------------------------------------------

    async def revision(self) -> int:
        async with self.store.engine.connect() as conn:
            return int((await conn.execute(select(keys_revision.c.revision).where(keys_revision.c.id == 1))).scalar_one())

    async def snapshot(self) -> tuple[int, list[Row], dict[str, Row]]:
        """The revision, every key and every team (by id), read in one transaction."""
        async with self.store.engine.begin() as conn:
            rev = (await conn.execute(select(keys_revision.c.revision).where(keys_revision.c.id == 1))).scalar_one()
            key_rows = [as_row(r) for r in await conn.execute(select(keys))]
            team_rows = {r.team_id: as_row(r) for r in await conn.execute(select(teams))}
        return int(rev), key_rows, team_rows

    async def key(self, token: str) -> Row | None:
        return await self._one(select(keys).where(keys.c.token == token))

    async def key_by_alias(self, alias: str) -> Row | None:
        return await self._one(select(keys).where(keys.c.key_alias == alias))

    async def team(self, team_id: str) -> Row | None:
        return await self._one(select(teams).where(teams.c.team_id == team_id))

    async def list_keys(self, team_id: str | None, key_alias: str | None, offset: int, limit: int) -> tuple[list[Row], int]:
        query, count = select(keys), select(func.count()).select_from(keys)
        for column, value in ((keys.c.team_id, team_id), (keys.c.key_alias, key_alias)):
            if value is not None:
                query, count = query.where(column == value), count.where(column == value)
        async with self.store.engine.connect() as conn:
            total = (await conn.execute(count)).scalar_one()
            rows = await conn.execute(query.order_by(keys.c.created_at, keys.c.token).offset(offset).limit(limit))
            return [as_row(r) for r in rows], int(total)

    async def list_teams(self) -> list[Row]:
        async with self.store.engine.connect() as conn:
            return [as_row(r) for r in await conn.execute(select(teams).order_by(teams.c.created_at))]

    async def keys_of_team(self, team_id: str) -> list[Row]:
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(select(keys).where(keys.c.team_id == team_id).order_by(keys.c.created_at))
            return [as_row(r) for r in rows]

    async def _one(self, query: Any) -> Row | None:
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(query)).first()
            return as_row(row) if row is not None else None

    # ---- writes (each bumps the revision) -----------------------------------------------------------

    async def insert_key(self, row: Row) -> None:
        await self._write(insert(keys).values(**row), "a key with this key_alias (or this key value) already exists")

    async def update_key(self, token: str, values: Row) -> bool:
        statement = update(keys).where(keys.c.token == token).values(**values)
        return await self._write(statement, "key_alias is already used by another key") > 0

    async def replace_key(self, old_token: str, row: Row) -> bool:
        """Regenerate: the same record under a new hash (one transaction)."""
        try:
            async with self.store.engine.begin() as conn:
                gone = (await conn.execute(delete(keys).where(keys.c.token == old_token))).rowcount
                if not gone:
                    return False
                await conn.execute(insert(keys).values(**row))
                await _bump(conn)
        except IntegrityError:
            raise BadRequest("another key already has this value", param="new_key") from None
        return True

    async def delete_keys(self, tokens: Sequence[str]) -> list[str]:
        async with self.store.engine.begin() as conn:
            found = [r[0] for r in await conn.execute(select(keys.c.token).where(keys.c.token.in_(tokens)))]
            if found:
                await conn.execute(delete(keys).where(keys.c.token.in_(found)))
                await _bump(conn)
        return found

    async def insert_team(self, row: Row) -> None:
        await self._write(insert(teams).values(**row), "a team with this team_id already exists")

    async def update_team(self, team_id: str, values: Row) -> bool:
        return await self._write(update(teams).where(teams.c.team_id == team_id).values(**values), "") > 0

    async def delete_teams(self, team_ids: Sequence[str]) -> list[str]:
        """Teams with keys are refused by the caller; here they simply go."""
        async with self.store.engine.begin() as conn:
            found = [r[0] for r in await conn.execute(select(teams.c.team_id).where(teams.c.team_id.in_(team_ids)))]
            if found:
                await conn.execute(delete(teams).where(teams.c.team_id.in_(found)))
                await _bump(conn)
        return found

    async def import_rows(self, team_rows: Sequence[Row], key_rows: Sequence[Row]) -> tuple[int, int]:
        """Insert teams and keys (another tool's, checked as new by the caller) in one transaction."""
        async with self.store.engine.begin() as conn:
            if team_rows:
                await conn.execute(insert(teams), list(team_rows))
            if key_rows:
                await conn.execute(insert(keys), list(key_rows))
            if team_rows or key_rows:
                await _bump(conn)
        return len(team_rows), len(key_rows)

    async def _write(self, statement: Any, conflict: str) -> int:
        try:
            async with self.store.engine.begin() as conn:
                count = (await conn.execute(statement)).rowcount
                if count:
                    await _bump(conn)
                return int(count)
        except IntegrityError:
            raise BadRequest(conflict or "the change conflicts with another record") from None


def as_row(r: Any) -> Row:
    """A result row as a plain dict with str keys (SQLAlchemy's are str subclasses orjson refuses)."""
    return {str(k): v for k, v in r._mapping.items()}


async def _bump(conn: AsyncConnection) -> None:
    await conn.execute(update(keys_revision).where(keys_revision.c.id == 1).values(revision=keys_revision.c.revision + 1))
