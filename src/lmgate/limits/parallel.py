"""Concurrency limits per deployment: `litellm_params.max_parallel_requests` (default
`router_settings.default_max_parallel_requests`). A deployment at its limit is skipped before anything
is sent, like one over its quota.

`MemoryParallel` counts this process's requests in flight (with `--workers N` each worker gets 1/N of
the limit, as with quotas); `RedisParallel` (limits/parallel_redis.py, when router_settings names a
Redis) counts every worker's and replica's exactly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

LOCAL = "local"  # the token of a slot counted in this process


class ParallelStore(ABC):
    """Slots per key (a deployment name). `shared` stores count for every process at once."""

    shared: bool = False

    @abstractmethod
    async def acquire(self, key: str, limit: int, lease_s: float) -> str | None:
        """Take a slot: a token for `release`, or None when `limit` requests are in flight. A slot not
        released within `lease_s` seconds (a process that died mid-request) frees itself."""

    @abstractmethod
    async def release(self, key: str, token: str) -> None:
        """Give a slot back (idempotent per token)."""


class MemoryParallel(ParallelStore):
    def __init__(self) -> None:
        self.in_flight: dict[str, int] = {}

    async def acquire(self, key: str, limit: int, lease_s: float) -> str | None:
        n = self.in_flight.get(key, 0)
        if n >= limit:
            return None
        self.in_flight[key] = n + 1
        return LOCAL

    async def release(self, key: str, token: str) -> None:
        n = self.in_flight.get(key, 0)
        if n > 0:
            self.in_flight[key] = n - 1
