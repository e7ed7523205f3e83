"""Key counters in Redis: one Lua script per admission and one per settlement, each one round trip and
atomic across every worker and replica (see limits/keys.py for what they count). The settlement is
sent without waiting for its reply (RedisLink.run_soon).

While Redis is unreachable the caller (keys/limits.py) counts rates in this process with 1/N of each
limit (N = workers) and refuses paid candidates for keys with a money budget: a budget nobody can
check across replicas is not spent N times over.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lmgate.limits.keys import Admission, Denial, budget_key, quota_scope
from lmgate.limits.plan import Budget, Rate
from lmgate.limits.redis import _PRELUDE
from lmgate.redis_link import RedisLink

NO_LIMIT = 1e15  # USD: a budget with only a soft_budget (Lua reads no "inf")

# KEYS: per rate (rpm, tpm, n, par), then one budget hash per budget
# ARGV: now(-1), #rates, #budgets, lease s, hold, then per rate (rpm, tpm, par; -1 = none),
#       then per budget (limit, seed, ttl ms)
# -> {'deny', rate index, limit, seconds until it frees, allowed}
#  | {'ok', may pay (1/0), failing budget index (0 none), requests, tokens, spent per budget..., slot per rate...}
_ADMIT = (
    _PRELUDE
    + """
local nr, nb = tonumber(ARGV[2]), tonumber(ARGV[3])
local lease, hold = tonumber(ARGV[4]), tonumber(ARGV[5])
local tok = 0
for i = 1, nr do
  local k, a = (i - 1) * 4, 5 + (i - 1) * 3
  local rpm, tpm, par = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  redis.call('ZREMRANGEBYSCORE', KEYS[k + 1], '-inf', now - MINUTE)
  if rpm >= 0 and redis.call('ZCARD', KEYS[k + 1]) >= rpm then return {'deny', i, 'rpm', frees_in(KEYS[k + 1], MINUTE), rpm} end
  if tpm >= 0 then
    local t = trim_tokens(KEYS[k + 2], KEYS[k + 3])
    if i == 1 then tok = t end
    if t >= tpm then return {'deny', i, 'tpm', frees_in(KEYS[k + 2], MINUTE), tpm} end
  end
  if par >= 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 4], '-inf', now)
    if redis.call('ZCARD', KEYS[k + 4]) >= par then return {'deny', i, 'parallel', '1', par} end
  end
end
local slots = {}
local requests = 0
for i = 1, nr do
  local k, a = (i - 1) * 4, 5 + (i - 1) * 3
  local m = member(KEYS[k + 3])
  redis.call('ZADD', KEYS[k + 1], now, m)
  redis.call('PEXPIRE', KEYS[k + 1], (MINUTE + 1) * 1000)
  redis.call('PEXPIRE', KEYS[k + 3], (DAY + 60) * 1000)
  if i == 1 then requests = redis.call('ZCARD', KEYS[k + 1]) end
  slots[i] = ''
  if tonumber(ARGV[a + 3]) >= 0 then
    redis.call('ZADD', KEYS[k + 4], now + lease, m)
    redis.call('PEXPIRE', KEYS[k + 4], math.ceil(lease * 1000))
    slots[i] = m
  end
end
local base, b0 = nr * 4, 5 + nr * 3
local pay, failing = 1, 0
local spent = {}
for j = 1, nb do
  local key, a = KEYS[base + j], b0 + (j - 1) * 3
  if redis.call('EXISTS', key) == 0 then redis.call('HSET', key, 'spent', ARGV[a + 2], 'held', '0') end
  redis.call('PEXPIRE', key, ARGV[a + 3])
  local v = redis.call('HMGET', key, 'spent', 'held')
  local s, h = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  spent[j] = tostring(s)
  if pay == 1 and s + h + hold > tonumber(ARGV[a + 1]) then pay, failing = 0, j end
end
if pay == 1 and hold > 0 then
  for j = 1, nb do redis.call('HINCRBYFLOAT', KEYS[base + j], 'held', ARGV[5]) end
end
local out = {'ok', pay, failing, requests, tok}
for j = 1, nb do out[#out + 1] = spent[j] end
for i = 1, nr do out[#out + 1] = slots[i] end
return out
"""
)

# KEYS: per rate (tpm, n, par), then the budget hashes
# ARGV: now(-1), #rates, #budgets, tokens, held, cost, then per rate (count tokens 1/0, slot or '')
# -> spent per budget after the cost ('-1' when the counter expired meanwhile)
_SETTLE = (
    _PRELUDE
    + """
local nr, nb = tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens, held = tonumber(ARGV[4]), tonumber(ARGV[5])
for i = 1, nr do
  local k, a = (i - 1) * 3, 6 + (i - 1) * 2
  if ARGV[a + 1] == '1' and tokens > 0 then
    local total = trim_tokens(KEYS[k + 1], KEYS[k + 2]) + tokens
    redis.call('ZADD', KEYS[k + 1], now, member(KEYS[k + 2]) .. ':' .. ARGV[4])
    redis.call('HSET', KEYS[k + 2], 'tok', total)
    redis.call('PEXPIRE', KEYS[k + 1], (MINUTE + 1) * 1000)
    redis.call('PEXPIRE', KEYS[k + 2], (DAY + 60) * 1000)
  end
  if ARGV[a + 2] ~= '' then redis.call('ZREM', KEYS[k + 3], ARGV[a + 2]) end
end
local out = {}
for j = 1, nb do
  local key = KEYS[nr * 3 + j]
  if redis.call('EXISTS', key) == 1 then
    if held > 0 then redis.call('HINCRBYFLOAT', key, 'held', '-' .. ARGV[5]) end
    out[j] = redis.call('HINCRBYFLOAT', key, 'spent', ARGV[6])
  else
    out[j] = '-1'
  end
end
return out
"""
)


def _n(value: int | None) -> int:
    return -1 if value is None else value


def _usd(value: float) -> str:
    return f"{value:.12f}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisKeyCounters:
    shared = True

    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self._scopes: dict[str, list[str]] = {}  # scope -> its Redis keys, built once per scope

    def _keys(self, scope: str) -> list[str]:
        found = self._scopes.get(scope)
        if found is None:
            if len(self._scopes) >= 100_000:
                self._scopes.clear()
            found = self._scopes[scope] = quota_scope(scope)
        return found

    async def admit(
        self, rates: tuple[Rate, ...], budgets: tuple[Budget, ...], counters: tuple[str, ...],
        seeds: tuple[float, ...], amount: float, ttls_ms: tuple[int, ...], lease: float,
    ) -> Denial | Admission | None:
        """None: Redis is unreachable (the caller falls back)."""
        keys: list[str] = []
        args: list[Any] = [-1, len(rates), len(budgets), lease, _usd(amount)]
        for rate in rates:
            keys += self._keys(rate.scope)
            args += [_n(rate.rpm), _n(rate.tpm), _n(rate.parallel)]
        for budget, counter, seed, ttl in zip(budgets, counters, seeds, ttls_ms, strict=True):
            keys.append(budget_key(counter))
            args += [_usd(min(budget.limit, NO_LIMIT)), _usd(seed), ttl]
        ok, reply = await self.link.run(_ADMIT, keys, args)
        if not ok:
            return None
        if _text(reply[0]) == "deny":
            return Denial(rates[int(reply[1]) - 1], _text(reply[2]), float(reply[3]), int(reply[4]))
        may_pay, failing = int(reply[1]) == 1, int(reply[2])
        nb = len(budgets)
        spent = tuple(float(v) for v in reply[5 : 5 + nb])
        slots = tuple(_text(v) for v in reply[5 + nb :])
        return Admission(
            rates, budgets, counters, amount if may_pay and amount > 0 else 0.0, slots, True, may_pay,
            budgets[failing - 1] if failing else None, spent, int(reply[3]), int(reply[4]),
        )

    def settle(self, a: Admission, tokens: int, cost: float, done: Callable[[tuple[float, ...]], None] | None = None) -> None:
        """Sent at once, not awaited (nothing on the request path waits for it; this process's later
        calls are answered after it); `done` gets the budgets' spend after the cost. When Redis is
        unreachable nothing is settled: the hold lapses with its counter, never less conservative than
        counting it."""
        keys: list[str] = []
        args: list[Any] = [-1, len(a.rates), len(a.counters), tokens, _usd(a.held), _usd(cost)]
        for rate, slot in zip(a.rates, a.slots, strict=True):
            keys += self._keys(rate.scope)[1:]
            args += ["1" if rate.tpm is not None else "0", slot]
        keys += [budget_key(c) for c in a.counters]
        self.link.run_soon(_SETTLE, keys, args, None if done is None else lambda reply: done(_spent(reply)))


def _spent(reply: Any) -> tuple[float, ...]:
    return tuple(math.nan if _text(v) == "-1" else float(v) for v in reply)
