"""Counters for virtual keys: rpm, tpm and requests in flight per scope (key, team, key and model),
and money budgets held and spent per budget period. One admission per request checks every scope and,
only when all have room, counts the request in each and holds the request's maximum cost on each
budget; its settlement adds the tokens, frees the slot and turns the hold into the real cost.

`MemoryKeyCounters` does it in this process (no await between check and count, so it is atomic for
the event loop); `RedisKeyCounters` does each step in one Lua script, one round trip, atomic across
every worker and replica. The windows are the deployment quotas' (limits/memory.py, limits/redis.py:
the same sorted sets and the same Lua helpers), under `lmgate:quota:@<scope>:...`; budgets are hashes
`lmgate:budget:<scope>@<period start>` with `spent` and `held`.

A budget is never checked as "spent < limit" but as "spent + held + this request's hold <= limit":
concurrent requests cannot together pass a budget that only one of them fits (LiteLLM's
check-then-increment can).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lmgate.limits.base import Quota, share
from lmgate.limits.memory import MemoryQuotas
from lmgate.limits.plan import Budget, Rate

LOCAL = ""  # the slot of a request counted in this process (or of a scope without a parallel limit)


@dataclass(slots=True, frozen=True)
class Denial:
    """The first scope at its limit: nothing was counted anywhere."""

    rate: Rate
    limit: str  # "rpm" | "tpm" | "parallel"
    retry_after: float
    allowed: int


@dataclass(slots=True)
class Admission:
    """One admitted request's counts, for its settlement."""

    rates: tuple[Rate, ...]
    budgets: tuple[Budget, ...]
    counters: tuple[str, ...]  # per budget: the counter of the period it was admitted in
    held: float  # held on every counter (0: nothing held, the request may not pay)
    slots: tuple[str, ...]  # per rate: the parallel slot taken ("" none)
    shared: bool  # counted in Redis (settled there too)
    may_pay: bool  # every budget had room for the hold
    over: Budget | None  # the first budget without room
    spent: tuple[float, ...]  # per budget, spent before this request (for gauges and messages)
    requests: int = 0  # the first scope's requests in the last minute, this one included
    tokens: int = 0  # the first scope's tokens in the last minute


def _quota(rate: Rate, split: int) -> Quota:
    return Quota(share(rate.rpm, split), share(rate.tpm, split))


class MemoryKeyCounters:
    """Key counters of this process. With `split` N (several workers, nothing shared), each process may
    use 1/N of every limit and budget."""

    shared = False

    def __init__(self) -> None:
        self.windows = MemoryQuotas()
        self.in_flight: dict[str, int] = {}
        self.budgets: dict[str, list[float]] = {}  # counter -> [spent, held]

    def admit(
        self, rates: tuple[Rate, ...], budgets: tuple[Budget, ...], counters: tuple[str, ...],
        seeds: tuple[float, ...], amount: float, split: int = 1,
    ) -> Denial | Admission:
        windows, in_flight = self.windows, self.in_flight
        quotas = [_quota(rate, split) for rate in rates] if split > 1 else [rate.quota for rate in rates]
        for rate, quota in zip(rates, quotas, strict=True):
            denial = windows.check(rate.scope, quota)
            if denial is not None:
                allowed = share(rate.rpm if denial.limit == "rpm" else rate.tpm, split) or 0
                return Denial(rate, denial.limit, denial.retry_after, allowed)
            if rate.parallel is not None and in_flight.get(rate.scope, 0) >= (share(rate.parallel, split) or 1):
                return Denial(rate, "parallel", 1.0, share(rate.parallel, split) or 1)
        requests = tokens = 0
        for i, (rate, quota) in enumerate(zip(rates, quotas, strict=True)):
            usage = windows.count(rate.scope, quota)
            if i == 0:
                requests, tokens = usage.requests_minute, usage.tokens_minute
            if rate.parallel is not None:
                in_flight[rate.scope] = in_flight.get(rate.scope, 0) + 1
        spent: list[float] = []
        over: Budget | None = None
        for budget, counter, seed in zip(budgets, counters, seeds, strict=True):
            state = self.budgets.get(counter)
            if state is None:
                state = self.budgets[counter] = [seed / split, 0.0]
            spent.append(state[0] * split)
            if over is None and state[0] + state[1] + amount > budget.limit / split:
                over = budget
        held = amount if over is None else 0.0
        if held:
            for counter in counters:
                self.budgets[counter][1] += held
        return Admission(rates, budgets, counters, held, (LOCAL,) * len(rates), False,
                         over is None, over, tuple(spent), requests, tokens)

    def settle(self, a: Admission, tokens: int, cost: float) -> tuple[float, ...]:
        """Tokens, slots and the real cost; the budgets' spend after it (per budget of `a`)."""
        for rate in a.rates:
            if rate.tpm is not None and tokens > 0:
                self.windows.add_tokens_now(rate.scope, tokens)
            if rate.parallel is not None:
                n = self.in_flight.get(rate.scope, 0)
                if n > 0:
                    self.in_flight[rate.scope] = n - 1
        out = []
        for counter in a.counters:
            state = self.budgets.get(counter)
            if state is None:
                out.append(math.nan)
                continue
            state[1] = max(0.0, state[1] - a.held)
            state[0] += cost
            out.append(state[0])
        return tuple(out)


def quota_scope(scope: str) -> list[str]:
    """The Redis keys of one scope's windows and parallel slots (beside the deployment quotas')."""
    base = f"lmgate:quota:@{scope}:"
    return [base + "rpm", base + "tpm", base + "n", base + "par"]


def budget_key(counter: str) -> str:
    return f"lmgate:budget:{counter}"
