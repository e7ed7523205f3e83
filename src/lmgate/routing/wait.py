"""Waiting out a cooldown (`router_settings.wait_for_cooldown_s`).

When every candidate of a request was skipped because it is cooling down, LiteLLM fails at once. With a
wait budget, the request instead waits for the first of those deployments to come back and is routed
again. The budget bounds the whole request's waiting; when the soonest return is beyond what is left,
the request fails at once (with Retry-After) rather than waiting for nothing. The cooldowns are polled
while waiting, so one that ends early (another process's view through Redis, a health check saying the
deployment is back) or is extended is seen within `POLL_S`.
"""

from __future__ import annotations

import asyncio
import time

from lmgate.routing.cooldowns import CooldownStore
from lmgate.routing.trace import COOLDOWN, WAITED, RouteTrace

POLL_S = 0.25  # at most this long between looks at the cooldowns (Redis refreshes every 0.5 s)


def _cooled(trace: RouteTrace) -> list[str]:
    """The deployments this request skipped for a cooldown, once each."""
    return list(dict.fromkeys(a.deployment for a in trace.attempts if a.outcome == COOLDOWN))


async def wait_for_cooldown(trace: RouteTrace, cooldowns: CooldownStore, budget: float) -> bool:
    """Wait until one of the deployments `trace` skipped for a cooldown may be used again, within what
    is left of `budget` seconds. True (and a `<deployment>:waited:<time>` entry in the trace) when one
    came back and the request should be routed again; False when it must fail now."""
    names = _cooled(trace)
    left = budget - trace.waited
    if not names or left <= 0:
        return False
    started = time.monotonic()
    deadline = started + left
    while True:
        remaining = {name: cooldowns.remaining(name) for name in names}
        back = next((name for name, r in remaining.items() if r <= 0), None)
        now = time.monotonic()
        if back is not None:
            took = now - started
            trace.waited += took
            trace.cooldown_wait = None
            trace.add(back, WAITED, took)
            return True
        soonest = min(remaining.values())
        if now + soonest > deadline:
            trace.waited += now - started
            trace.cooldown_wait = soonest
            return False
        await asyncio.sleep(min(soonest, POLL_S))
