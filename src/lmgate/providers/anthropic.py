"""The Anthropic Messages API as an upstream (`anthropic/claude-…`, default base https://api.anthropic.com).

An Anthropic client's request goes through as it came (only `model` rewritten, and thinking blocks
that lmgate made from another upstream's reasoning dropped: Anthropic rejects their signatures); the
answer's bytes are relayed untouched, with usage (cache reads and writes included) read from the
`message_start`/`message_delta` events. OpenAI and Ollama clients are translated both ways with
translate/anthropic_upstream.py. A stream is held back until its first content block, so an
`overloaded_error` event before any content still lets the router fall back (529 and 429 statuses
fall back anyway).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import aiohttp
import orjson

from lmgate.core import GatewayRequest, UpstreamReply, UpstreamStream, Usage
from lmgate.errors import UnsupportedEndpoint, UpstreamProtocolError
from lmgate.providers.base import Provider
from lmgate.providers.http import post, read_json, transport_error
from lmgate.translate.anthropic import obj as as_object
from lmgate.translate.anthropic_stream import ChunkTranslator, upstream_error
from lmgate.translate.anthropic_upstream import (
    DEFAULT_MAX_TOKENS,
    chat_completion,
    drop_foreign_thinking,
    messages_request,
    usage_of,
)

if TYPE_CHECKING:
    from lmgate.core import Deployment
    from lmgate.providers.http import UpstreamPool

WIRE = "anthropic"
VERSION = "2023-06-01"
MESSAGES = "/v1/messages"
COUNT = "/v1/messages/count_tokens"
_TRAILING = ("/v1/messages", "/v1")


@dataclass(slots=True)
class AnthropicReply(UpstreamReply):
    model: str = ""  # the name the client asked for, shown in translated answers

    def canonical(self) -> dict[str, Any]:
        return chat_completion(self.data, self.model)


def _events(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(event name, data) of each SSE event in `block`."""
    for event in block.split(b"\n\n"):
        name = b""
        data: list[bytes] = []
        for line in event.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip()
            elif line.startswith(b"data:"):
                data.append(line[5:].lstrip(b" "))
        if name or data:
            yield name, b"\n".join(data)


class AnthropicSSEStream(UpstreamStream):
    wire = WIRE

    def __init__(self, resp: aiohttp.ClientResponse, deployment: Deployment, model: str) -> None:
        self._resp = resp
        self._deployment = deployment
        self._model = model
        self._counts: dict[str, Any] = {}
        self.usage: Usage | None = None
        self._content = False  # a content block has begun
        self._stopped = False  # message_stop seen

    def _json(self, data: bytes) -> dict[str, Any]:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            raise UpstreamProtocolError(
                f"upstream '{self._deployment.name}' sent a stream event that is not a JSON object",
                deployment=self._deployment.name,
            )
        return obj

    def _scan(self, block: bytes) -> None:
        """Note what the events in `block` mean: usage, content begun, the end; raise on `error`.
        Only the few events that carry usage or an error are parsed."""
        for name, data in _events(block):
            if name == b"content_block_start":
                self._content = True
            elif name == b"message_stop":
                self._stopped = True
            elif name == b"error":
                raise upstream_error(self._json(data), self._deployment.name)
            elif name in (b"message_start", b"message_delta"):
                obj = self._json(data)
                usage = obj.get("usage") if name == b"message_delta" else as_object(obj.get("message")).get("usage")
                if isinstance(usage, dict):
                    self._counts.update({k: v for k, v in usage.items() if v is not None})
                    self.usage = usage_of(self._counts)

    async def _blocks(self) -> AsyncIterator[bytes]:
        buf = b""
        try:
            async for data in self._resp.content.iter_any():
                buf += data.replace(b"\r\n", b"\n") if b"\r" in data else data
                cut = buf.rfind(b"\n\n")
                if cut >= 0:
                    block, buf = buf[: cut + 2], buf[cut + 2 :]
                    yield block
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_error(exc, self._deployment, "in the middle of the stream") from None
        finally:
            self._resp.release()
        if buf.strip():
            yield buf.rstrip(b"\n") + b"\n\n"

    async def frames(self) -> AsyncIterator[bytes]:
        held: list[bytes] = []  # events before the first content block: a failure there may still fall back
        async for block in self._blocks():
            self._scan(block)
            if self._content:
                if held:
                    block, held = b"".join(held) + block, []
                yield block
            else:
                held.append(block)
        if not self._stopped:
            raise UpstreamProtocolError(
                f"upstream '{self._deployment.name}' ended the stream before it was complete",
                deployment=self._deployment.name,
            )
        if held:  # a message without content blocks
            yield b"".join(held)

    async def batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        translator = ChunkTranslator(self._model, self._deployment.name)
        async for block in self.frames():
            batch: list[dict[str, Any]] = []
            for _, data in _events(block):
                if data:
                    batch.extend(translator.feed(self._json(data)))
            if batch:
                yield batch

    async def aclose(self) -> None:
        self._resp.release()
        if not self._resp.closed and not self._stopped:
            self._resp.close()


class Anthropic(Provider):
    prefixes: ClassVar[tuple[str, ...]] = ("anthropic",)
    wire = WIRE
    probe = "anthropic"

    def default_api_base(self, prefix: str) -> str | None:
        return "https://api.anthropic.com"

    def api_key_env(self, prefix: str, api_base: str = "") -> str | None:
        return "ANTHROPIC_API_KEY"

    def normalise_api_base(self, prefix: str, api_base: str) -> tuple[str, str | None]:
        base = api_base.rstrip("/")
        for suffix in _TRAILING:
            if base.endswith(suffix):
                return base[: -len(suffix)], f"removed '{suffix}' (lmgate appends {MESSAGES} itself)"
        return base, None

    def headers(self, deployment: Deployment) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "anthropic-version": VERSION}
        if deployment.api_key:
            headers["x-api-key"] = deployment.api_key
        headers.update(deployment.extra_headers)
        return headers

    def upstream_body(self, deployment: Deployment, request: GatewayRequest) -> dict[str, Any]:
        if request.native_to(self.wire):
            body = drop_foreign_thinking(request.body) or dict(request.body)
            body["model"] = deployment.upstream_model
            return body
        self.refuse_choices(deployment, request)
        canonical = {**deployment.request_defaults, **request.canonical()}
        limit = deployment.request_defaults.get("max_tokens")
        return messages_request(
            canonical, deployment.upstream_model, request.stream, limit if isinstance(limit, int) else DEFAULT_MAX_TOKENS
        )

    def _headers(self, deployment: Deployment, request: GatewayRequest) -> dict[str, str]:
        beta = request.forward_headers.get("anthropic-beta") if request.native_to(self.wire) else None
        return {**deployment.headers, "anthropic-beta": beta} if beta else deployment.headers

    async def count_tokens(self, pool: UpstreamPool, deployment: Deployment, request: GatewayRequest) -> int | None:
        """Anthropic's own count (`POST /v1/messages/count_tokens`); `max_tokens` and `stream` are not
        part of that request."""
        body = self.upstream_body(deployment, request)
        body = {k: v for k, v in body.items() if k not in ("max_tokens", "stream")}
        resp = await post(pool, deployment, deployment.api_base + COUNT, orjson.dumps(body), False, self._headers(deployment, request))
        _, data = await read_json(resp, deployment)
        count = data.get("input_tokens")
        return count if isinstance(count, int) else None

    async def send(
        self, pool: UpstreamPool, deployment: Deployment, request: GatewayRequest
    ) -> UpstreamReply | UpstreamStream:
        if request.endpoint != "chat":
            raise UnsupportedEndpoint(
                f"'{request.model}' is an Anthropic model: it serves chat (messages), not {request.endpoint}s",
                param="model",
            )
        body = orjson.dumps(self.upstream_body(deployment, request))
        resp = await post(pool, deployment, deployment.api_base + MESSAGES, body, request.stream, self._headers(deployment, request))
        if request.stream:
            if resp.content_type != "text/event-stream":
                resp.release()
                raise UpstreamProtocolError(
                    f"upstream '{deployment.name}' answered a streaming request with "
                    f"content-type {resp.content_type}, not text/event-stream",
                    deployment=deployment.name,
                )
            return AnthropicSSEStream(resp, deployment, request.model)
        raw, data = await read_json(resp, deployment)
        return AnthropicReply(WIRE, raw, data, usage_of(data.get("usage")), model=request.model)
