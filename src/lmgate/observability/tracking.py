"""What inbound handlers call to fill in the request's RequestRecord (no I/O, no metrics here)."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from lmgate.observability.record import REQUEST_IDS, RequestRecord

if TYPE_CHECKING:
    from lmgate.config.runtime import RuntimeConfig
    from lmgate.core import GatewayRequest, Usage
    from lmgate.routing.router import RouteResult
    from lmgate.routing.trace import RouteTrace

# The record of the request being served; set by the observation middleware around the handler
# (aiohttp serves a connection's requests in one task, so it is reset after each request).
CURRENT: ContextVar[RequestRecord | None] = ContextVar("lmgate_record", default=None)
CLIENT_GONE = "ClientDisconnected"
F = TypeVar("F", bound=Callable[..., Any])


def model_endpoint(protocol: str) -> Callable[[F], F]:
    """Mark a handler as a model call in `protocol` (its InboundProtocol's name): it gets a
    RequestRecord, metrics and a request-log line."""

    def mark(handler: F) -> F:
        handler.__lmgate_model_endpoint__ = protocol  # type: ignore[attr-defined]
        return handler

    return mark


def current_record() -> RequestRecord | None:
    return CURRENT.get()


def request_id(rec: RequestRecord | None) -> str:
    """lmgate's own id of this request (the request log's key); a fresh one when nothing observes it."""
    if rec is None:
        return REQUEST_IDS.format(REQUEST_IDS.next())
    if not rec.request_id:
        rec.request_id = REQUEST_IDS.format(rec._seq)
    return rec.request_id


def id_headers(rec: RequestRecord | None, request: Any) -> dict[str, str]:
    """`x-request-id`: lmgate's own id of this request (the request log's key); a client's own
    `x-request-id` is kept beside it and echoed as `x-client-request-id`."""
    ident = request_id(rec)
    client = request.headers.get("x-request-id")
    if rec is None or not client:
        return {"x-request-id": ident}
    rec.client_request_id = client[:200]
    return {"x-request-id": rec.request_id, "x-client-request-id": rec.client_request_id}


def note_request(rec: RequestRecord | None, greq: GatewayRequest, content_keys: tuple[str, ...], log_content: bool) -> None:
    """The parsed request; with log_content, its prompt text (the protocol names the keys that hold it)."""
    if rec is None:
        return
    rec.requested_model = greq.model
    rec.stream = greq.stream
    rec._endpoint = greq.endpoint
    if log_content:
        body = greq.body
        rec.content = {k: body[k] for k in content_keys if k in body}


def note_route(rec: RequestRecord | None, result: RouteResult, config: RuntimeConfig) -> None:
    if rec is None:
        return
    deployment = result.deployment
    rec.deployment = deployment.name
    rec.model_group = deployment.alias
    rec.provider = deployment.provider
    rec.upstream_model = deployment.upstream_model
    rec._trace = result.trace
    rec._deployments = config.by_name


def note_failed_route(rec: RequestRecord | None, trace: RouteTrace | None, config: RuntimeConfig) -> None:
    """Every candidate failed: attribute the request to the last deployment actually tried."""
    if rec is None or trace is None:
        return
    rec._trace = trace
    rec._deployments = config.by_name
    tried = [a for a in trace.attempts if a.seconds is not None]  # skipped candidates have no time
    if tried:
        dep = config.by_name.get(tried[-1].deployment)
        if dep is not None:
            rec.deployment, rec.model_group, rec.provider = dep.name, dep.alias, dep.provider


def note_upstream_done(rec: RequestRecord | None, seconds: float, usage: Usage | None) -> None:
    """The answering upstream (note_route's) finished: its time and usage (tokens and cost follow in
    `rec.settle()`)."""
    if rec is None:
        return
    rec.upstream_s = seconds
    rec._usage = usage


def note_error(rec: RequestRecord | None, err: Exception) -> None:
    if rec is not None:
        rec.error_class = type(err).__name__
        rec.error = str(err)[:500]


def note_client_gone(rec: RequestRecord | None) -> None:
    if rec is not None:
        rec.error_class = CLIENT_GONE


def note_completion(rec: RequestRecord | None, canonical: dict[str, Any]) -> None:
    """With log_content on, keep a non-streamed answer's text (chat message or completion text)."""
    if rec is None or rec.content is None:
        return
    choices = canonical.get("choices") or []
    first = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = first.get("message")
    text = message.get("content") if isinstance(message, dict) else first.get("text")
    if isinstance(text, str):
        rec.content["completion"] = text
