"""Shared state in Redis: upstream quota counters (this module) and cooldowns (routing/cooldowns_redis.py)
for several workers and replicas.

Every Redis call goes through the process's `RedisLink` (lmgate/redis_link.py); while it is down,
callers use their local (in-process) backend. Counters kept locally during an outage are not copied into
Redis afterwards: the shared windows resume from what Redis holds.

`RedisQuotas` keeps the same sliding windows as `MemoryQuotas` (60 s for rpm/tpm, 24 h for rpd), as
sorted sets scored by time, checked and counted by one Lua script (one round trip, atomic across every
process). Time is Redis's own clock (`TIME`), so replicas with skewed clocks agree. Keys:

    lmgate:quota:<deployment>:rpm   requests in the last minute       (TTL 61 s after the last write)
    lmgate:quota:<deployment>:tpm   token amounts in the last minute  (TTL 61 s)
    lmgate:quota:<deployment>:rpd   requests in the last day          (TTL 24 h + 60 s)
    lmgate:quota:<deployment>:n     running token total and a member sequence (TTL 24 h + 60 s)

Nothing outlives its window by more than a minute. Redis Cluster is not supported (a standalone server,
or one behind Sentinel/a proxy, is).
"""

from __future__ import annotations

from collections.abc import Callable

from lmgate.limits.base import Quota, QuotaDenial, QuotaStore, QuotaUsage
from lmgate.limits.memory import MemoryQuotas
from lmgate.redis_link import RedisLink

__all__ = ["RedisLink", "RedisQuotas"]


# KEYS: rpm, tpm, rpd, n   ARGV: now (<0: Redis TIME), rpm limit, tpm limit, rpd limit (-1 = none)
# Returns {} when counted, else {limit, seconds until it frees (string: Lua numbers become integers)}.
_PRELUDE = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local MINUTE, DAY = 60, 86400
local function trim_tokens(tpm, n)
  if redis.call('EXISTS', tpm) == 0 then
    if redis.call('HEXISTS', n, 'tok') == 1 then redis.call('HSET', n, 'tok', 0) end
    return 0
  end
  local gone = redis.call('ZRANGEBYSCORE', tpm, '-inf', now - MINUTE)
  local total = tonumber(redis.call('HGET', n, 'tok') or '0')
  if #gone > 0 then
    for _, m in ipairs(gone) do
      total = total - tonumber(string.match(m, ':(%d+)$'))
    end
    redis.call('ZREMRANGEBYSCORE', tpm, '-inf', now - MINUTE)
    if redis.call('EXISTS', tpm) == 0 then total = 0 end
    redis.call('HSET', n, 'tok', total)
  end
  return total
end
local function frees_in(key, span)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if #first == 0 then return '0' end
  return tostring(math.max(0, tonumber(first[2]) + span - now))
end
local function member(n)
  return string.format('%.6f', now) .. ':' .. redis.call('HINCRBY', n, 'seq', 1)
end
"""

_ACQUIRE = (
    _PRELUDE
    + """
local rpm, tpm, rpd = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - MINUTE)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - DAY)
if rpm >= 0 and redis.call('ZCARD', KEYS[1]) >= rpm then return {'rpm', frees_in(KEYS[1], MINUTE)} end
if tpm >= 0 and trim_tokens(KEYS[2], KEYS[4]) >= tpm then return {'tpm', frees_in(KEYS[2], MINUTE)} end
if rpd >= 0 and redis.call('ZCARD', KEYS[3]) >= rpd then return {'rpd', frees_in(KEYS[3], DAY)} end
local m = member(KEYS[4])
redis.call('ZADD', KEYS[1], now, m)
redis.call('PEXPIRE', KEYS[1], (MINUTE + 1) * 1000)
if rpd >= 0 then
  redis.call('ZADD', KEYS[3], now, m)
  redis.call('PEXPIRE', KEYS[3], (DAY + 60) * 1000)
end
redis.call('PEXPIRE', KEYS[4], (DAY + 60) * 1000)
return {}
"""
)

# KEYS: tpm, n   ARGV: now, tokens
_ADD_TOKENS = (
    _PRELUDE
    + """
local total = trim_tokens(KEYS[1], KEYS[2]) + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, member(KEYS[2]) .. ':' .. ARGV[2])
redis.call('HSET', KEYS[2], 'tok', total)
redis.call('PEXPIRE', KEYS[1], (MINUTE + 1) * 1000)
redis.call('PEXPIRE', KEYS[2], (DAY + 60) * 1000)
return total
"""
)

# KEYS: rpm, tpm, rpd, n   ARGV: now
_USAGE = (
    _PRELUDE
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - MINUTE)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - DAY)
local tok = 0
if redis.call('EXISTS', KEYS[4]) == 1 then tok = trim_tokens(KEYS[2], KEYS[4]) end
return {redis.call('ZCARD', KEYS[1]), tok, redis.call('ZCARD', KEYS[3])}
"""
)


def quota_keys(key: str) -> list[str]:
    base = f"lmgate:quota:{key}:"
    return [base + "rpm", base + "tpm", base + "rpd", base + "n"]


def _limit(value: int | None) -> int:
    return -1 if value is None else value


class RedisQuotas(QuotaStore):
    """Quota counters shared by every process that uses the same Redis; local counters while it is down.

    `clock` is for tests only (fixed timestamps instead of Redis's clock).
    """

    shared = True

    def __init__(self, link: RedisLink, clock: Callable[[], float] | None = None, workers: int = 1) -> None:
        self.link = link
        self._clock = clock
        self._workers = workers
        self.local = MemoryQuotas(clock) if clock else MemoryQuotas()

    def _now(self) -> float:
        return self._clock() if self._clock else -1.0

    def _local_quota(self, quota: Quota) -> Quota:
        """While Redis is down each worker counts alone, so it gets its 1/N share."""
        return quota.split(self._workers)

    async def acquire(self, key: str, quota: Quota) -> QuotaDenial | None:
        args = [self._now(), _limit(quota.rpm), _limit(quota.tpm), _limit(quota.rpd)]
        ok, reply = await self.link.run(_ACQUIRE, quota_keys(key), args)
        if not ok:
            return await self.local.acquire(key, self._local_quota(quota))
        if not reply:
            return None
        limit, frees = reply
        return QuotaDenial(limit.decode() if isinstance(limit, bytes) else str(limit), float(frees))

    async def add_tokens(self, key: str, tokens: int) -> None:
        if tokens <= 0:
            return
        keys = quota_keys(key)
        ok, _ = await self.link.run(_ADD_TOKENS, [keys[1], keys[3]], [self._now(), tokens])
        if not ok:
            await self.local.add_tokens(key, tokens)

    async def usage(self, key: str) -> QuotaUsage:
        ok, reply = await self.link.run(_USAGE, quota_keys(key), [self._now()])
        if not ok or not reply:
            return await self.local.usage(key)
        return QuotaUsage(int(reply[0]), int(reply[1]), int(reply[2]))
