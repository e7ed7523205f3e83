"""Alias -> ordered candidates, tried until one answers.

A request for alias A tries A's deployments (ordered by `routing_strategy`), retrying those whose
failure may heal (backoff with jitter, Retry-After honoured), then A's fallback aliases in order
(`fallbacks`, or `default_fallbacks`). Context-length and content-policy refusals switch to the alias's
`context_window_fallbacks` / `content_policy_fallbacks`; any other client error (400) is answered as is.
Deployments cooling down or over their upstream quota are skipped before anything is sent.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import TYPE_CHECKING

from lmgate.config.runtime import RuntimeConfig
from lmgate.core import Deployment, GatewayRequest, UpstreamReply, UpstreamStream, Usage
from lmgate.errors import GatewayError, ModelNotFound, NoHealthyDeployment, QuotaExceeded, UpstreamError
from lmgate.limits import MemoryQuotas, Quota, QuotaStore
from lmgate.providers.http import UpstreamPool
from lmgate.routing.cooldowns import CooldownStore, MemoryCooldowns
from lmgate.routing.outcomes import Verdict, backoff_delay, classify
from lmgate.routing.strategies import DeploymentStats, candidates
from lmgate.routing.stream import OnClose, PeekedStream
from lmgate.routing.trace import RouteTrace
from lmgate.workers import SOLO, WorkerIdentity

if TYPE_CHECKING:
    from lmgate.redis_link import RedisLink

log = logging.getLogger("lmgate.route")
ROUTE_HEADER = "x-lmgate-route"
__all__ = ["RouteResult", "Router", "RouterState"]


@dataclass(slots=True)
class RouterState:
    """What outlives a config reload: cooldowns, quota counters, live stats (keyed by deployment name),
    and the Redis link when quotas and cooldowns are shared."""

    cooldowns: CooldownStore = field(default_factory=MemoryCooldowns)
    quotas: QuotaStore = field(default_factory=MemoryQuotas)
    stats: dict[str, DeploymentStats] = field(default_factory=dict)
    redis: RedisLink | None = None

    def stats_for(self, name: str) -> DeploymentStats:
        s = self.stats.get(name)
        if s is None:
            s = self.stats[name] = DeploymentStats()
        return s


@dataclass(slots=True)
class RouteResult:
    deployment: Deployment
    answer: UpstreamReply | UpstreamStream
    trace: RouteTrace
    native: bool  # the answer is in the client's own wire: relay its bytes untouched


@dataclass(slots=True, frozen=True)
class Refusal:
    """A client-side refusal of one alias (400, context length, content policy): stop trying it, and
    maybe switch to the alias's special chain."""

    verdict: Verdict
    error: UpstreamError


AliasOutcome = RouteResult | Refusal | UpstreamError | None  # None: every deployment was skipped


class Router:
    def __init__(
        self,
        config: RuntimeConfig,
        pool: UpstreamPool,
        state: RouterState | None = None,
        rng: random.Random | None = None,
        worker: WorkerIdentity = SOLO,
    ) -> None:
        self.config = config
        self.worker = worker
        self.pool = pool
        self.state = state or RouterState()
        self._rng = rng or random.Random()
        # Under `--workers N` a store that is not shared gets 1/N of each quota; a shared one (Redis) the
        # whole quota (it splits by itself while Redis is down).
        workers = 1 if self.state.quotas.shared else worker.count
        self._quota = {d.name: Quota(d.rpm, d.tpm, d.rpd).split(workers) for d in config.deployments}
        # simple-shuffle's first pick is a weighted draw: cumulative weights once per config
        self._cum_weights = {a: list(accumulate(d.weight for d in deps)) for a, deps in config.aliases.items()}
        self._coolable = {d.name: self._may_cool(d) for d in config.deployments}
        self.state.cooldowns.watch(d.name for d in config.deployments)

    def _may_cool(self, d: Deployment) -> bool:
        """LiteLLM does not cool down an alias's only deployment unless allowed_fails is set; lmgate also
        does when the alias has a fallback chain to absorb its traffic."""
        policy = self.config.policy
        if not policy.cooldowns:
            return False
        chain = self.config.chains.get(d.alias)
        alone = len(self.config.aliases.get(d.alias, ())) <= 1
        return not alone or policy.allowed_fails_explicit or bool(chain and chain.fallbacks)

    def quota_of(self, name: str) -> Quota:
        return self._quota.get(name) or Quota()

    def deployments(self, alias: str) -> list[Deployment]:
        deps = self.config.aliases.get(alias)
        if not deps:
            raise ModelNotFound(
                f"model '{alias}' is not served by this gateway; GET /v1/models lists the available models",
                param="model",
            )
        return deps

    def admissible(self, alias: str) -> list[Deployment]:
        """The alias's deployments that are not cooling down, in config order (for requests that go to
        one instance directly, such as an Ollama client's /api/show or model load)."""
        remaining = self.state.cooldowns.remaining
        return [d for d in self.deployments(alias) if remaining(d.name) <= 0]

    def plan(self, alias: str) -> list[str]:
        """The aliases tried for `alias`, in order (without the special chains)."""
        chain = self.config.chains.get(alias)
        return [alias, *(chain.fallbacks if chain else ())]

    async def send(self, request: GatewayRequest) -> RouteResult:
        self.deployments(request.model)
        trace = RouteTrace()
        try:
            result = await self._route(request, trace)
        except GatewayError as exc:
            exc.route_trace = trace  # for the request record: which deployments failed, and how
            if trace.attempts:
                exc.headers[ROUTE_HEADER] = trace.header()
                log.info("route %s failed: %s", request.model, trace.header())
            raise
        if trace.eventful:
            log.info("route %s: %s", request.model, trace.header())
        return result

    async def _route(self, request: GatewayRequest, trace: RouteTrace) -> RouteResult:
        outcome, alias = await self._walk(self.plan(request.model), request, trace)
        if isinstance(outcome, Refusal):
            special = self._special_chain(outcome.verdict, alias, request.model)
            if not special:
                raise outcome.error
            refused = outcome.error
            outcome, _ = await self._walk(special, request, trace)
            if isinstance(outcome, Refusal):
                raise outcome.error
            outcome = outcome or refused
        if isinstance(outcome, RouteResult):
            return outcome
        if outcome is not None:
            raise outcome
        raise self._nothing_sent(request.model, trace)

    async def _walk(
        self, plan: Iterable[str], request: GatewayRequest, trace: RouteTrace
    ) -> tuple[AliasOutcome, str]:
        """Try each alias of `plan` in turn until one answers or refuses; the outcome and its alias.
        When all failed, the last failure (None when nothing was sent at all)."""
        last: UpstreamError | None = None
        alias = ""
        for alias in plan:
            outcome = await self._try_alias(alias, request, trace)
            if isinstance(outcome, RouteResult | Refusal):
                return outcome, alias
            last = outcome or last
        return last, alias

    def _special_chain(self, verdict: Verdict, alias: str, requested: str) -> tuple[str, ...]:
        if verdict not in (Verdict.CONTEXT, Verdict.CONTENT):
            return ()
        for name in (alias, requested):
            chain = self.config.chains.get(name)
            if chain is not None:
                found = chain.context_window if verdict is Verdict.CONTEXT else chain.content_policy
                if found:
                    return found
        return ()

    def _nothing_sent(self, alias: str, trace: RouteTrace) -> GatewayError:
        if trace.cooldown_wait is not None:
            wait = trace.cooldown_wait
            err: GatewayError = NoHealthyDeployment(
                f"every deployment for '{alias}' and its fallbacks is cooling down after failures; "
                f"retry in {wait:.0f} s (GET /health shows why)"
            )
        else:
            wait = trace.quota_wait or 1.0
            err = QuotaExceeded(
                f"every deployment for '{alias}' and its fallbacks has used its upstream quota (rpm/tpm/rpd); "
                f"nothing was sent; retry in {wait:.0f} s"
            )
        err.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        return err

    async def _try_alias(self, alias: str, request: GatewayRequest, trace: RouteTrace) -> AliasOutcome:
        """One alias: every deployment once, then retry rounds with backoff. The answer, a refusal, or
        the last error."""
        policy = self.config.policy
        deps = candidates(
            policy.strategy, self.config.aliases[alias], self.state.stats.get, self._rng, self._cum_weights[alias]
        )
        pending: Iterable[tuple[Deployment, int]] = (
            (d, policy.num_retries if d.max_retries is None else d.max_retries) for d in deps
        )
        last: UpstreamError | None = None
        hint: float | None = None
        round_ = 0
        while True:
            if round_:
                await asyncio.sleep(backoff_delay(round_, hint, policy, self._rng))
            again: list[tuple[Deployment, int]] = []
            hint = None
            for dep, left in pending:
                if not await self._admit(dep, trace):
                    continue
                started = time.perf_counter()
                try:
                    answer = await self._attempt(dep, request)
                except UpstreamError as exc:
                    trace.add(dep.name, exc.outcome, time.perf_counter() - started)
                    verdict = classify(exc)
                    if verdict in (Verdict.FATAL, Verdict.CONTEXT, Verdict.CONTENT):
                        return Refusal(verdict, exc)
                    last = exc
                    if await self._failed(dep, exc, verdict) and left > 0:
                        again.append((dep, left - 1))
                        if exc.retry_after is not None:
                            hint = max(hint or 0.0, exc.retry_after)
                    continue
                trace.add(dep.name, "ok", time.perf_counter() - started)
                return RouteResult(dep, answer, trace, request.native_to(answer.wire))
            if not again:
                return last
            pending = again
            round_ += 1

    async def _admit(self, dep: Deployment, trace: RouteTrace) -> bool:
        """Skip (and record) a deployment that is cooling down or over its quota; count the request otherwise."""
        left = self.state.cooldowns.remaining(dep.name)
        if left > 0:
            trace.skip_cooldown(dep.name, left)
            return False
        quota = self._quota.get(dep.name)
        if quota:
            denial = await self.state.quotas.acquire(dep.name, quota)
            if denial is not None:
                trace.skip_quota(dep.name, denial.limit, denial.retry_after)
                return False
        return True

    async def _failed(self, dep: Deployment, exc: UpstreamError, verdict: Verdict) -> bool:
        """Book a failure (stats, cooldowns); True when retrying this deployment may help."""
        stats = self.state.stats_for(dep.name)
        stats.failures += 1
        stats.last_error = exc.message[:300]
        policy = self.config.policy
        coolable = self._coolable.get(dep.name, False)
        cooldowns = self.state.cooldowns
        if verdict is Verdict.COOL_NOW:
            if coolable:
                await cooldowns.start(dep.name, policy.cooldown_time, exc.outcome)
            return False
        wait = exc.retry_after
        if wait is not None and wait > policy.backoff_max:
            # Too long to wait inside this request: never call it again before the upstream said so.
            if coolable:
                await cooldowns.start(dep.name, wait, f"{exc.outcome} retry-after")
            return False
        if coolable and await cooldowns.failure(dep.name, policy.allowed_fails, policy.cooldown_time, exc.outcome):
            return False
        return verdict is Verdict.RETRY

    async def _attempt(self, dep: Deployment, request: GatewayRequest) -> UpstreamReply | UpstreamStream:
        stats = self.state.stats_for(dep.name)
        stats.in_flight += 1
        stats.requests += 1
        started = time.perf_counter()
        try:
            answer = await dep.adapter.send(self.pool, dep, request)
            if isinstance(answer, UpstreamStream):
                peeked = await PeekedStream.open(answer, request.native_to(answer.wire), self._stream_closer(dep))
                stats.observe_latency(time.perf_counter() - started)
                return peeked
        except BaseException:
            stats.in_flight -= 1
            raise
        stats.in_flight -= 1
        stats.observe_latency(time.perf_counter() - started)
        await self._count_tokens(dep, answer.usage)
        return answer

    def _stream_closer(self, dep: Deployment) -> OnClose:
        async def closed(stream: PeekedStream) -> None:
            self.state.stats_for(dep.name).in_flight -= 1
            await self._count_tokens(dep, stream.usage)

        return closed

    async def _count_tokens(self, dep: Deployment, usage: Usage | None) -> None:
        tokens = usage.total if usage is not None else 0
        if tokens:
            self.state.stats_for(dep.name).add_tokens(tokens)
            if dep.tpm is not None:
                await self.state.quotas.add_tokens(dep.name, tokens)
