"""Prometheus metrics for `/metrics` (prometheus_client; multiprocess mode under `--workers N`).

Labels carry aliases, deployment names, providers, status codes, protocols and virtual keys' aliases
and teams only: never a key,
a prompt or an upstream URL. With `litellm_settings.litellm_compat_metrics: true` LiteLLM's metric
names are exported as well (see `compat.py`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as mp

from lmgate.observability.deferred import Deferrals
from lmgate.routing.trace import is_skip

if TYPE_CHECKING:
    from lmgate.observability.compat import LiteLLMMetrics
    from lmgate.observability.record import RequestRecord

# From sub-millisecond gateway overhead to multi-minute generations.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600,
)
REQUEST_LABELS = (
    "requested_model", "model_group", "deployment", "provider", "status_code", "inbound_protocol", "key_alias", "team",
)
DEPLOYMENT_STATES = ("healthy", "cooling_down", "over_quota")


@dataclass(slots=True)
class _Children:
    requests: Any
    seconds: Any
    upstream: Any
    overhead: Any
    ttft: Any
    input_tokens: Any
    output_tokens: Any
    cost: Any


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


class Metrics:
    """The gateway's own metric families, registered on a private registry (no module globals)."""

    def __init__(self, litellm_compat: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.deferred = Deferrals()
        counter, histogram = self.deferred.counter, self.deferred.histogram
        self.requests = counter(Counter("lmgate_requests", "Proxied requests.", REQUEST_LABELS, registry=r))
        self.request_seconds = histogram(Histogram(
            "lmgate_request_duration_seconds", "Whole request time as the client saw it.",
            ("requested_model", "inbound_protocol", "stream"), buckets=LATENCY_BUCKETS, registry=r,
        ))
        self.upstream_seconds = histogram(Histogram(
            "lmgate_upstream_duration_seconds", "Time in the upstream attempt that answered.",
            ("deployment", "provider"), buckets=LATENCY_BUCKETS, registry=r,
        ))
        self.overhead_seconds = histogram(Histogram(
            "lmgate_overhead_duration_seconds", "Request time not spent waiting on upstreams (non-streamed).",
            ("inbound_protocol",), buckets=LATENCY_BUCKETS, registry=r,
        ))
        self.ttft_seconds = histogram(Histogram(
            "lmgate_time_to_first_token_seconds", "Time to the first streamed byte sent to the client.",
            ("requested_model", "deployment"), buckets=LATENCY_BUCKETS, registry=r,
        ))
        self.input_tokens = counter(Counter("lmgate_input_tokens", "Prompt tokens.", ("model_group", "deployment", "provider"), registry=r))
        self.output_tokens = counter(Counter("lmgate_output_tokens", "Completion tokens.", ("model_group", "deployment", "provider"), registry=r))
        self.cost = counter(Counter("lmgate_spend_usd", "Estimated spend in USD.", ("model_group", "deployment", "provider"), registry=r))
        self.fallbacks = counter(Counter("lmgate_fallbacks", "Moves to another alias of a chain.", ("from_model", "to_model", "reason"), registry=r))
        self.retries = counter(Counter("lmgate_upstream_failures", "Failed upstream attempts.", ("deployment", "provider", "outcome"), registry=r))
        self.skips = counter(Counter(
            "lmgate_deployment_skips", "Candidates passed over before sending (cooldown, quota-rpm/tpm/rpd, waited).",
            ("deployment", "provider", "reason"), registry=r,
        ))
        self.rate_limited = counter(Counter("lmgate_rate_limit_rejections", "Requests refused by a limit.", ("scope", "name"), registry=r))
        self.in_flight = self.deferred.gauge(Gauge(
            "lmgate_in_flight_requests", "Requests being served now.", ("inbound_protocol",),
            registry=r, multiprocess_mode="livesum",
        ))
        self.deployment_state = Gauge(
            "lmgate_deployment_state", "1 for the state each deployment is in.",
            ("deployment", "model_group", "provider", "state"), registry=r, multiprocess_mode="liveall",
        )
        self.model_loaded = Gauge(
            "lmgate_deployment_model_loaded",
            "1 when the deployment's Ollama instance has its model in memory (router_settings.ollama_prefer_loaded).",
            ("deployment", "model_group"), registry=r, multiprocess_mode="liveall",
        )
        gauge = self.deferred.gauge
        self.key_spend = gauge(Gauge(
            "lmgate_key_spend_usd", "Spend of the virtual key in its current budget period (keys with a max_budget).",
            ("key_alias",), registry=r, multiprocess_mode="mostrecent",
        ))
        self.key_remaining = gauge(Gauge(
            "lmgate_key_remaining_budget_usd", "max_budget minus spend of the virtual key's current period.",
            ("key_alias",), registry=r, multiprocess_mode="mostrecent",
        ))
        self.team_spend = gauge(Gauge(
            "lmgate_team_spend_usd", "Spend of the team in its current budget period (teams with a max_budget).",
            ("team",), registry=r, multiprocess_mode="mostrecent",
        ))
        self.team_remaining = gauge(Gauge(
            "lmgate_team_remaining_budget_usd", "max_budget minus spend of the team's current period.",
            ("team",), registry=r, multiprocess_mode="mostrecent",
        ))
        self.soft_crossed = gauge(Gauge(
            "lmgate_soft_budget_crossed", "1 once the key's or team's spend reached its soft_budget.",
            ("scope", "name"), registry=r, multiprocess_mode="max",
        ))
        self.key_limits_fallback = counter(Counter(
            "lmgate_key_limits_fallback", "Key limit checks counted in this process because Redis was unreachable.",
            ("backend",), registry=r,
        ))
        self._cache: dict[tuple[object, ...], _Children] = {}
        self.compat: LiteLLMMetrics | None = None
        if litellm_compat:
            from lmgate.observability.compat import LiteLLMMetrics

            self.compat = LiteLLMMetrics(r, self.deferred)

    def _children(self, rec: RequestRecord, key: tuple[object, ...]) -> _Children:
        """The labelled slots for this kind of request, resolved once per label set."""
        dep = (rec.model_group, rec.deployment, rec.provider)
        found = self._cache[key] = _Children(
            requests=self.requests.labels(
                rec.requested_model, rec.model_group, rec.deployment, rec.provider, str(rec.status), rec.inbound,
                rec.key_alias, rec.team,
            ),
            seconds=self.request_seconds.labels(rec.requested_model, rec.inbound, "true" if rec.stream else "false"),
            upstream=self.upstream_seconds.labels(rec.deployment, rec.provider),
            overhead=self.overhead_seconds.labels(rec.inbound),
            ttft=self.ttft_seconds.labels(rec.requested_model, rec.deployment),
            input_tokens=self.input_tokens.labels(*dep),
            output_tokens=self.output_tokens.labels(*dep),
            cost=self.cost.labels(*dep),
        )
        return found

    def count(self, records: Iterable[RequestRecord]) -> None:
        """Count finished requests (a batch: the request path only queues its record, see server/observe.py).

        One loop with the slots' plain fields (`pending`, `observe`) used in place: this runs for
        every request, and each Python-level call in it costs throughput (bench/obs_overhead.sh).
        """
        cache = self._cache
        for rec in records:
            key = (
                rec.requested_model, rec.model_group, rec.deployment, rec.provider, rec.status, rec.inbound, rec.stream,
                rec.key_alias, rec.team,
            )
            c = cache.get(key) or self._children(rec, key)
            c.requests.pending += 1
            c.seconds.observe(rec.latency_s)
            if rec.deployment:
                if rec.upstream_s is not None:
                    c.upstream.observe(rec.upstream_s)
                    if not rec.stream:
                        overhead = rec.latency_s - rec.upstream_s
                        c.overhead.observe(overhead if overhead > 0.0 else 0.0)
                if rec.prompt_tokens:
                    c.input_tokens.pending += rec.prompt_tokens
                if rec.completion_tokens:
                    c.output_tokens.pending += rec.completion_tokens
                if rec.cost:
                    c.cost.pending += rec.cost
            if rec.ttft_s is not None and rec.stream:
                c.ttft.observe(rec.ttft_s)
            route = rec.route
            if len(route) != 1 or route[0][1] != "ok":  # a failure, a skip or a fallback
                self._count_route(rec)
            if rec.status == 429 and rec.error_class == "QuotaExceeded":  # key limits count at refusal (keys/limits.py)
                self.rate_limited.labels("upstream_quota", rec.requested_model).inc()
            if self.compat is not None:
                self.compat.observe(rec)

    def _count_route(self, rec: RequestRecord) -> None:
        """Failed attempts and moves between aliases."""
        attempts = rec.attempts
        previous_group = ""
        for i, attempt in enumerate(attempts):
            if previous_group and attempt.model_group != previous_group:
                self.fallbacks.labels(previous_group, attempt.model_group, attempts[i - 1].outcome).inc()
            previous_group = attempt.model_group
            if attempt.outcome == "ok":
                continue
            if is_skip(attempt.outcome):
                self.skips.labels(attempt.deployment, attempt.provider, attempt.outcome).inc()
            else:
                self.retries.labels(attempt.deployment, attempt.provider, attempt.outcome).inc()

    def budget_gauges(self, kind: str, name: str, spent: float, limit: float) -> None:
        """A key's or team's spend and what is left of its budget (labels: alias or team, never the key)."""
        bounded = limit != math.inf  # inf: only a soft_budget, nothing "remains"
        if kind == "key":
            self.key_spend.labels(name).value = spent
            if bounded:
                self.key_remaining.labels(name).value = limit - spent
        elif kind == "team":
            self.team_spend.labels(name).value = spent
            if bounded:
                self.team_remaining.labels(name).value = limit - spent
        if self.compat is not None and bounded:
            self.compat.budget(kind, name, limit - spent)

    def soft_budget_crossed(self, kind: str, name: str) -> None:
        self.soft_crossed.labels(kind, name).value = 1.0

    def set_deployment_states(self, states: list[tuple[str, str, str, str]]) -> None:
        """states: (deployment, model_group, provider, state) — one-hot per deployment."""
        for deployment, group, provider, state in states:
            for name in DEPLOYMENT_STATES:
                self.deployment_state.labels(deployment, group, provider, name).set(1 if name == state else 0)
            if self.compat is not None:
                self.compat.deployment_state(deployment, provider, state)

    def set_models_loaded(self, loaded: list[tuple[str, str, bool]]) -> None:
        """loaded: (deployment, model_group, loaded) for the deployments routed by loaded model."""
        for deployment, group, is_loaded in loaded:
            self.model_loaded.labels(deployment, group).set(1 if is_loaded else 0)

    def flush(self) -> None:
        """Move what was counted into prometheus_client (see deferred.py)."""
        self.deferred.flush()

    def render(self) -> bytes:
        self.flush()
        directory = multiprocess_dir()
        if directory:
            registry = CollectorRegistry()
            mp.MultiProcessCollector(registry, path=directory)
            return generate_latest(registry)
        return generate_latest(self.registry)
