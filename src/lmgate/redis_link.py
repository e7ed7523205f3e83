"""The Redis connection of one process, shared by everything that keeps state in Redis: upstream quotas
(limits/redis.py), cooldowns (routing/cooldowns_redis.py) and what later shares it.

`RedisLink` owns the client and whether Redis is reachable. Every Redis call goes through it; when one
fails, the link is marked down, one error is logged, and callers use their local (in-process) backend
until a background PING every `PROBE_S` seconds succeeds again (one "reachable again" line is logged).
While the link is down no request waits on Redis at all. redis-py is imported only when this module is,
which happens only when a Redis is configured.

Scripts (`run`, and `run_soon` for callers that need not wait for the reply) go over one pipelined
connection of this process (redis_wire.py: EVALSHA sent directly, EVAL once per script and connection, hiredis
parsing, one watchdog instead of a timeout per call); everything else, and scripts over TLS, use the
redis-py client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError

from lmgate.redis_wire import Wire, pack, sha1

log = logging.getLogger("lmgate.redis")
PROBE_S = 1.0  # while Redis is down, how often to try it again
TIMEOUT_S = 0.5  # connect and command timeout: a hung Redis costs one request at most this much
FAILURES = (RedisError, OSError, asyncio.TimeoutError)


class RedisLink:
    """The Redis client of one process and its reachability (created at start-up, closed at shutdown)."""

    def __init__(self, settings: dict[str, Any], probe_s: float = PROBE_S) -> None:
        self.settings = settings
        self.probe_s = probe_s
        self.client: aioredis.Redis | None = None
        self.ok = False
        self.error: str | None = "not connected yet"
        self.down_since: float | None = None
        self.outages = 0  # how many times it went down (callers warn once per outage)
        self._announced = False  # the "unreachable" error was logged and "reachable again" is owed
        self._scripts: dict[str, AsyncScript] = {}
        self._shas: dict[str, bytes] = {}
        self._wire: Wire | None = None
        self._wire_opening: asyncio.Task[Wire] | None = None
        self._soon: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._probe: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def where(self) -> str:
        s = self.settings
        if "url" in s:
            url = str(s["url"])
            return url.rsplit("@", 1)[-1] if "@" in url else url.split("://", 1)[-1]
        return f"{s.get('host')}:{s.get('port') or 6379}"

    def _make_client(self) -> aioredis.Redis:
        common: dict[str, Any] = {
            "socket_connect_timeout": TIMEOUT_S,
            "socket_timeout": TIMEOUT_S,
            "retry": Retry(NoBackoff(), 1),  # one new connection after a Redis restart, no waiting
        }
        s = self.settings
        if "url" in s:
            return aioredis.Redis.from_url(str(s["url"]), **common)
        return aioredis.Redis(host=s["host"], port=int(s.get("port") or 6379), password=s.get("password"), **common)

    async def open(self) -> None:
        """Create the client and try it once; an unreachable Redis does not stop start-up."""
        self.client = self._make_client()
        self._closing = False
        self._scripts.clear()
        try:
            await self.client.ping()
        except FAILURES as exc:
            self.failed(exc)
            return
        self._up()

    async def close(self) -> None:
        self.ok, self._closing = False, True  # what fails from here on is not an outage
        self._close_wire()
        for task in [*self._tasks, *self._soon, *([self._probe] if self._probe else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._probe = None
        if self.client is not None:
            await self.client.aclose()
            self.client = None
        self.ok = False

    def every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        """Run `job` every `seconds` while Redis is reachable (e.g. the cooldown refresh)."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                if self.ok:
                    try:
                        await job()
                    except Exception:  # a bug in one refresh must not end the refreshing
                        log.exception("shared-state refresh failed")

        self._tasks.append(asyncio.create_task(loop()))

    async def run(self, script: str, keys: list[str], args: list[Any]) -> tuple[bool, Any]:
        """(True, reply) from a Lua script, or (False, None) when Redis is down or the call failed (then
        the link goes down)."""
        client = self.client
        if not self.ok or client is None:
            return False, None
        try:
            wire = self._wire if self._wire is not None and not self._wire.closed else await self._open_wire()
            if wire is None:
                return True, await self._via_client(client, script, keys, args)
            try:
                return True, await wire.script(script, self._sha(script), keys, args)
            except NoScriptError:  # the scripts were flushed: send it whole again
                return True, await wire.send(pack(b"EVAL", script, len(keys), *keys, *args))
        except FAILURES as exc:
            self.failed(exc)
            return False, None

    def run_soon(self, script: str, keys: list[str], args: list[Any], done: Callable[[Any], None] | None = None) -> None:
        """`run` without waiting: the command is on its way when this returns (so a later call of this
        process is answered after it); `done(reply)` runs when the reply arrives (not when it failed)."""
        if not self.ok or self.client is None:
            return
        wire = self._wire
        if wire is None or wire.closed:
            task = asyncio.ensure_future(self.run(script, keys, args))
            self._soon.add(task)

            def finished(t: asyncio.Task[tuple[bool, Any]]) -> None:
                self._soon.discard(t)
                ok, reply = t.result() if not t.cancelled() else (False, None)
                if ok and done is not None:
                    done(reply)

            task.add_done_callback(finished)
            return
        sha = self._sha(script)
        fut = wire.script(script, sha, keys, args)

        def replied(f: asyncio.Future[Any]) -> None:
            exc = f.exception()
            if isinstance(exc, NoScriptError):  # flushed: send it whole next time
                wire.loaded.discard(sha)
                self.run_soon(script, keys, args, done)
            elif exc is not None:
                if isinstance(exc, FAILURES):
                    self.failed(exc)
            elif done is not None:
                done(f.result())

        fut.add_done_callback(replied)

    def _sha(self, script: str) -> bytes:
        sha = self._shas.get(script)
        if sha is None:
            sha = self._shas[script] = sha1(script).encode()
        return sha

    async def _via_client(self, client: aioredis.Redis, script: str, keys: list[str], args: list[Any]) -> Any:
        compiled = self._scripts.get(script)
        if compiled is None:
            compiled = self._scripts[script] = client.register_script(script)
        return await compiled(keys=keys, args=args)

    async def _open_wire(self) -> Wire | None:
        """The script connection, opened by the first caller that needs it (None: TLS, use redis-py)."""
        assert self.client is not None
        pool = self.client.connection_pool
        if "SSL" in pool.connection_class.__name__:
            return None
        if self._wire_opening is None or self._wire_opening.done():
            self._wire_opening = asyncio.ensure_future(Wire.open(pool.connection_kwargs, TIMEOUT_S))
        wire = await asyncio.shield(self._wire_opening)
        self._wire = wire
        return wire

    def _close_wire(self) -> None:
        if self._wire is not None:
            self._wire.close()
            self._wire = None

    def failed(self, exc: BaseException) -> None:
        self.ok = False
        self._close_wire()
        if self._closing:
            return
        self.error = f"{type(exc).__name__}: {exc}"[:300]
        if not self._announced:
            self._announced = True
            self.outages += 1
            self.down_since = time.time()
            log.error(
                "Redis at %s is unreachable (%s): upstream quotas and cooldowns fall back to this process's own "
                "counters (rpm/tpm/rpd split between workers) until it returns; trying again every %g s",
                self.where,
                self.error,
                self.probe_s,
            )
        if self.client is not None and (self._probe is None or self._probe.done()):
            self._probe = asyncio.create_task(self._probing())

    def _up(self) -> None:
        self.ok, self.error, self.down_since = True, None, None
        if self._announced:
            self._announced = False
            log.warning("Redis at %s is reachable again: upstream quotas and cooldowns are shared again", self.where)

    async def _probing(self) -> None:
        while not self.ok and self.client is not None:
            await asyncio.sleep(self.probe_s)
            try:
                await self.client.ping()
            except FAILURES as exc:
                self.error = f"{type(exc).__name__}: {exc}"[:300]
                continue
            self._up()

    def status(self) -> dict[str, Any]:
        """For /health/readiness (readiness stays 200 either way: requests are served from local counters)."""
        since = self.down_since
        return {
            "backend": "redis",
            "redis": self.where,
            "connected": self.ok,
            "fallback": None if self.ok else "local counters in each process (quotas split between workers)",
            "error": self.error,
            "down_since": None if since is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since)),
        }
