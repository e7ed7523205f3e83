"""LiteLLM's Prometheus metric names and labels, so existing Grafana dashboards keep working.

Label values that would carry a secret or an address in LiteLLM (`hashed_api_key`, `api_base`) are
exported empty; user/team labels lmgate has no notion of are empty too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from lmgate.observability.deferred import Deferrals
from lmgate.observability.metrics import LATENCY_BUCKETS
from lmgate.routing.trace import is_skip

if TYPE_CHECKING:
    from lmgate.observability.record import RequestRecord

USER = ("end_user", "hashed_api_key", "api_key_alias", "team", "team_alias", "user")
PROXY_TOTAL = (*USER, "requested_model", "status_code", "user_email", "route")
PROXY_FAILED = (*USER, "requested_model", "exception_status", "exception_class", "route")
TOKENS = (*USER, "model", "requested_model")
REQUESTS = (*USER, "model", "user_email")
LATENCY = (*USER, "requested_model", "model")
DEPLOYMENT = ("requested_model", "litellm_model_name", "model_id", "api_base", "api_provider", "hashed_api_key", "api_key_alias", "team", "team_alias")
DEPLOYMENT_FAILURE = (*DEPLOYMENT, "exception_status", "exception_class")
FALLBACK = ("requested_model", "fallback_model", "hashed_api_key", "api_key_alias", "team", "team_alias", "exception_status", "exception_class")
STATE = {"healthy": 0, "cooling_down": 2, "over_quota": 1}  # LiteLLM: 0 healthy, 1 partial, 2 complete outage


class LiteLLMMetrics:
    def __init__(self, r: CollectorRegistry, deferred: Deferrals) -> None:
        counter, histogram = deferred.counter, deferred.histogram
        self.proxy_total = counter(Counter("litellm_proxy_total_requests_metric", "Total requests to the proxy.", PROXY_TOTAL, registry=r))
        self.proxy_failed = counter(Counter("litellm_proxy_failed_requests_metric", "Failed requests.", PROXY_FAILED, registry=r))
        self.requests = counter(Counter("litellm_requests_metric", "LLM calls.", REQUESTS, registry=r))
        self.input_tokens = counter(Counter("litellm_input_tokens_metric", "Input tokens.", TOKENS, registry=r))
        self.output_tokens = counter(Counter("litellm_output_tokens_metric", "Output tokens.", TOKENS, registry=r))
        self.total_tokens = counter(Counter("litellm_total_tokens_metric", "Input + output tokens.", TOKENS, registry=r))
        self.spend = counter(Counter("litellm_spend_metric", "Spend in USD.", (*USER, "model"), registry=r))
        self.total_latency = histogram(Histogram(
            "litellm_request_total_latency_metric", "Whole request latency.", LATENCY, buckets=LATENCY_BUCKETS, registry=r
        ))
        self.api_latency = histogram(Histogram(
            "litellm_llm_api_latency_metric", "Upstream call latency.", LATENCY, buckets=LATENCY_BUCKETS, registry=r
        ))
        self.ttft = histogram(Histogram(
            "litellm_llm_api_time_to_first_token_metric", "Time to first token.", LATENCY, buckets=LATENCY_BUCKETS, registry=r
        ))
        self.deployment_total = counter(Counter("litellm_deployment_total_requests", "Requests per deployment.", DEPLOYMENT, registry=r))
        self.deployment_success = counter(Counter("litellm_deployment_success_responses", "Successes per deployment.", DEPLOYMENT, registry=r))
        self.deployment_failure = counter(Counter(
            "litellm_deployment_failure_responses", "Failures per deployment.", DEPLOYMENT_FAILURE, registry=r
        ))
        self.fallback_ok = counter(Counter("litellm_deployment_successful_fallbacks", "Successful fallbacks.", FALLBACK, registry=r))
        self.fallback_failed = counter(Counter("litellm_deployment_failed_fallbacks", "Failed fallbacks.", FALLBACK, registry=r))
        self.state = Gauge(
            "litellm_deployment_state", "0 healthy, 1 partial outage, 2 complete outage.",
            ("litellm_model_name", "model_id", "api_base", "api_provider"), registry=r, multiprocess_mode="liveall",
        )

        gauge = deferred.gauge
        self.key_budget = gauge(Gauge(
            "litellm_remaining_api_key_budget_metric", "Remaining budget of the API key.",
            ("hashed_api_key", "api_key_alias"), registry=r, multiprocess_mode="mostrecent",
        ))
        self.team_budget = gauge(Gauge(
            "litellm_remaining_team_budget_metric", "Remaining budget of the team.",
            ("team", "team_alias"), registry=r, multiprocess_mode="mostrecent",
        ))

    def budget(self, kind: str, name: str, remaining: float) -> None:
        """LiteLLM's remaining-budget gauges (hashed_api_key left empty: lmgate labels by alias only)."""
        if kind == "key":
            self.key_budget.labels("", name).value = remaining
        elif kind == "team":
            self.team_budget.labels(name, name).value = remaining

    def observe(self, rec: RequestRecord) -> None:
        user = ("", "", rec.key_alias, rec.team, rec.team, "")
        route = rec.path
        self.proxy_total.labels(*user, rec.requested_model, str(rec.status), "", route).inc()
        if rec.status >= 400:
            self.proxy_failed.labels(*user, rec.requested_model, str(rec.status), rec.error_class, route).inc()
        if rec.deployment:
            self.requests.labels(*user, rec.model_group, "").inc()
            toks = (*user, rec.model_group, rec.requested_model)
            self.input_tokens.labels(*toks).inc(rec.prompt_tokens)
            self.output_tokens.labels(*toks).inc(rec.completion_tokens)
            self.total_tokens.labels(*toks).inc(rec.prompt_tokens + rec.completion_tokens)
            self.spend.labels(*user, rec.model_group).inc(rec.cost)
        lat = (*user, rec.requested_model, rec.model_group)
        self.total_latency.labels(*lat).observe(rec.latency_s)
        if rec.upstream_s is not None:
            self.api_latency.labels(*lat).observe(rec.upstream_s)
        if rec.ttft_s is not None and rec.stream:
            self.ttft.labels(*lat).observe(rec.ttft_s)
        attempts = rec.attempts
        for a in attempts:
            if is_skip(a.outcome):  # never sent: LiteLLM counts calls to deployments, not candidates passed over
                continue
            dep = (rec.requested_model, a.deployment, a.deployment, "", a.provider, "", rec.key_alias, rec.team, rec.team)
            self.deployment_total.labels(*dep).inc()
            if a.outcome == "ok":
                self.deployment_success.labels(*dep).inc()
            else:
                self.deployment_failure.labels(*dep, a.outcome, "").inc()
        groups = [a.model_group for a in attempts]
        if len(set(groups)) > 1:
            counter = self.fallback_ok if rec.status < 400 else self.fallback_failed
            reason = next((a.outcome for a in attempts if a.outcome != "ok"), "")
            counter.labels(rec.requested_model, attempts[-1].model_group, "", rec.key_alias, rec.team, rec.team, reason, rec.error_class).inc()

    def deployment_state(self, deployment: str, provider: str, state: str) -> None:
        self.state.labels(deployment, deployment, "", provider).set(STATE.get(state, 0))
