"""In-process quota counters: fixed one-minute and one-UTC-day windows, O(1) per request."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from lmgate.limits.base import Quota, QuotaDenial, QuotaStore, QuotaUsage

MINUTE = 60.0
DAY = 86400.0


@dataclass(slots=True)
class _Counters:
    minute: int = -1
    requests_minute: int = 0
    tokens_minute: int = 0
    day: int = -1
    requests_day: int = 0

    def roll(self, now: float) -> None:
        minute, day = int(now // MINUTE), int(now // DAY)
        if minute != self.minute:
            self.minute, self.requests_minute, self.tokens_minute = minute, 0, 0
        if day != self.day:
            self.day, self.requests_day = day, 0


class MemoryQuotas(QuotaStore):
    """Counters in a dict; correct for one process (several workers each count their own share)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counters: dict[str, _Counters] = {}

    def _get(self, key: str) -> tuple[_Counters, float]:
        now = self._clock()
        c = self._counters.get(key)
        if c is None:
            c = self._counters[key] = _Counters()
        c.roll(now)
        return c, now

    async def acquire(self, key: str, quota: Quota) -> QuotaDenial | None:
        c, now = self._get(key)
        to_minute = MINUTE - now % MINUTE
        if quota.rpm is not None and c.requests_minute >= quota.rpm:
            return QuotaDenial("rpm", to_minute)
        if quota.tpm is not None and c.tokens_minute >= quota.tpm:
            return QuotaDenial("tpm", to_minute)
        if quota.rpd is not None and c.requests_day >= quota.rpd:
            return QuotaDenial("rpd", DAY - now % DAY)
        c.requests_minute += 1
        c.requests_day += 1
        return None

    async def add_tokens(self, key: str, tokens: int) -> None:
        if tokens > 0:
            c, _ = self._get(key)
            c.tokens_minute += tokens

    async def usage(self, key: str) -> QuotaUsage:
        if key not in self._counters:
            return QuotaUsage()
        c, _ = self._get(key)
        return QuotaUsage(c.requests_minute, c.tokens_minute, c.requests_day)
