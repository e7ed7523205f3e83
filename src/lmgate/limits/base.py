"""The quota interface: check-and-count a request before it is sent, add tokens after it answered."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


def share(limit: int | None, workers: int) -> int | None:
    """Each of N processes counting on its own may use 1/N of an upstream quota (at least 1)."""
    return None if limit is None else max(1, limit // workers) if workers > 1 else limit


@dataclass(frozen=True, slots=True)
class Quota:
    """Limits for one key (a deployment name). None means unlimited."""

    rpm: int | None = None  # requests per minute
    tpm: int | None = None  # tokens per minute
    rpd: int | None = None  # requests per day

    def __bool__(self) -> bool:
        return self.rpm is not None or self.tpm is not None or self.rpd is not None

    def split(self, workers: int) -> Quota:
        """This process's share when `workers` processes count on their own."""
        if workers <= 1:
            return self
        return Quota(share(self.rpm, workers), share(self.tpm, workers), share(self.rpd, workers))


@dataclass(frozen=True, slots=True)
class QuotaDenial:
    """Why a request may not be sent now: which limit, and seconds until its window resets."""

    limit: str  # "rpm" | "tpm" | "rpd"
    retry_after: float


@dataclass(frozen=True, slots=True)
class QuotaUsage:
    requests_minute: int = 0
    tokens_minute: int = 0
    requests_day: int = 0


class QuotaStore(ABC):
    """Counters per key over the last minute and the last day.

    `shared` stores count for every worker and replica at once, so each process may use the whole
    quota; a store that is not shared is given 1/N of it under `--workers N` (see Router).
    """

    shared: bool = False

    @abstractmethod
    async def acquire(self, key: str, quota: Quota) -> QuotaDenial | None:
        """Count one request for `key` and return None, or count nothing and say which limit is used up."""

    @abstractmethod
    async def add_tokens(self, key: str, tokens: int) -> None:
        """Record tokens an answered request used (counts toward tpm)."""

    @abstractmethod
    async def usage(self, key: str) -> QuotaUsage:
        """Current counts for `key` (for /health and usage-based routing)."""
