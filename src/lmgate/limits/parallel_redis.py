"""`max_parallel_requests` counted in Redis: exact across workers and replicas.

One sorted set per deployment, `lmgate:parallel:<deployment>`, whose members are the slots in use,
scored by when their lease ends (Redis's clock). Taking a slot drops expired leases, checks the count
and adds one, in one Lua script (atomic, one round trip); giving it back removes the member. A process
that dies mid-request leaves a slot that frees itself when its lease ends (the deployment's timeout plus
a minute). While Redis is down each process counts its own slots with 1/N of the limit, as quotas do.
"""

from __future__ import annotations

from lmgate.limits.base import share
from lmgate.limits.parallel import LOCAL, MemoryParallel, ParallelStore
from lmgate.redis_link import RedisLink

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return false end
local member = string.format('%.6f', now) .. ':' .. redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), member)
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000))
redis.call('PEXPIRE', KEYS[2], math.ceil(tonumber(ARGV[2]) * 1000))
return member
"""
_RELEASE = "return redis.call('ZREM', KEYS[1], ARGV[1])"


def parallel_keys(key: str) -> list[str]:
    base = f"lmgate:parallel:{key}"
    return [base, base + ":seq"]


class RedisParallel(ParallelStore):
    shared = True

    def __init__(self, link: RedisLink, workers: int = 1) -> None:
        self.link = link
        self._workers = workers
        self.local = MemoryParallel()

    async def acquire(self, key: str, limit: int, lease_s: float) -> str | None:
        ok, reply = await self.link.run(_ACQUIRE, parallel_keys(key), [limit, lease_s])
        if not ok:
            return await self.local.acquire(key, share(limit, self._workers) or 1, lease_s)
        if not reply:
            return None
        return reply.decode() if isinstance(reply, bytes) else str(reply)

    async def release(self, key: str, token: str) -> None:
        if token == LOCAL:
            await self.local.release(key, token)
            return
        await self.link.run(_RELEASE, parallel_keys(key)[:1], [token])
