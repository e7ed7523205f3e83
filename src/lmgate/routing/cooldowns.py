"""Cooldowns: a deployment that failed too often (or in a way that will not heal by itself) is skipped
for a while. LiteLLM's rule: more than `allowed_fails` failures within a minute -> `cooldown_time` off.

`CooldownStore` is the interface: reads are synchronous (the router asks for every candidate of every
request, so they never wait on the network), writes are awaited. `MemoryCooldowns` keeps everything in
this process; `RedisCooldowns` (cooldowns_redis.py) shares failure counts and cooldowns between workers
and replicas.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable

FAIL_WINDOW_S = 60.0


class CooldownStore(ABC):
    """Failure counts over the last minute and cooldown deadlines, per deployment name."""

    @abstractmethod
    def remaining(self, name: str) -> float:
        """Seconds left in this deployment's cooldown; 0 when it may be used."""

    @abstractmethod
    def state(self, name: str) -> tuple[float, str] | None:
        """(seconds left, reason) while cooling down, else None."""

    @abstractmethod
    def recent_failures(self, name: str) -> int:
        """Failures counted in the last minute (for /health)."""

    @abstractmethod
    async def start(self, name: str, seconds: float, reason: str) -> None:
        """Cool `name` down for `seconds` (a longer running cooldown is kept)."""

    @abstractmethod
    async def failure(self, name: str, allowed_fails: int, seconds: float, reason: str) -> bool:
        """Count a failure; start a cooldown (and return True) when the minute's count exceeds the allowance."""

    def watch(self, names: Iterable[str]) -> None:  # noqa: B027 - optional hook
        """The deployment names the current config routes to (a shared store refreshes their counts)."""


class MemoryCooldowns(CooldownStore):
    """Failure counts and cooldown deadlines per deployment name, in this process (kept across reloads)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._fails: dict[str, deque[float]] = {}  # counted toward the next cooldown (reset when one starts)
        self._seen: dict[str, deque[float]] = {}  # every failure of the last minute, for /health (never reset)
        self._until: dict[str, tuple[float, str]] = {}

    def remaining(self, name: str) -> float:
        entry = self._until.get(name)
        if entry is None:
            return 0.0
        left = entry[0] - self._clock()
        if left <= 0:
            del self._until[name]
            return 0.0
        return left

    async def start(self, name: str, seconds: float, reason: str) -> None:
        self.start_now(name, seconds, reason)

    def start_now(self, name: str, seconds: float, reason: str) -> None:
        if seconds <= 0:
            return
        until = self._clock() + seconds
        current = self._until.get(name)
        if current is None or current[0] < until:
            self._until[name] = (until, reason)
        self._fails.pop(name, None)

    async def failure(self, name: str, allowed_fails: int, seconds: float, reason: str) -> bool:
        return self.failure_now(name, allowed_fails, seconds, reason)

    def failure_now(self, name: str, allowed_fails: int, seconds: float, reason: str) -> bool:
        now = self.note_failure(name)
        fails = _window(self._fails, name, now)
        fails.append(now)
        if len(fails) > allowed_fails:
            self.start_now(name, seconds, reason)
            return True
        return False

    def note_failure(self, name: str) -> float:
        """Count a failure for /health only (the failure that starts a cooldown included); returns now."""
        now = self._clock()
        _window(self._seen, name, now).append(now)
        return now

    def recent_failures(self, name: str) -> int:
        now = self._clock()
        return sum(1 for t in self._seen.get(name, ()) if now - t <= FAIL_WINDOW_S)

    def state(self, name: str) -> tuple[float, str] | None:
        left = self.remaining(name)
        return (left, self._until[name][1]) if left > 0 else None


def _window(times: dict[str, deque[float]], name: str, now: float) -> deque[float]:
    """`name`'s failure times with those older than the window dropped."""
    found = times.get(name)
    if found is None:
        found = times[name] = deque()
    while found and now - found[0] > FAIL_WINDOW_S:
        found.popleft()
    return found


Cooldowns = MemoryCooldowns  # the name earlier code and tests use
