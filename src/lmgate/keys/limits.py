"""Virtual keys' limits and budgets on the request path: one admission before routing, one settlement
after the answer (inbound/relay.py calls both; nothing here for the master key or a key without limits).

Admission checks and counts the key's, its team's and the key's per-model rpm/tpm/parallel limits
(429 `rate_limit_exceeded` with Retry-After and LiteLLM's x-ratelimit-* headers when one is reached),
and, when the request could reach a paid deployment, holds its maximum cost on every money budget
that applies: the request's output limit (max_tokens, max_completion_tokens, max_output_tokens,
Ollama's options.num_predict; else the model's max_output_tokens; else
`general_settings.budget_default_max_tokens`) plus one token per byte of the request body, at the
prices of the most expensive paid deployment its chain could reach. When a budget has no room, the
request is marked so the router skips paid deployments (routing/budget.py): zero-cost ones still serve
it. Settlement adds the tokens, frees the parallel slot and replaces the hold by the real cost (the
whole hold when a paid answer reported no usage).

With Redis (router_settings) each step is one Lua call shared by every replica; without it, this
process counts (1/N of each limit and budget under `--workers N`). With Redis configured but down,
rates fall back to this process's counters (lmgate_key_limits_fallback_total, one warning per outage)
and paid deployments are refused for keys with a money budget (429 `budget_unavailable`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from lmgate.accounting.prices import charged
from lmgate.errors import BudgetExceeded, BudgetUnavailable, RateLimited
from lmgate.limits.keys import Admission, Denial, MemoryKeyCounters
from lmgate.limits.plan import Budget, LimitPlan

if TYPE_CHECKING:
    from lmgate.core import Deployment, GatewayRequest, Usage
    from lmgate.keys.model import Principal
    from lmgate.limits.keys_redis import RedisKeyCounters
    from lmgate.observability.metrics import Metrics
    from lmgate.redis_link import RedisLink
    from lmgate.routing.router import Router, RouteResult

log = logging.getLogger("lmgate.limits")
DEFAULT_MAX_TOKENS = 4096
LEASE_S = 660.0  # a parallel slot not given back (a replica died mid-request) frees itself after this
LIFETIME_TTL_MS = 7 * 86400 * 1000  # a budget without a period: its Redis counter idles out after a week
SEEN_MAX = 100_000
Price = tuple[float, float, int]  # (max USD per input token, per output token, largest output limit)


@dataclass(slots=True)
class Ticket:
    """One admitted request: what its settlement needs."""

    limits: KeyLimits
    admission: Admission
    result: RouteResult | None = None  # set by the relay once routed

    async def settle(self) -> None:
        result = self.result
        dep = result.deployment if result is not None else None
        usage = result.answer.usage if result is not None else None
        self.limits.settle(self.admission, dep, usage)

    def headers(self) -> dict[str, str]:
        """LiteLLM's x-ratelimit-* for the key's own scope (requests and tokens in the last minute)."""
        a = self.admission
        rate = a.rates[0] if a.rates else None
        if rate is None or not rate.scope.startswith("k:") or "|" in rate.scope:  # the team's or a model's
            return {}
        out = {}
        if rate.rpm is not None:
            out["x-ratelimit-limit-requests"] = str(rate.rpm)
            out["x-ratelimit-remaining-requests"] = str(max(0, rate.rpm - a.requests))
        if rate.tpm is not None:
            out["x-ratelimit-limit-tokens"] = str(rate.tpm)
            out["x-ratelimit-remaining-tokens"] = str(max(0, rate.tpm - a.tokens))
        return out


class KeyLimits:
    """The key counters of one process (memory, or Redis with a memory fallback), built at start-up."""

    def __init__(self, link: RedisLink | None, workers: int, metrics: Metrics | None, default_max_tokens: int | None) -> None:
        self.local = MemoryKeyCounters()
        self.shared: RedisKeyCounters | None = None
        if link is not None:
            from lmgate.limits.keys_redis import RedisKeyCounters

            self.shared = RedisKeyCounters(link)
        self.link = link
        self.workers = max(1, workers)
        self.metrics = metrics
        self.default_max_tokens = default_max_tokens or DEFAULT_MAX_TOKENS
        # budget scope -> (period end, spend): the database's spend as this process last settled it,
        # newer than the keys' loaded rows (spend updates do not reload keys); seeds new counters
        self.seen: dict[str, tuple[float, float]] = {}
        self._prices: tuple[object, dict[str, Price | None]] = (None, {})
        self._soft_crossed: set[str] = set()
        self._warned_outage = 0  # the link's outage this process last warned about

    # ---- admission ----------------------------------------------------------------------------------

    async def admit(self, principal: Principal, plan: LimitPlan, greq: GatewayRequest, router: Router,
                    body_bytes: int) -> Ticket:
        rates, budgets = plan.for_model(greq.model)
        amount = 0.0
        if budgets:
            price = self._chain_price(router, greq.model)
            if price is None:
                budgets = ()  # nothing on the chain costs money: budgets do not apply
            else:
                amount = _max_cost(greq.body, price, body_bytes, self.default_max_tokens)
        now = time.time()
        counters, seeds, ttls = self._counters(budgets, now)
        admitted: Denial | Admission | None = None
        if self.shared is not None:
            admitted = await self.shared.admit(rates, budgets, counters, seeds, amount, ttls, LEASE_S)
            if admitted is None:
                self._fell_back()
                admitted = self.local.admit(rates, (), (), (), 0.0, self.workers)
                if isinstance(admitted, Admission) and budgets:
                    greq.paid_refusal = _unavailable(budgets[0])
        else:
            admitted = self.local.admit(rates, budgets, counters, seeds, amount, self.workers)
        if isinstance(admitted, Denial):
            if self.metrics is not None:
                team = admitted.rate.scope.startswith("t:")
                self.metrics.rate_limited.labels("team" if team else "key", principal.team if team else principal.label).inc()
            raise _rate_limited(admitted)
        if not admitted.may_pay and admitted.over is not None:
            i = budgets.index(admitted.over)
            greq.paid_refusal = _exceeded(admitted.over, admitted.spent[i], amount, now)
        return Ticket(self, admitted)

    def _counters(self, budgets: tuple[Budget, ...], now: float) -> tuple[tuple[str, ...], tuple[float, ...], tuple[int, ...]]:
        if not budgets:
            return (), (), ()
        counters, seeds, ttls = [], [], []
        seen = self.seen
        for b in budgets:
            start, end = b.period(now)
            counters.append(b.counter(start))
            got = seen.get(b.scope)
            seeds.append(b.seed(end, got[1] if got is not None and got[0] == end else None))
            ttls.append(LIFETIME_TTL_MS if end == math.inf else int((end - now + 3600) * 1000))
        return tuple(counters), tuple(seeds), tuple(ttls)

    def _chain_price(self, router: Router, model: str) -> Price | None:
        """The highest prices on `model`'s chain (its fallbacks and special chains), once per config."""
        config, cache = self._prices
        if config is not router.config:
            cache = {}
            self._prices = (router.config, cache)
        if model in cache:
            return cache[model]
        cfg = router.config
        alias = router.resolve(model)
        chain = cfg.chains.get(alias)
        names = [*router.plan(alias), *(chain.context_window if chain else ()), *(chain.content_policy if chain else ())]
        price_in = price_out = 0.0
        limit = 0
        for name in names:
            for dep in cfg.aliases.get(name, ()):
                if charged(dep):
                    price_in, price_out = max(price_in, dep.prices[0]), max(price_out, dep.prices[1])
                    info = dep.info
                    limit = max(limit, (info.max_output_tokens or info.max_tokens or 0) if info else 0)
        found = (price_in, price_out, limit) if price_in or price_out else None
        if len(cache) < 4096:
            cache[model] = found
        return found

    def _fell_back(self) -> None:
        if self.metrics is not None:
            self.metrics.key_limits_fallback.labels("memory").inc()
        outage = self.link.outages if self.link is not None else 0
        if outage != self._warned_outage:
            self._warned_outage = outage
            log.warning(
                "key limits: Redis is unreachable; rpm/tpm/parallel limits count in this process (1/%d of each), "
                "money budgets refuse paid models until Redis is back", self.workers,
            )

    # ---- settlement ---------------------------------------------------------------------------------

    def settle(self, a: Admission, dep: Deployment | None, usage: Usage | None) -> None:
        tokens = usage.total if usage is not None else 0
        cost = 0.0
        if dep is not None and a.counters and charged(dep):
            cost = dep.cost(usage) if usage is not None else a.held  # no usage reported: assume the worst
        if a.shared and self.shared is not None:
            budgets = a.budgets
            self.shared.settle(a, tokens, cost, (lambda spent: self._observe(budgets, spent)) if a.counters else None)
            return
        spent = self.local.settle(a, tokens, cost)
        if spent:
            self._observe(a.budgets, spent)

    def _observe(self, budgets: tuple[Budget, ...], spent: tuple[float, ...]) -> None:
        metrics = self.metrics
        for b, s in zip(budgets, spent, strict=True):
            if math.isnan(s):
                continue
            if metrics is not None:
                metrics.budget_gauges(b.kind, b.name, s, b.limit)
            if b.soft is not None and s >= b.soft and b.scope not in self._soft_crossed:
                self._soft_crossed.add(b.scope)
                cap = "none" if b.limit == math.inf else f"${b.limit:.4f}"
                log.warning("soft budget crossed: %s has spent $%.4f (soft_budget $%.4f, max_budget %s)",
                            b.label, s, b.soft, cap)
                if metrics is not None:
                    metrics.soft_budget_crossed(b.kind, b.name)

    def saw_spend(self, scope: str, end: float, spend: float) -> None:
        """The spend log settled `scope`'s spend in the database (observability/sinks.py)."""
        if len(self.seen) >= SEEN_MAX:
            self.seen.clear()
        self.seen[scope] = (end, spend)


def _max_cost(body: dict[str, Any], price: Price, body_bytes: int, default: int) -> float:
    out = _output_limit(body) or price[2] or default
    return body_bytes * price[0] + out * price[1]


def _output_limit(body: dict[str, Any]) -> int | None:
    """The output limit the request asked for, in any inbound protocol."""
    for name in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        v = body.get(name)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    options = body.get("options")
    v = options.get("num_predict") if isinstance(options, dict) else None
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def _retry_s(seconds: float) -> str:
    return str(max(1, int(seconds + 0.999)))


_LIMIT_NAMES = {
    "rpm": ("requests per minute", "rpm_limit"),
    "tpm": ("tokens per minute", "tpm_limit"),
    "parallel": ("requests at once", "max_parallel_requests"),
}


def _rate_limited(d: Denial) -> RateLimited:
    what, setting = _LIMIT_NAMES[d.limit]
    wait = _retry_s(d.retry_after)
    err = RateLimited(f"{d.rate.label} is at its limit of {d.allowed} {what} ({setting}); nothing was sent; retry in {wait} s")
    err.headers["Retry-After"] = wait
    kind = "tokens" if d.limit == "tpm" else "requests"
    err.headers[f"x-ratelimit-limit-{kind}"] = str(d.allowed)
    err.headers[f"x-ratelimit-remaining-{kind}"] = "0"
    err.headers[f"x-ratelimit-reset-{kind}"] = f"{wait}s"
    return err


def _exceeded(b: Budget, spent: float, amount: float, now: float) -> BudgetExceeded:
    _, end = b.period(now)
    when = "" if end == math.inf else f"; it resets in {_retry_s(end - now)} s"
    err = BudgetExceeded(
        f"{b.label} has spent ${spent:.6f} of its ${b.limit:.6f} budget and this request may cost up to "
        f"${amount:.6f}{when}; only zero-cost models can serve it now, and none could",
    )
    if end != math.inf:
        err.headers["Retry-After"] = _retry_s(end - now)
    return err


def _unavailable(b: Budget) -> BudgetUnavailable:
    err = BudgetUnavailable(
        f"the budget of {b.label} cannot be checked: the shared counters (Redis) are unreachable, so paid "
        "models are refused until they are back; zero-cost models still answer"
    )
    err.headers["Retry-After"] = "5"
    return err


LIMITS: web.AppKey[KeyLimits] = web.AppKey("lmgate_key_limits", KeyLimits)


async def admit(request: web.Request, greq: GatewayRequest, router: Router) -> Ticket | None:
    """The relay's one call before routing (None: the master key, or a key without limits or budgets)."""
    from lmgate.keys.auth import PRINCIPAL

    principal = request.get(PRINCIPAL)
    if principal is None or principal.limits is None:
        return None
    limits = request.app.get(LIMITS)
    if limits is None:
        return None
    size = request.content_length
    if size is None and principal.limits.has_budget:
        size = len(orjson.dumps(greq.body))
    return await limits.admit(principal, principal.limits, greq, router, size or 0)
