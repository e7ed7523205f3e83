"""The OpenAI API served to clients: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models.

Every path is also served without the `/v1` prefix, as LiteLLM does.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from lmgate.core import Endpoint, GatewayRequest
from lmgate.errors import GatewayError, ModelNotFound, UpstreamError
from lmgate.inbound import relay
from lmgate.inbound.base import BY_PATH, BY_PREFIX, NOT_MINE, InboundProtocol, retry_after_headers
from lmgate.inbound.common import read_json_body, require_model
from lmgate.keys import auth as keys_auth
from lmgate.observability import tracking
from lmgate.server.state import state
from lmgate.validate import openai as validate

NAME = "openai"
JSON = "application/json"
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
PATHS = ("/chat/completions", "/completions", "/embeddings", "/models")


def error_body(err: GatewayError) -> dict[str, Any]:
    return {"error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}}


def _gateway_request(endpoint: Endpoint, body: dict[str, Any]) -> GatewayRequest:
    model = require_model(body)
    stream = body.get("stream") is True and endpoint != "embedding"
    options = body.get("stream_options")
    wants_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
    return GatewayRequest(endpoint, NAME, body, model, stream, wants_usage)


class _Renderer:
    """OpenAI SSE and JSON for answers that came from another wire (e.g. an Ollama upstream)."""

    __slots__ = ("wants_usage",)

    def __init__(self, greq: GatewayRequest) -> None:
        self.wants_usage = greq.wants_usage

    def body(self, canonical: dict[str, Any]) -> bytes:
        return orjson.dumps(canonical)

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        if chunk.get("choices") or self.wants_usage:
            return b"data: " + orjson.dumps(chunk) + b"\n\n"
        return b""

    def end(self) -> bytes:
        return b"data: [DONE]\n\n"

    def error(self, exc: UpstreamError) -> bytes:
        return b"data: " + orjson.dumps(error_body(exc)) + b"\n\n"


class OpenAIProtocol(InboundProtocol):
    """The OpenAI API: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models."""

    name = NAME
    content_type = JSON
    stream_headers = SSE_HEADERS
    content_keys = ("messages", "prompt", "input")

    def routes(self) -> list[web.RouteDef]:
        return _routes()

    def claim(self, request: web.Request) -> int:
        path = request.path.removeprefix("/v1")
        if path in PATHS or path.startswith("/models/"):
            return BY_PATH
        return BY_PREFIX if request.path.startswith("/v1/") else NOT_MINE

    def render_error(self, err: GatewayError) -> web.Response:
        return web.Response(
            status=err.status, body=orjson.dumps(error_body(err)), content_type=JSON, headers=retry_after_headers(err)
        )

    def renderer(self, greq: GatewayRequest) -> _Renderer:
        return _Renderer(greq)


OPENAI = OpenAIProtocol()


async def _respond(request: web.Request, greq: GatewayRequest) -> web.StreamResponse:
    return await relay.respond(request, greq, OPENAI)


@tracking.model_endpoint(NAME)
async def chat_completions(request: web.Request) -> web.StreamResponse:
    body = await read_json_body(request)
    greq = _gateway_request("chat", body)
    validate.chat(body)
    return await _respond(request, greq)


@tracking.model_endpoint(NAME)
async def completions(request: web.Request) -> web.StreamResponse:
    body = await read_json_body(request)
    greq = _gateway_request("completion", body)
    validate.completion(body)
    return await _respond(request, greq)


@tracking.model_endpoint(NAME)
async def embeddings(request: web.Request) -> web.StreamResponse:
    body = await read_json_body(request)
    greq = _gateway_request("embedding", body)
    validate.embedding(body)
    return await _respond(request, greq)


def _model_card(alias: str, created: int) -> dict[str, Any]:
    return {"id": alias, "object": "model", "created": created, "owned_by": "lmgate"}


async def list_models(request: web.Request) -> web.Response:
    """The aliases and visible group aliases; wildcard routes (`groq/*`) only with
    `?return_wildcard_routes=true`, as LiteLLM lists them when it knows no model list for the provider."""
    cfg = state(request).config
    names = cfg.listed_models()
    if request.query.get("return_wildcard_routes", "").lower() == "true":
        names += [n for n in cfg.names.wildcard_aliases if n in cfg.aliases]
    data = [_model_card(name, cfg.loaded_at) for name in keys_auth.visible(request, names)]
    return web.Response(body=orjson.dumps({"object": "list", "data": data}), content_type=JSON)


async def get_model(request: web.Request) -> web.Response:
    alias = request.match_info["model"]
    cfg = state(request).config
    if cfg.resolve(alias) not in cfg.aliases or not keys_auth.visible(request, [alias]):
        raise ModelNotFound(
            f"model '{alias}' is not served by this gateway; GET /v1/models lists the available models",
            param="model",
        )
    return web.Response(body=orjson.dumps(_model_card(alias, cfg.loaded_at)), content_type=JSON)


def _routes() -> list[web.RouteDef]:
    table: list[web.RouteDef] = []
    for prefix in ("/v1", ""):
        table += [
            web.post(f"{prefix}/chat/completions", chat_completions),
            web.post(f"{prefix}/completions", completions),
            web.post(f"{prefix}/embeddings", embeddings),
            web.get(f"{prefix}/models", list_models, allow_head=False),
            web.get(prefix + "/models/{model:.+}", get_model, allow_head=False),
        ]
    return table
