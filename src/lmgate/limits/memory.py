"""In-process quota counters over sliding windows (the last 60 s, the last 24 h).

Sliding windows are the conservative reading of an upstream's quota: whether the upstream counts in
fixed or rolling windows, lmgate never sends more than the limit within any window, so it never earns
the 429. Memory per key is bounded by the limits themselves (one timestamp per counted request).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from lmgate.limits.base import Quota, QuotaDenial, QuotaStore, QuotaUsage

MINUTE = 60.0
DAY = 86400.0


@dataclass(slots=True)
class _Window:
    """Timestamped amounts inside the last `span` seconds."""

    span: float
    events: deque[tuple[float, int]] = field(default_factory=deque)
    total: int = 0

    def trim(self, now: float) -> None:
        events = self.events
        while events and now - events[0][0] >= self.span:
            self.total -= events.popleft()[1]

    def add(self, now: float, amount: int) -> None:
        self.events.append((now, amount))
        self.total += amount

    def frees_in(self, now: float) -> float:
        """Seconds until the oldest amount leaves the window."""
        return max(0.0, self.events[0][0] + self.span - now) if self.events else 0.0


@dataclass(slots=True)
class _Counters:
    requests_minute: _Window = field(default_factory=lambda: _Window(MINUTE))
    tokens_minute: _Window = field(default_factory=lambda: _Window(MINUTE))
    requests_day: _Window = field(default_factory=lambda: _Window(DAY))

    def trim(self, now: float) -> None:
        self.requests_minute.trim(now)
        self.tokens_minute.trim(now)
        self.requests_day.trim(now)


class MemoryQuotas(QuotaStore):
    """Counters in a dict; correct for one process (several workers each count their own share)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counters: dict[str, _Counters] = {}

    def _get(self, key: str) -> tuple[_Counters, float]:
        now = self._clock()
        c = self._counters.get(key)
        if c is None:
            c = self._counters[key] = _Counters()
        c.trim(now)
        return c, now

    async def acquire(self, key: str, quota: Quota) -> QuotaDenial | None:
        denial = self.check(key, quota)
        if denial is None:
            self.count(key, quota)
        return denial

    def check(self, key: str, quota: Quota) -> QuotaDenial | None:
        """Which limit `key` is at (None: room for one more request); counts nothing. With `count`, for
        callers that check several keys before counting any (key limits: key, team, key and model)."""
        c, now = self._get(key)
        if quota.rpm is not None and c.requests_minute.total >= quota.rpm:
            return QuotaDenial("rpm", c.requests_minute.frees_in(now))
        if quota.tpm is not None and c.tokens_minute.total >= quota.tpm:
            return QuotaDenial("tpm", c.tokens_minute.frees_in(now))
        if quota.rpd is not None and c.requests_day.total >= quota.rpd:
            return QuotaDenial("rpd", c.requests_day.frees_in(now))
        return None

    def count(self, key: str, quota: Quota) -> QuotaUsage:
        """Count one request (after `check`); the usage with it counted."""
        c, now = self._get(key)
        c.requests_minute.add(now, 1)
        if quota.rpd is not None:
            c.requests_day.add(now, 1)
        return QuotaUsage(c.requests_minute.total, c.tokens_minute.total, c.requests_day.total)

    async def add_tokens(self, key: str, tokens: int) -> None:
        self.add_tokens_now(key, tokens)

    def add_tokens_now(self, key: str, tokens: int) -> None:
        """`add_tokens` without a coroutine (the key limits' settlement calls it on every request)."""
        if tokens > 0:
            c, now = self._get(key)
            c.tokens_minute.add(now, tokens)

    async def usage(self, key: str) -> QuotaUsage:
        if key not in self._counters:
            return QuotaUsage()
        c, _ = self._get(key)
        return QuotaUsage(c.requests_minute.total, c.tokens_minute.total, c.requests_day.total)
