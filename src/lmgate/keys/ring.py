"""The keys of one gateway process: every key's Principal in memory, kept current with the database.

The request path reads `principals` (hash -> Principal) and never waits on the database for a key it
knows. A hash it does not know is looked up once (a key made a moment ago on another replica works at
once) and, when the database has no such key, remembered as unknown for `UNKNOWN_S` seconds, so a
client retrying a wrong key costs one query per few seconds, not one per request. (A new key has a hash
nobody has sent before, so remembering misses never delays one.)

Changes reach every worker and replica in two ways:
- every write bumps a revision counter in the database; each process reads it every `POLL_S` seconds
  (one one-row query) and reloads every key and team when it moved;
- with Redis configured (router_settings), the writer also publishes on `CHANNEL` and every process
  reloads at once; the revision is then polled only every `POLL_WITH_REDIS_S` seconds, as a safety net.
Without a database file yet (the default SQLite file appears with the first key) nothing is queried;
the file is looked for every `POLL_S` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmgate.keys.model import Principal, principal
from lmgate.keys.paths import database_url, default_file

if TYPE_CHECKING:
    from lmgate.config.runtime import RuntimeConfig
    from lmgate.keys.service import KeyAdmin
    from lmgate.keys.store import KeyStore
    from lmgate.redis_link import RedisLink

Row = dict[str, Any]
log = logging.getLogger("lmgate.keys")
_sha256 = hashlib.sha256
CHANNEL = "lmgate:keys"
POLL_S = 0.5
POLL_WITH_REDIS_S = 5.0
UNKNOWN_S = 5.0
MAX_UNKNOWN = 10_000
MAX_REMEMBERED = 10_000


class KeyRing:
    def __init__(self, config: RuntimeConfig, state_dir: Path) -> None:
        self.url = database_url(config, state_dir)
        self.default_file = default_file(config, state_dir)
        self._store: KeyStore | None = None  # SQLAlchemy is imported when a key database exists
        self._admin: KeyAdmin | None = None
        self.principals: dict[str, Principal] = {}
        # key as sent -> Principal, for keys that authenticated since the last reload: skips the
        # sha256 (a few microseconds) on the next request. Process memory only; replaced on reload.
        self.remembered: dict[str, Principal] = {}
        self.revision = -1
        self.unknown: dict[str, float] = {}  # hash -> until when it is known not to exist
        self.opened = False
        self.redis: RedisLink | None = None
        self.listening = False
        self._tasks: list[asyncio.Task[None]] = []
        self._failing = False  # the "database unreachable" warning was logged
        self._open_lock = asyncio.Lock()

    # ---- lifecycle ----------------------------------------------------------------------------------

    @property
    def store(self) -> KeyStore:
        if self._store is None:
            from lmgate.keys.store import KeyStore

            self._store = KeyStore(self.url)
        return self._store

    @property
    def admin(self) -> KeyAdmin:
        if self._admin is None:
            from lmgate.keys.service import KeyAdmin

            self._admin = KeyAdmin(self.store)
        return self._admin

    @property
    def exists(self) -> bool:
        """False while the default SQLite file has not been made (checked without SQLAlchemy)."""
        return self.default_file.exists() if self.default_file is not None else self.store.exists

    async def start(self, redis: RedisLink | None) -> None:
        self.redis = redis
        if self.exists:
            try:
                await self.open()
            except Exception as exc:  # the master key keeps working; the poll retries
                self._warn(exc)
        self._tasks.append(asyncio.create_task(self._poll(), name="lmgate-keys-poll"))
        if redis is not None:
            self._tasks.append(asyncio.create_task(self._listen(redis), name="lmgate-keys-listen"))

    async def open(self) -> None:
        """Migrate (creating the default SQLite file) and load every key; idempotent."""
        async with self._open_lock:
            if not self.opened:
                await self.store.migrate()
                await self.reload()
                self.opened = True

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._store is not None:
            await self._store.close()

    # ---- the cache ----------------------------------------------------------------------------------

    async def reload(self) -> None:
        revision, rows, teams = await self.store.snapshot()
        self.principals = {row["token"]: principal(row, _team_of(row, teams)) for row in rows}
        self.remembered = {}
        self.unknown = {}
        self.revision = revision

    async def resolve(self, key: str) -> Principal | None:
        """The Principal of a key that is not in `remembered` (None: no such key)."""
        remembered, principals = self.remembered, self.principals
        token = _sha256(key.encode()).hexdigest()
        found = principals.get(token) or await self.lookup(token)
        if found is not None and self.remembered is remembered and len(remembered) < MAX_REMEMBERED:
            remembered[key] = found  # not if a reload ran meanwhile: `found` may be older than it
        return found

    async def lookup(self, token: str) -> Principal | None:
        """A hash the cache does not hold: ask the database once, remember a miss for UNKNOWN_S."""
        now = time.monotonic()
        if self.unknown.get(token, 0.0) > now or not self.opened:
            return None
        principals = self.principals
        try:
            row = await self.store.key(token)
            team = await self.store.team(row["team_id"]) if row is not None and row.get("team_id") else None
        except Exception as exc:
            self._warn(exc)
            return None
        if row is None:
            if len(self.unknown) >= MAX_UNKNOWN:
                self.unknown.clear()
            self.unknown[token] = now + UNKNOWN_S
            return None
        found = principal(row, team)
        if self.principals is principals:  # no reload meanwhile (it may hold newer data)
            principals[token] = found
        return found

    async def changed(self) -> None:
        """This process wrote keys or teams: reload now and tell the others."""
        await self.reload()
        await publish(self.redis, self.revision)

    # ---- keeping current ----------------------------------------------------------------------------

    async def _poll(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(POLL_S)  # short steps: fast polling resumes at once when Redis goes away
            if self.listening and time.monotonic() - last < POLL_WITH_REDIS_S:
                continue
            last = time.monotonic()
            try:
                if not self.opened:
                    if self.exists:
                        await self.open()
                    continue
                if await self.store.revision() != self.revision:
                    await self.reload()
                if self._failing:
                    self._failing = False
                    log.warning("key store reachable again")
            except Exception as exc:
                self._warn(exc)

    async def _listen(self, redis: RedisLink) -> None:
        while True:
            try:
                if redis.client is None or not redis.ok:
                    await asyncio.sleep(1.0)
                    continue
                async with redis.client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self.listening = True
                    if self.opened:  # changes published while not listening
                        await self.reload()
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                        if message is not None and self.opened:
                            await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: fall back to fast polling until it is back
                if self.listening:
                    log.warning("key change notifications from Redis stopped (%s); polling the database", type(exc).__name__)
                self.listening = False
                await asyncio.sleep(1.0)

    def _warn(self, exc: BaseException) -> None:
        if not self._failing:
            self._failing = True
            log.warning("key store unreachable (%s: %s); serving keys as last loaded", type(exc).__name__, str(exc)[:200])


def _team_of(row: Row, teams: dict[str, Row]) -> Row | None:
    team_id = row.get("team_id")
    return teams.get(team_id) if team_id else None


async def publish(redis: RedisLink | None, revision: int) -> None:
    """Tell every process listening on Redis that keys changed (best effort: polling is the net)."""
    if redis is None or redis.client is None or not redis.ok:
        return
    try:
        await redis.client.publish(CHANNEL, str(revision))
    except Exception as exc:
        log.warning("could not publish a key change on Redis (%s); other gateways see it within %.0f s", type(exc).__name__, POLL_S)
