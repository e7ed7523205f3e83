"""The Redis connection of one process, shared by everything that keeps state in Redis: upstream quotas
(limits/redis.py), cooldowns (routing/cooldowns_redis.py) and what later shares it.

`RedisLink` owns the client and whether Redis is reachable. Every Redis call goes through it; when one
fails, the link is marked down, one error is logged, and callers use their local (in-process) backend
until a background PING every `PROBE_S` seconds succeeds again (one "reachable again" line is logged).
While the link is down no request waits on Redis at all. redis-py is imported only when this module is,
which happens only when a Redis is configured.
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
from redis.exceptions import RedisError

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
        self._scripts.clear()
        try:
            await self.client.ping()
        except FAILURES as exc:
            self.failed(exc)
            return
        self._up()

    async def close(self) -> None:
        for task in [*self._tasks, *([self._probe] if self._probe else [])]:
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
        """(True, reply) from a Lua script (EVALSHA, loaded on first use and after a Redis restart), or
        (False, None) when Redis is down or the call failed (then the link goes down)."""
        client = self.client
        if not self.ok or client is None:
            return False, None
        compiled = self._scripts.get(script)
        if compiled is None:
            compiled = self._scripts[script] = client.register_script(script)
        try:
            return True, await compiled(keys=keys, args=args)
        except FAILURES as exc:
            self.failed(exc)
            return False, None

    def failed(self, exc: BaseException) -> None:
        self.ok = False
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
