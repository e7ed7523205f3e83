"""Cooldowns shared through Redis: every worker and replica counts failures into one per-minute window
per deployment and skips a deployment that any of them put in cooldown.

Writes (a failure, a cooldown) are one Lua script each, atomic across processes, timed by Redis's clock.
Reads stay local and never wait on the network: this process's own cooldowns are seen at once, and the
shared ones are copied from Redis every `REFRESH_S` seconds by a background task, so a cooldown started
by another process is honoured here at most `REFRESH_S` (+ one round trip) later. While Redis is down,
failures and cooldowns are counted in this process only (MemoryCooldowns) and the last shared copy runs
out by itself. Keys:

    lmgate:cooldown:until              hash: deployment -> "<until, Redis time>|<reason>"; expired fields
                                       are dropped on every write; TTL = the longest cooldown + 1 s
    lmgate:cooldown:<deployment>:fails failures in the last minute (TTL 61 s)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from lmgate.redis_link import RedisLink
from lmgate.routing.cooldowns import FAIL_WINDOW_S, CooldownStore, MemoryCooldowns

REFRESH_S = 0.5  # staleness bound for cooldowns started by other processes
UNTIL_KEY = "lmgate:cooldown:until"

_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local WINDOW = tonumber(ARGV[1])
local function until_of(v) return tonumber(string.match(v, '^([^|]+)')) end
local function cool(hash, fails, name, seconds, reason)
  local target = now + seconds
  local cur = redis.call('HGET', hash, name)
  if (not cur) or until_of(cur) < target then
    redis.call('HSET', hash, name, string.format('%.6f', target) .. '|' .. reason)
  else
    target = until_of(cur)
  end
  redis.call('DEL', fails)
  local all = redis.call('HGETALL', hash)
  local longest = 0
  for i = 1, #all, 2 do
    local u = until_of(all[i + 1])
    if u <= now then redis.call('HDEL', hash, all[i]) else longest = math.max(longest, u - now) end
  end
  if longest > 0 then redis.call('PEXPIRE', hash, math.ceil(longest * 1000) + 1000) end
  return tostring(target - now)
end
"""

# KEYS: until hash, fails   ARGV: window, name, seconds, reason
_START = _PRELUDE + "return cool(KEYS[1], KEYS[2], ARGV[2], tonumber(ARGV[3]), ARGV[4])"

# KEYS: until hash, fails   ARGV: window, name, allowed_fails, seconds, reason
# -> {1, seconds left} when this failure started a cooldown, else {0, failures in the window}
_FAILURE = (
    _PRELUDE
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.6f', now - WINDOW))
local n = redis.call('ZCARD', KEYS[2]) + 1
redis.call('ZADD', KEYS[2], now, string.format('%.6f', now) .. ':' .. n)
redis.call('PEXPIRE', KEYS[2], (WINDOW + 1) * 1000)
if n > tonumber(ARGV[3]) then
  return {1, cool(KEYS[1], KEYS[2], ARGV[2], tonumber(ARGV[4]), ARGV[5])}
end
return {0, tostring(n)}
"""
)

# KEYS: until hash, fails of each watched name   ARGV: window
# -> {{name, seconds left, reason, ...}, {failures in the window per watched name}}
_REFRESH = (
    _PRELUDE
    + """
local cooling = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local u, why = string.match(all[i + 1], '^([^|]+)|(.*)$')
  u = tonumber(u)
  if u > now then
    table.insert(cooling, all[i]); table.insert(cooling, tostring(u - now)); table.insert(cooling, why)
  end
end
local counts = {}
for i = 2, #KEYS do
  table.insert(counts, redis.call('ZCOUNT', KEYS[i], string.format('%.6f', now - WINDOW), '+inf'))
end
return {cooling, counts}
"""
)


def _fails_key(name: str) -> str:
    return f"lmgate:cooldown:{name}:fails"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisCooldowns(CooldownStore):
    """Shared failure counts and cooldowns, with a local copy for reads and a local fallback."""

    def __init__(self, link: RedisLink, refresh_s: float = REFRESH_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.link = link
        self.refresh_s = refresh_s
        self._clock = clock
        self.local = MemoryCooldowns(clock)  # this process's own (at once), and everything while Redis is down
        self._shared: dict[str, tuple[float, str]] = {}  # name -> (until on our monotonic clock, reason)
        self._fails: dict[str, int] = {}  # shared failures in the last minute, as of the last refresh
        self._names: tuple[str, ...] = ()

    def _shared_left(self, name: str) -> float:
        entry = self._shared.get(name)
        return max(0.0, entry[0] - self._clock()) if entry else 0.0

    def remaining(self, name: str) -> float:
        return max(self.local.remaining(name), self._shared_left(name))

    def state(self, name: str) -> tuple[float, str] | None:
        mine = self.local.state(name)
        left = self._shared_left(name)
        if left > 0 and (mine is None or left > mine[0]):
            return left, self._shared[name][1]
        return mine

    def recent_failures(self, name: str) -> int:
        mine = self.local.recent_failures(name)
        return max(mine, self._fails.get(name, 0)) if self.link.ok else mine

    def _remember(self, name: str, left: float, reason: str) -> None:
        self.local.start_now(name, left, reason)
        self._shared[name] = (self._clock() + left, reason)
        self._fails[name] = 0

    async def start(self, name: str, seconds: float, reason: str) -> None:
        if seconds <= 0:
            return
        ok, reply = await self.link.run(_START, [UNTIL_KEY, _fails_key(name)], [FAIL_WINDOW_S, name, seconds, reason])
        if ok:
            self._remember(name, float(reply), reason)
        else:
            self.local.start_now(name, seconds, reason)

    async def failure(self, name: str, allowed_fails: int, seconds: float, reason: str) -> bool:
        ok, reply = await self.link.run(
            _FAILURE, [UNTIL_KEY, _fails_key(name)], [FAIL_WINDOW_S, name, allowed_fails, seconds, reason]
        )
        if not ok:
            return self.local.failure_now(name, allowed_fails, seconds, reason)
        self.local.note_failure(name)  # /health counts it here at once, whatever the shared count says
        started, value = int(reply[0]), float(reply[1])
        if started:
            self._remember(name, value, reason)
            return True
        self._fails[name] = int(value)
        return False

    def watch(self, names: Iterable[str]) -> None:
        self._names = tuple(dict.fromkeys(names))

    async def refresh(self) -> None:
        """Copy the shared cooldowns and failure counts (one script call; skipped while Redis is down)."""
        names = self._names
        ok, reply = await self.link.run(_REFRESH, [UNTIL_KEY, *map(_fails_key, names)], [FAIL_WINDOW_S])
        if not ok:
            return
        cooling, counts = reply
        now = self._clock()
        self._shared = {
            _text(cooling[i]): (now + float(cooling[i + 1]), _text(cooling[i + 2])) for i in range(0, len(cooling), 3)
        }
        self._fails = {name: int(n) for name, n in zip(names, counts, strict=False)}
