"""Alias -> ordered candidates, tried until one answers.

A request for alias A tries A's deployments (ordered by `routing_strategy`), retrying those whose
failure may heal (backoff with jitter, Retry-After honoured), then A's fallback aliases in order
(`fallbacks`, or `default_fallbacks`). Context-length and content-policy refusals switch to the alias's
`context_window_fallbacks` / `content_policy_fallbacks`; any other client error (400) is answered as is.
Deployments cooling down, over their upstream quota or at their `max_parallel_requests` are skipped
before anything is sent, and so are those whose `model_info.mode` does not fit the endpoint or that
said they do not serve it (capability, never health: routing/capabilities.py). The requested name is
resolved first (group aliases, wildcards: config/aliases.py); a wildcard deployment gets the requested
name as its upstream model. Strict-privacy requests skip deployments that may keep prompts
(routing/privacy.py); free deployments sharing an account-wide limit count against it (limits/accounts.py);
usage limits without a reset time cool a deployment per kind (routing/usage_limits.py).
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
from lmgate.errors import (
    GatewayError,
    ModelNotFound,
    NoHealthyDeployment,
    ProviderNotSupported,
    QuotaExceeded,
    UpstreamError,
)
from lmgate.limits import MemoryQuotas, Quota, QuotaStore
from lmgate.limits.accounts import AccountQuotas, FreeAccounts, FreeLimits
from lmgate.limits.base import share
from lmgate.limits.parallel import MemoryParallel, ParallelStore
from lmgate.providers.http import UpstreamPool
from lmgate.routing import budget, privacy, usage_limits
from lmgate.routing.capabilities import CapabilityMemory, cannot_serve, serves_mode
from lmgate.routing.cooldowns import CooldownStore, MemoryCooldowns
from lmgate.routing.error_classes import error_class
from lmgate.routing.outcomes import Verdict, backoff_delay, classify
from lmgate.routing.strategies import DeploymentStats, candidates
from lmgate.routing.stream import OnClose, PeekedStream
from lmgate.routing.trace import UNSUPPORTED, RouteTrace
from lmgate.routing.wait import wait_for_cooldown
from lmgate.routing.warm import WarmModels, warm_aliases
from lmgate.routing.wildcards import Variants
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
    parallel: ParallelStore = field(default_factory=MemoryParallel)
    stats: dict[str, DeploymentStats] = field(default_factory=dict)
    redis: RedisLink | None = None
    warm: WarmModels = field(default_factory=WarmModels)  # what each Ollama instance has loaded
    accounts: FreeAccounts = field(default_factory=FreeAccounts)  # provider-wide free tiers (limits/accounts.py)

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


def _unknown(model: str) -> ModelNotFound:
    return ModelNotFound(
        f"model '{model}' is not served by this gateway; GET /v1/models lists the available models", param="model"
    )


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
        # (alias, endpoint, requested?) -> the deployments whose mode fits, and their cumulative weights
        # (simple-shuffle's first pick is a weighted draw); filled once per key and config
        self._serving: dict[tuple[str, str, bool], tuple[list[Deployment], list[float]]] = {}
        self.capabilities = CapabilityMemory()  # what upstreams said they do not serve; new per config
        self._coolable = {d.name: self._may_cool(d) for d in config.deployments}
        default_parallel = config.file.router_settings.default_max_parallel_requests
        split = 1 if self.state.parallel.shared else worker.count
        self._parallel = {
            d.name: share(limit, split)
            for d in config.deployments
            if (limit := d.max_parallel or default_parallel) is not None
        }
        self._variants = Variants(config.aliases, config.names.wildcard_aliases)
        self.state.cooldowns.watch(d.name for d in config.deployments)
        self.warm_aliases = warm_aliases(config)  # routed to the Ollama instance with the model loaded
        rs = config.file.router_settings
        self.privacy = privacy.PrivacyFilter()
        self._strict_aliases = privacy.strict_aliases(rs.strict_aliases)
        free = rs.openrouter_free_limits
        overrides = FreeLimits(free.rpm, free.rpd, free.rpd_free_tier) if free is not None else None
        self.accounts = AccountQuotas(config.deployments, overrides, self.state.quotas, self.state.accounts, worker.count)
        self._usage_cooldowns = usage_limits.durations(rs.ollama_cloud_cooldowns)

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

    def parallel_of(self, name: str) -> int | None:
        """This process's max_parallel_requests for a deployment (None: unlimited)."""
        return self._parallel.get(name)

    def deployments(self, alias: str) -> list[Deployment]:
        deps = self.config.aliases.get(alias)
        if not deps:
            raise _unknown(alias)
        return deps

    def resolve(self, requested: str) -> str:
        """The alias a requested name routes to; 404 when none, 501 when only unsupported providers serve it."""
        alias = self.config.resolve(requested)
        if alias in self.config.aliases:
            return alias
        unserved = self.config.unserved(alias) if alias is not None else []
        if unserved:
            providers = ", ".join(sorted({u.provider for u in unserved}))
            raise ProviderNotSupported(
                f"model '{requested}' is served only by deployments lmgate cannot route to yet ({providers}): "
                + "; ".join(f"{u.reason} ({u.where})" for u in unserved),
                param="model",
            )
        raise _unknown(requested)

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
        alias = self.resolve(request.model)
        if self._strict_aliases and not request.strict:
            request.strict = alias in self._strict_aliases or request.model in self._strict_aliases
        trace = RouteTrace()
        try:
            result = await self._route(request, trace, alias)
        except GatewayError as exc:
            exc.route_trace = trace  # for the request record: which deployments failed, and how
            if trace.attempts:
                exc.headers[ROUTE_HEADER] = trace.header()
                log.info("route %s failed: %s", request.model, trace.header())
            raise
        if trace.eventful:
            log.info("route %s: %s", request.model, trace.header())
        return result

    async def _route(self, request: GatewayRequest, trace: RouteTrace, resolved: str) -> RouteResult:
        """Walk the plan of `resolved` (the alias the requested name resolved to)."""
        outcome, alias = await self._walk(self.plan(resolved), request, trace, resolved)
        if isinstance(outcome, Refusal):
            special = self._special_chain(outcome.verdict, alias, resolved)
            if not special:
                raise outcome.error
            refused = outcome.error
            outcome, _ = await self._walk(special, request, trace, resolved)
            if isinstance(outcome, Refusal):
                raise outcome.error
            outcome = outcome or refused
        if isinstance(outcome, RouteResult):
            return outcome
        if outcome is not None:
            raise outcome
        if await wait_for_cooldown(trace, self.state.cooldowns, self.config.policy.wait_for_cooldown):
            return await self._route(request, trace, resolved)
        raise budget.refusal(request, trace) or self._nothing_sent(request, resolved, trace)

    async def _walk(
        self, plan: Iterable[str], request: GatewayRequest, trace: RouteTrace, resolved: str
    ) -> tuple[AliasOutcome, str]:
        """Try each alias of `plan` in turn until one answers or refuses; the outcome and its alias.
        When all failed, the last failure (None when nothing was sent at all)."""
        last: UpstreamError | None = None
        alias = ""
        for alias in plan:
            outcome = await self._try_alias(alias, request, trace, resolved)
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

    def _nothing_sent(self, request: GatewayRequest, alias: str, trace: RouteTrace) -> GatewayError:
        if trace.cooldown_wait is None and trace.quota_wait is None and not trace.busy:
            if trace.policy_refused:
                return privacy.refused(alias, trace)
            return cannot_serve(self.config.aliases, self.capabilities, request, trace, alias)
        if trace.cooldown_wait is not None:
            wait = trace.cooldown_wait
            err: GatewayError = NoHealthyDeployment(
                f"every deployment for '{alias}' and its fallbacks is cooling down after failures; "
                f"retry in {wait:.0f} s (GET /health shows why)"
            )
        elif trace.quota_wait is None and trace.busy:
            wait = 1.0
            err = QuotaExceeded(
                f"every deployment for '{alias}' and its fallbacks is at its max_parallel_requests; "
                "nothing was sent; retry in 1 s",
                code="max_parallel_requests",
            )
        else:
            wait = trace.quota_wait or 1.0
            err = QuotaExceeded(
                f"every deployment for '{alias}' and its fallbacks has used its upstream quota (rpm/tpm/rpd, or its "
                "provider's account-wide free limit: GET /health shows it); "
                f"nothing was sent; retry in {wait:.0f} s"
            )
        err.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        return err

    def _candidates(self, alias: str, request: GatewayRequest, requested: bool) -> tuple[list[Deployment], list[float]]:
        key = (alias, request.endpoint, requested)
        found = self._serving.get(key)
        if found is None:
            fit = [d for d in self.config.aliases[alias] if serves_mode(d, key[1], key[2])]
            found = self._serving[key] = (fit, list(accumulate(d.weight for d in fit)))
        return found

    async def _try_alias(
        self, alias: str, request: GatewayRequest, trace: RouteTrace, resolved: str
    ) -> AliasOutcome:
        """One alias: every deployment once, then retry rounds with backoff. The answer, a refusal, or
        the last error. `resolved` is the alias the client's name resolved to (its own deployments may
        leave model_info.mode unset)."""
        policy = self.config.policy
        serving, cum_weights = self._candidates(alias, request, alias == resolved)
        if request.strict:
            serving, cum_weights = self.privacy.keep(serving, trace)
        if not serving:
            return None
        deps: Iterable[Deployment] = candidates(policy.strategy, serving, self.state.stats.get, self._rng, cum_weights)
        if alias in self._variants.aliases:
            deps = (self._variants.get(d, request.model) for d in deps)
            if request.strict:
                deps = privacy.still_private(deps, trace)
        if alias in self.warm_aliases:
            deps = self.state.warm.prefer(deps)
        pending: Iterable[tuple[Deployment, int]] = ((d, 0) for d in deps)  # attempts made so far
        last: UpstreamError | None = None
        hint: float | None = None
        round_ = 0
        while True:
            if round_:
                await asyncio.sleep(backoff_delay(round_, hint, policy, self._rng))
            again: list[tuple[Deployment, int]] = []
            hint = None
            for dep, tried in pending:
                slot = await self._admit(dep, request, trace)
                if slot is None:
                    continue
                started = time.perf_counter()
                try:
                    answer = await self._attempt(dep, request, slot)
                except UpstreamError as exc:
                    verdict = classify(exc)
                    outcome = UNSUPPORTED if verdict is Verdict.UNSUPPORTED else exc.outcome
                    trace.add(dep.name, outcome, time.perf_counter() - started)
                    if verdict in (Verdict.FATAL, Verdict.CONTEXT, Verdict.CONTENT):
                        return Refusal(verdict, exc)
                    if verdict is Verdict.UNSUPPORTED:  # capability, not health: remember, try the next
                        self.capabilities.remember(dep.name, request.endpoint, exc.message)
                        trace.unsupported.append(exc.message)
                        continue
                    if verdict is Verdict.LACKS:  # this request needs a feature the model lacks
                        trace.lacking = trace.lacking or exc
                        continue
                    last = exc
                    kind = error_class(exc)
                    if await self._failed(dep, exc, verdict, kind) and tried < self._retries(dep, kind):
                        again.append((dep, tried + 1))
                        if exc.retry_after is not None:
                            hint = max(hint or 0.0, exc.retry_after)
                    continue
                took = time.perf_counter() - started
                trace.add(dep.name, "ok", took)
                if alias in self.warm_aliases:
                    self.state.warm.answered(dep, answer, took)
                return RouteResult(dep, answer, trace, request.native_to(answer.wire))
            if not again:
                return last
            pending = again
            round_ += 1

    def _retries(self, dep: Deployment, kind: str) -> int:
        """Retries of one deployment for one error class: retry_policy, else max_retries / num_retries."""
        policy = self.config.policy
        by_class = policy.retry_by_class.get(kind)
        if by_class is not None:
            return by_class
        return policy.num_retries if dep.max_retries is None else dep.max_retries

    async def _admit(self, dep: Deployment, request: GatewayRequest, trace: RouteTrace) -> str | None:
        """Skip (and record) a deployment that said it does not serve the endpoint, is cooling down, at its
        max_parallel_requests or over its quota (None); otherwise count the request and return its
        parallel slot ("" when unlimited)."""
        if self.capabilities:
            known = self.capabilities.unsupported(dep.name, request.endpoint)
            if known is not None:
                trace.skip_unsupported(dep.name, known.reason)
                return None
        if request.paid_refusal is not None and budget.skip_paid(dep, request, trace):
            return None
        left = self.state.cooldowns.remaining(dep.name)
        if left > 0:
            trace.skip_cooldown(dep.name, left)
            return None
        slot = ""
        limit = self._parallel.get(dep.name)
        if limit is not None:
            taken = await self.state.parallel.acquire(dep.name, limit, dep.timeout + 60.0)
            if taken is None:
                trace.skip_busy(dep.name)
                return None
            slot = taken
        quota = self._quota.get(dep.name)
        if quota:
            denial = await self.state.quotas.acquire(dep.name, quota)
            if denial is not None:
                await self._release(dep, slot)
                trace.skip_quota(dep.name, denial.limit, denial.retry_after)
                return None
        if self.accounts:
            account = self.accounts.of.get(dep.name)
            if account is not None and (denial := await self.accounts.acquire(account)) is not None:
                await self._release(dep, slot)
                trace.skip_quota(dep.name, denial.limit, denial.retry_after)
                return None
        return slot

    async def _release(self, dep: Deployment, slot: str) -> None:
        if slot:
            await self.state.parallel.release(dep.name, slot)

    async def _failed(self, dep: Deployment, exc: UpstreamError, verdict: Verdict, kind: str) -> bool:
        """Book a failure (stats, cooldowns); True when retrying this deployment may help."""
        stats = self.state.stats_for(dep.name)
        stats.failures += 1
        stats.last_error = exc.message[:300]
        policy = self.config.policy
        coolable = self._coolable.get(dep.name, False)
        cooldowns = self.state.cooldowns
        limit = usage_limits.usage_limit(exc)
        if limit is not None:  # a session/weekly limit: the same answer until it resets, whatever allowed_fails says
            if coolable:  # an alias's only deployment without a chain answers its 429 as is (LiteLLM's rule)
                await cooldowns.start(dep.name, self._usage_cooldowns[limit], usage_limits.reason(limit, exc))
            return False
        allowed = policy.fails_by_class.get(kind)
        if verdict is Verdict.COOL_NOW and allowed is None:
            if coolable:
                await cooldowns.start(dep.name, policy.cooldown_time, exc.outcome)
            return False
        wait = exc.retry_after
        if wait is not None and wait > policy.backoff_max:
            # Too long to wait inside this request: never call it again before the upstream said so.
            if coolable:
                await cooldowns.start(dep.name, wait, f"{exc.outcome} retry-after")
            return False
        allowed = policy.allowed_fails if allowed is None else allowed
        if coolable and await cooldowns.failure(dep.name, allowed, policy.cooldown_time, exc.outcome):
            return False
        return verdict is Verdict.RETRY

    async def _attempt(self, dep: Deployment, request: GatewayRequest, slot: str) -> UpstreamReply | UpstreamStream:
        stats = self.state.stats_for(dep.name)
        stats.in_flight += 1
        stats.requests += 1
        started = time.perf_counter()
        try:
            answer = await dep.adapter.send(self.pool, dep, request)
            if isinstance(answer, UpstreamStream):
                peeked = await PeekedStream.open(
                    answer, request.native_to(answer.wire), self._stream_closer(dep, slot)
                )
                stats.observe_latency(time.perf_counter() - started)
                return peeked
        except BaseException:
            stats.in_flight -= 1
            await self._release(dep, slot)
            raise
        stats.in_flight -= 1
        await self._release(dep, slot)
        stats.observe_latency(time.perf_counter() - started)
        await self._count_tokens(dep, answer.usage)
        return answer

    def _stream_closer(self, dep: Deployment, slot: str) -> OnClose:
        async def closed(stream: PeekedStream) -> None:
            self.state.stats_for(dep.name).in_flight -= 1
            await self._release(dep, slot)
            await self._count_tokens(dep, stream.usage)

        return closed

    async def _count_tokens(self, dep: Deployment, usage: Usage | None) -> None:
        tokens = usage.total if usage is not None else 0
        if tokens:
            self.state.stats_for(dep.name).add_tokens(tokens)
            if dep.tpm is not None:
                await self.state.quotas.add_tokens(dep.name, tokens)
