"""What inbound handlers call to fill in the request's RequestRecord (no I/O, no metrics here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from lmgate.accounting.prices import cost
from lmgate.accounting.usage import token_counts
from lmgate.observability.record import Attempt, RequestRecord

if TYPE_CHECKING:
    from lmgate.config.runtime import Deployment, RuntimeConfig
    from lmgate.routing.router import RouteResult

RECORD: web.RequestKey[RequestRecord] = web.RequestKey("lmgate_record", RequestRecord)
F = TypeVar("F", bound=Callable[..., Any])


def model_endpoint(handler: F) -> F:
    """Mark a handler as a model call: it gets a RequestRecord, metrics and a request-log line."""
    handler.__lmgate_model_endpoint__ = True  # type: ignore[attr-defined]
    return handler


def record_of(request: web.Request) -> RequestRecord | None:
    return request.get(RECORD)


def note_request(rec: RequestRecord | None, model: str, stream: bool, body: dict[str, Any] | None, log_content: bool) -> None:
    if rec is None:
        return
    rec.requested_model = model
    rec.stream = stream
    if log_content and body is not None:
        rec.content = {k: body[k] for k in ("messages", "prompt", "input", "system") if k in body}


def attempts_of(raw_attempts: list[Any], config: RuntimeConfig) -> list[Attempt]:
    """The router's attempt trace as records (deployment name -> its alias and provider)."""
    out = []
    for item in raw_attempts:
        if isinstance(item, tuple):
            name, outcome, seconds = (*item, 0.0)[:3]
        else:
            name, outcome, seconds = item.deployment, item.outcome, getattr(item, "seconds", None) or 0.0
        dep = config.by_name.get(name)
        out.append(Attempt(name, dep.alias if dep else "", dep.provider if dep else "", str(outcome), float(seconds)))
    return out


def note_route(rec: RequestRecord | None, result: RouteResult, config: RuntimeConfig) -> None:
    if rec is None:
        return
    deployment = result.deployment
    rec.deployment = deployment.name
    rec.model_group = deployment.alias
    rec.provider = deployment.provider
    rec.upstream_model = deployment.upstream_model
    trace = getattr(result, "trace", None)
    rec.attempts = attempts_of(trace.attempts if trace is not None else result.attempts, config)


def note_failed_route(rec: RequestRecord | None, trace: Any, config: RuntimeConfig) -> None:
    """Every candidate failed: attribute the request to the last deployment actually tried."""
    if rec is None or trace is None:
        return
    rec.attempts = attempts_of(trace.attempts, config)
    tried = [a for a in rec.attempts if a.seconds > 0 or a.outcome.isdigit()]
    if tried:
        last = tried[-1]
        rec.deployment, rec.model_group, rec.provider = last.deployment, last.model_group, last.provider


def note_upstream_time(rec: RequestRecord | None, seconds: float) -> None:
    if rec is not None:
        rec.upstream_s = seconds


def note_usage(rec: RequestRecord | None, deployment: Deployment, usage: dict[str, Any] | None) -> None:
    if rec is None:
        return
    rec.prompt_tokens, rec.completion_tokens = token_counts(usage)
    rec.cost, rec.cost_source = cost(deployment, rec.prompt_tokens, rec.completion_tokens)


def note_error(rec: RequestRecord | None, err: Exception) -> None:
    if rec is not None:
        rec.error_class = type(err).__name__
        rec.error_message = str(err)[:500]


def note_completion_text(rec: RequestRecord | None, text: str) -> None:
    if rec is not None and rec.content is not None:
        rec.content["completion"] = text
