"""The seam between a client protocol and the gateway.

An `InboundProtocol` object owns everything about one client API: its name (the `wire` of the requests
it parses), its routes, which requests are its own (`claim`: by path, and by headers where protocols
share a path), how canonical answers are written in its format (`renderer`), and how errors are
rendered. Its handlers parse a body into a `GatewayRequest` whose `to_canonical` is the protocol's pure
translation to the OpenAI form (translate/<protocol>.py; None for OpenAI itself) and call
`relay.respond`. The registry in `inbound/__init__.py` asks each protocol how surely it claims a
request; the surest claim wins and an explicit default renders the rest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol

from aiohttp import web

from lmgate.core import GatewayRequest
from lmgate.errors import GatewayError, UpstreamError

# How surely a protocol claims a request: not at all, by a path prefix it serves (`/api/...`), by one of
# its own paths, by a header only its clients send (`anthropic-version`). The surest claim wins.
NOT_MINE, BY_PREFIX, BY_PATH, BY_HEADER = 0, 1, 2, 3


class Renderer(Protocol):
    """Writes one request's canonical (OpenAI-shaped) answer in the client's protocol. Made per
    request, only when the answer did not arrive in the client's wire; may keep stream state."""

    def body(self, canonical: dict[str, Any]) -> bytes: ...

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        """The bytes for one canonical stream chunk (b"" to send nothing yet)."""

    def end(self) -> bytes:
        """The closing bytes of a stream that completed."""

    def error(self, exc: UpstreamError) -> bytes:
        """The protocol's in-stream error frame, for failures after the first byte."""


class InboundProtocol(ABC):
    name: ClassVar[str]  # the wire of the requests it parses: "openai", "ollama", ...
    content_type: ClassVar[str] = "application/json"  # of whole answers
    stream_headers: ClassVar[dict[str, str]]
    # the request keys that hold prompt text, kept in the request log with general_settings.log_content
    content_keys: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def routes(self) -> list[web.RouteDef]: ...

    @abstractmethod
    def claim(self, request: web.Request) -> int:
        """NOT_MINE, BY_PATH or BY_HEADER: how surely `request` is in this protocol."""

    @abstractmethod
    def render_error(self, err: GatewayError) -> web.Response: ...

    @abstractmethod
    def renderer(self, greq: GatewayRequest) -> Renderer: ...

    async def settle(self, greq: GatewayRequest, renderer: Renderer | None) -> None:
        """Work that must be done before an answer's last bytes go out (the whole body, or a stream's
        `end`), e.g. storing it so that a follow-up request finds it. Nothing by default."""
        return None


def retry_after_headers(err: GatewayError) -> dict[str, str]:
    """The error's own headers, with Retry-After when an upstream said when to come back."""
    headers = dict(err.headers)
    if isinstance(err, UpstreamError) and err.retry_after is not None:
        headers["Retry-After"] = str(int(err.retry_after + 0.999))
    return headers
