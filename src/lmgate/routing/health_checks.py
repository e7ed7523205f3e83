"""Active health checks (`general_settings.background_health_checks`, `health_check_interval`).

Each upstream is probed with its model listing (the provider's `health_check_url`: Ollama's /api/tags,
an OpenAI-compatible /models), never a completion, outside the router: probes are not counted toward
any quota, request count or failure allowance. Deployments that share a listing URL and headers (several
aliases on one Ollama instance) share one probe. The probes of one round are spread evenly over the
interval, each in its own task, so one dead host's connect timeout delays no other probe.

A probe that cannot connect, times out or gets a 5xx puts the target's deployments in a cooldown with
reason `health-check <outcome>` lasting until just after the next probe, so user requests skip them
before paying a connect timeout; with Redis the cooldown is shared like any other. A probe that gets an
answer below 500 (401 and 429 included: the host is up) ends such a cooldown at once — never one that
request failures started. One checker per process, run from the app's lifespan; it follows reloads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import aiohttp

from lmgate.providers.http import transport_error

if TYPE_CHECKING:
    from lmgate.config.runtime import RuntimeConfig
    from lmgate.core import Deployment
    from lmgate.providers.http import UpstreamPool
    from lmgate.routing.router import Router

log = logging.getLogger("lmgate.health")
REASON = "health-check"
DEFAULT_INTERVAL_S = 300.0  # LiteLLM's default health_check_interval
MAX_PROBE_S = 10.0  # a listing slower than this counts as a timeout
IDLE_S = 1.0  # how often to look again while health checks are off (a reload may switch them on)
READ_LIMIT = 1 << 20  # read at most this much of a listing (enough to keep the connection reusable)
Key = tuple[str, tuple[tuple[str, str], ...]]  # listing URL, headers


def interval_of(config: RuntimeConfig) -> float | None:
    """Seconds per round of probes, or None when background health checks are off."""
    gs = config.file.general_settings
    if not gs.background_health_checks:
        return None
    return gs.health_check_interval or DEFAULT_INTERVAL_S


@dataclass(slots=True, frozen=True)
class Target:
    """One probe: a listing URL, the headers to send, and the deployments its answer speaks for."""

    url: str
    headers: tuple[tuple[str, str], ...]
    deployments: tuple[Deployment, ...]

    @property
    def key(self) -> Key:
        return self.url, self.headers


def targets(deployments: Iterable[Deployment]) -> list[Target]:
    """One probe per distinct listing URL and headers, in config order."""
    grouped: dict[Key, list[Deployment]] = {}
    for d in deployments:
        url = d.adapter.health_check_url(d) if d.adapter.needs_network else None
        if url:
            grouped.setdefault((url, tuple(sorted(d.headers.items()))), []).append(d)
    return [Target(url, headers, tuple(deps)) for (url, headers), deps in grouped.items()]


@dataclass(slots=True, frozen=True)
class ProbeResult:
    up: bool
    detail: str  # the HTTP status, or unreachable / timeout / ...
    at: float  # unix time
    seconds: float

    def describe(self) -> dict[str, Any]:
        """The /health form."""
        return {
            "up": self.up,
            "detail": self.detail,
            "checked_at": datetime.fromtimestamp(self.at, UTC).isoformat(timespec="seconds"),
            "latency_ms": round(self.seconds * 1000, 1),
        }


async def probe(pool: UpstreamPool, target: Target) -> ProbeResult:
    """GET the target's listing once; up unless it cannot be reached or answers 5xx."""
    d = target.deployments[0]
    timeout = aiohttp.ClientTimeout(total=min(d.timeout, MAX_PROBE_S), sock_connect=d.connect_timeout)
    started = time.perf_counter()
    at = time.time()
    try:
        async with pool.session(d.api_base).get(target.url, headers=dict(target.headers), timeout=timeout) as resp:
            await resp.content.read(READ_LIMIT)
            status = resp.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        return ProbeResult(False, transport_error(exc, d, "to the health check").outcome, at, time.perf_counter() - started)
    return ProbeResult(status < 500, str(status), at, time.perf_counter() - started)


class HealthChecker:
    """Probes every target once per interval and marks the deployments of dead ones (see the module doc).

    `current` gives the router and pool in use now (they change on reload)."""

    def __init__(self, current: Callable[[], tuple[Router, UpstreamPool]]) -> None:
        self._current = current
        self.results: dict[str, ProbeResult] = {}  # deployment name -> its latest probe
        self._running: dict[Key, asyncio.Task[None]] = {}  # target -> its probe in flight
        self._down: set[Key] = set()  # targets last seen down (for one log line per change)

    async def run(self) -> None:
        while True:
            router, _ = self._current()
            config = router.config
            interval = interval_of(config)
            found = targets(config.deployments) if interval else []
            if interval is None or not found:
                await asyncio.sleep(IDLE_S)
                continue
            step = interval / len(found)
            for target in found:
                if target.key not in self._running:
                    task = asyncio.create_task(self._check(target, interval))
                    self._running[target.key] = task
                    task.add_done_callback(partial(self._finished, target.key))
                await asyncio.sleep(step)
                if self._current()[0].config is not config:
                    break  # reloaded: start a round over the new config's targets

    def _finished(self, key: Key, _task: asyncio.Task[None]) -> None:
        self._running.pop(key, None)

    async def close(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _check(self, target: Target, interval: float) -> None:
        try:
            await self._probe_and_mark(target, interval)
        except Exception:  # a checker must outlive any one probe's surprise
            log.exception("health check of %s failed", ", ".join(d.name for d in target.deployments))

    async def _probe_and_mark(self, target: Target, interval: float) -> None:
        result = await probe(self._current()[1], target)
        cooldowns = self._current()[0].state.cooldowns
        for d in target.deployments:
            self.results[d.name] = result
            if not result.up:
                # until just after the next probe of this target, so a dead host stays skipped between them
                await cooldowns.start(d.name, interval + MAX_PROBE_S + 1, f"{REASON} {result.detail}")
            else:
                cooling = cooldowns.state(d.name)
                if cooling is not None and cooling[1].startswith(REASON):
                    await cooldowns.end(d.name, REASON)
        self._log_change(target, result)

    def _log_change(self, target: Target, result: ProbeResult) -> None:
        names = ", ".join(d.name for d in target.deployments)
        if not result.up and target.key not in self._down:
            self._down.add(target.key)
            log.warning("health check: %s down (%s); skipped until a probe sees it up", names, result.detail)
        elif result.up and target.key in self._down:
            self._down.discard(target.key)
            log.info("health check: %s up again", names)
