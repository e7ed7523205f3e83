"""Cooldowns: a deployment that failed too often (or in a way that will not heal by itself) is skipped
for a while. LiteLLM's rule: more than `allowed_fails` failures within a minute -> `cooldown_time` off."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

FAIL_WINDOW_S = 60.0


class Cooldowns:
    """Failure counts and cooldown deadlines per deployment name (kept across config reloads)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._fails: dict[str, deque[float]] = {}
        self._until: dict[str, tuple[float, str]] = {}

    def remaining(self, name: str) -> float:
        """Seconds left in this deployment's cooldown; 0 when it may be used."""
        entry = self._until.get(name)
        if entry is None:
            return 0.0
        left = entry[0] - self._clock()
        if left <= 0:
            del self._until[name]
            return 0.0
        return left

    def start(self, name: str, seconds: float, reason: str) -> None:
        if seconds <= 0:
            return
        until = self._clock() + seconds
        current = self._until.get(name)
        if current is None or current[0] < until:
            self._until[name] = (until, reason)
        self._fails.pop(name, None)

    def failure(self, name: str, allowed_fails: int, seconds: float, reason: str) -> bool:
        """Count a failure; start a cooldown (and return True) when the minute's count exceeds the allowance."""
        now = self._clock()
        fails = self._fails.get(name)
        if fails is None:
            fails = self._fails[name] = deque()
        while fails and now - fails[0] > FAIL_WINDOW_S:
            fails.popleft()
        fails.append(now)
        if len(fails) > allowed_fails:
            self.start(name, seconds, reason)
            return True
        return False

    def recent_failures(self, name: str) -> int:
        now = self._clock()
        return sum(1 for t in self._fails.get(name, ()) if now - t <= FAIL_WINDOW_S)

    def state(self, name: str) -> tuple[float, str] | None:
        """(seconds left, reason) while cooling down, else None."""
        left = self.remaining(name)
        return (left, self._until[name][1]) if left > 0 else None
