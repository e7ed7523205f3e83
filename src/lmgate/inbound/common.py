"""Helpers every inbound protocol shares: reading the body once, requiring the model."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from lmgate.errors import BadRequest, BodyTooLarge, InvalidJSON
from lmgate.server.state import STATE


def _too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(
        f"request body is larger than the {limit / 1048576:g} MB limit "
        "(general_settings.max_request_body_mb raises it)"
    )


async def read_json_body(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, parsed once; 413/400 with a clear message otherwise."""
    limit = request.app[STATE].config.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _too_large(limit) from None
    if not raw:
        raise InvalidJSON("request body is empty; send a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSON(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidJSON("request body must be a JSON object")
    return body


def require_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required: the name of a model this gateway serves", param="model")
    return model
