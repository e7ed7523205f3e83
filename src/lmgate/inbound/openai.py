"""The OpenAI API served to clients: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models.

Every path is also served without the `/v1` prefix, as LiteLLM does.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from lmgate.errors import BadRequest, GatewayError, ModelNotFound, UpstreamError
from lmgate.inbound import relay
from lmgate.inbound.common import read_json_body, require_model, state
from lmgate.keys import auth as keys_auth
from lmgate.observability import tracking
from lmgate.providers.base import Endpoint, GatewayRequest

NAME = "openai"
JSON = "application/json"
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def error_body(err: GatewayError) -> dict[str, Any]:
    return {"error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}}


def render_error(err: GatewayError) -> web.Response:
    headers = dict(err.headers)
    if isinstance(err, UpstreamError) and err.retry_after is not None:
        headers["Retry-After"] = str(int(err.retry_after + 0.999))
    return web.Response(status=err.status, body=orjson.dumps(error_body(err)), content_type=JSON, headers=headers)


def _gateway_request(endpoint: Endpoint, body: dict[str, Any]) -> GatewayRequest:
    model = require_model(body)
    stream = body.get("stream") is True and endpoint != "embedding"
    options = body.get("stream_options")
    wants_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
    return GatewayRequest(endpoint, NAME, body, model, stream, wants_usage)


class _OpenAIRendering:
    """OpenAI SSE and JSON for answers that came from another wire (e.g. an Ollama upstream)."""

    wire = NAME
    content_type = JSON
    stream_headers = SSE_HEADERS

    def body(self, greq: GatewayRequest, canonical: dict[str, Any]) -> bytes:
        return orjson.dumps(canonical)

    def chunk(self, greq: GatewayRequest, chunk: dict[str, Any]) -> bytes:
        if chunk.get("choices") or greq.wants_usage:
            return b"data: " + orjson.dumps(chunk) + b"\n\n"
        return b""

    def end(self, greq: GatewayRequest) -> bytes:
        return b"data: [DONE]\n\n"

    def error(self, exc: UpstreamError) -> bytes:
        return b"data: " + orjson.dumps(error_body(exc)) + b"\n\n"


RENDERING = _OpenAIRendering()


async def _respond(request: web.Request, greq: GatewayRequest) -> web.StreamResponse:
    return await relay.respond(request, greq, RENDERING)


@tracking.model_endpoint(NAME)
async def chat_completions(request: web.Request) -> web.StreamResponse:
    body = await read_json_body(request)
    greq = _gateway_request("chat", body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array of messages", param="messages")
    return await _respond(request, greq)


@tracking.model_endpoint(NAME)
async def completions(request: web.Request) -> web.StreamResponse:
    body = await read_json_body(request)
    greq = _gateway_request("completion", body)
    if body.get("prompt") is None:
        raise BadRequest("'prompt' is required", param="prompt")
    return await _respond(request, greq)


@tracking.model_endpoint(NAME)
async def embeddings(request: web.Request) -> web.StreamResponse:
    body = await read_json_body(request)
    greq = _gateway_request("embedding", body)
    if body.get("input") in (None, "", []):
        raise BadRequest("'input' is required: a string or an array of strings", param="input")
    return await _respond(request, greq)


def _model_card(alias: str, created: int) -> dict[str, Any]:
    return {"id": alias, "object": "model", "created": created, "owned_by": "lmgate"}


async def list_models(request: web.Request) -> web.Response:
    cfg = state(request).config
    data = [_model_card(alias, cfg.loaded_at) for alias in keys_auth.visible(request, cfg.aliases)]
    return web.Response(body=orjson.dumps({"object": "list", "data": data}), content_type=JSON)


async def get_model(request: web.Request) -> web.Response:
    alias = request.match_info["model"]
    cfg = state(request).config
    if alias not in cfg.aliases or not keys_auth.visible(request, [alias]):
        raise ModelNotFound(
            f"model '{alias}' is not served by this gateway; GET /v1/models lists the available models",
            param="model",
        )
    return web.Response(body=orjson.dumps(_model_card(alias, cfg.loaded_at)), content_type=JSON)


def routes() -> list[web.RouteDef]:
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


def owns(path: str) -> bool:
    return True  # the default protocol for every path no other protocol claims
