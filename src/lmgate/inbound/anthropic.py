"""The Anthropic Messages API served to clients: POST /v1/messages (stream and not),
POST /v1/messages/count_tokens, and GET /v1/models in Anthropic's shape when the request carries
`anthropic-version` (Claude Code and the SDKs send it; OpenAI clients do not).

Every alias is served, whatever its upstream: an Anthropic upstream gets the body as it came and its
bytes are relayed; others get the canonical OpenAI form (translate/anthropic.py) and the answer is
rendered back as Anthropic messages and events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from lmgate.core import GatewayRequest
from lmgate.errors import GatewayError, ModelNotFound, UpstreamError
from lmgate.inbound import relay
from lmgate.inbound.base import BY_HEADER, BY_PATH, NOT_MINE, InboundProtocol, retry_after_headers
from lmgate.inbound.common import read_json_body, require_model
from lmgate.keys import auth as keys_auth
from lmgate.observability import tracking
from lmgate.server.state import state
from lmgate.translate.anthropic import (
    canonical_request,
    error_body,
    estimate_tokens,
    message,
)
from lmgate.translate.anthropic_stream import MessageStream, error_frame
from lmgate.validate.anthropic import messages as check_messages

NAME = "anthropic"
JSON = "application/json"
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
PATHS = ("/v1/messages", "/v1/messages/count_tokens")
FORWARDED = ("anthropic-beta",)  # client headers an Anthropic upstream should see


class _Renderer:
    """Anthropic JSON and SSE for answers that came from another wire."""

    __slots__ = ("greq", "stream")

    def __init__(self, greq: GatewayRequest) -> None:
        self.greq = greq
        self.stream = MessageStream(greq.model, greq.body, estimate_tokens(greq.body) if greq.stream else 0)

    def body(self, canonical: dict[str, Any]) -> bytes:
        return orjson.dumps(message(canonical, self.greq.model, self.greq.body))

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        return self.stream.chunk(chunk)

    def end(self) -> bytes:
        return self.stream.end()

    def error(self, exc: UpstreamError) -> bytes:
        return error_frame(exc.status, exc.message)


class AnthropicProtocol(InboundProtocol):
    """The Anthropic Messages API under /v1/messages, and /v1/models for Anthropic clients."""

    name = NAME
    content_type = JSON
    stream_headers = SSE_HEADERS
    content_keys = ("system", "messages")

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/messages", messages),
            web.post("/v1/messages/count_tokens", count_tokens),
            web.get("/v1/models", list_models, allow_head=False),
            web.get("/v1/models/{model:.+}", get_model, allow_head=False),
        ]

    def claim(self, request: web.Request) -> int:
        if "anthropic-version" in request.headers and request.path.startswith("/v1/"):
            return BY_HEADER
        return BY_PATH if request.path in PATHS else NOT_MINE

    def render_error(self, err: GatewayError) -> web.Response:
        """Anthropic's error body; its `request_id` and `request-id` header are lmgate's request id."""
        ident = tracking.request_id(tracking.current_record())
        body = {**error_body(err.status, err.message), "request_id": ident}
        headers = {**retry_after_headers(err), "request-id": ident, "x-request-id": ident}
        return web.Response(status=err.status, body=orjson.dumps(body), content_type=JSON, headers=headers)

    def renderer(self, greq: GatewayRequest) -> _Renderer:
        return _Renderer(greq)


ANTHROPIC = AnthropicProtocol()


def _forwarded(request: web.Request) -> dict[str, str]:
    return {h: request.headers[h] for h in FORWARDED if h in request.headers}


@tracking.model_endpoint(NAME)
async def messages(request: web.Request) -> web.StreamResponse:
    body = await read_json_body(request)
    model = require_model(body)
    stream = body.get("stream") is True
    check_messages(body)  # types and structure; the rest (document blocks ...) where the upstream cannot take it
    greq = GatewayRequest(
        "chat", NAME, body, model, stream, wants_usage=stream, to_canonical=canonical_request,
        forward_headers=_forwarded(request),
    )
    return await relay.respond(request, greq, ANTHROPIC)


async def count_tokens(request: web.Request) -> web.Response:
    """The alias's first deployment counts when its upstream can (Anthropic's own count_tokens), else
    the documented estimate; an upstream failure falls back to the estimate too."""
    body = await read_json_body(request)
    model = require_model(body)
    keys_auth.check_model(request, model)
    st = state(request)
    deployments = st.router.deployments(st.router.resolve(model))  # group aliases and wildcards too
    greq = GatewayRequest(
        "chat", NAME, {**body, "max_tokens": 1}, model, to_canonical=canonical_request, forward_headers=_forwarded(request)
    )
    dep = deployments[0]
    count: int | None = None
    try:
        count = await dep.adapter.count_tokens(st.pool, dep, greq)
    except UpstreamError:
        count = None
    if count is None:
        greq.canonical()  # the same 400s as /v1/messages before an estimate is given
        count = estimate_tokens(body)
    return web.Response(body=orjson.dumps({"input_tokens": count}), content_type=JSON)


def _unknown(model: str) -> ModelNotFound:
    return ModelNotFound(
        f"model '{model}' is not served by this gateway; GET /v1/models lists the available models", param="model"
    )


def _card(alias: str, loaded_at: int) -> dict[str, Any]:
    stamp = datetime.fromtimestamp(loaded_at, UTC).isoformat().replace("+00:00", "Z")
    return {"id": alias, "type": "model", "display_name": alias, "created_at": stamp, "lifecycle": "active"}


async def list_models(request: web.Request) -> web.Response:
    cfg = state(request).config
    data = [_card(alias, cfg.loaded_at) for alias in cfg.listed_models()]
    page = {"data": data, "has_more": False, "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None}
    return web.Response(body=orjson.dumps(page), content_type=JSON)


async def get_model(request: web.Request) -> web.Response:
    alias = request.match_info["model"]
    cfg = state(request).config
    if cfg.resolve(alias) not in cfg.aliases:
        raise _unknown(alias)
    return web.Response(body=orjson.dumps(_card(alias, cfg.loaded_at)), content_type=JSON)
