"""The seam between the gateway and an upstream protocol.

A `Provider` adapter turns a `GatewayRequest` into one upstream call for one `Deployment` and returns
either an `UpstreamReply` (whole body) or an `UpstreamStream`. Both carry the `wire` protocol of their
raw bytes: when it equals the client's protocol the inbound side relays the bytes untouched; otherwise
it asks for the canonical (OpenAI-shaped) form and renders that.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from lmgate.config.runtime import Deployment
    from lmgate.providers.http import UpstreamPool

Endpoint = Literal["chat", "completion", "embedding"]


@dataclass(slots=True)
class GatewayRequest:
    """A client request, parsed once. `body` stays in the client's `wire` protocol."""

    endpoint: Endpoint
    wire: str
    body: dict[str, Any]
    model: str
    stream: bool = False
    wants_usage: bool = False  # a streaming client asked for the final usage chunk
    # the client's own operation when `endpoint` alone does not name it (Ollama "generate", "embeddings")
    operation: str = ""
    allow_remote_images: bool = False  # general_settings.allow_remote_images

    def canonical_body(self) -> dict[str, Any]:
        """The body as an OpenAI request for `endpoint` (translated when the client spoke another wire)."""
        if self.wire == "openai":
            return self.body
        if self.wire == "ollama":
            from lmgate.translate.ollama_inbound import openai_request

            return openai_request(self)
        from lmgate.errors import UnsupportedEndpoint

        raise UnsupportedEndpoint(f"no translation from the {self.wire} protocol to OpenAI")


@dataclass(slots=True)
class UpstreamReply:
    """A whole (non-streamed) upstream answer."""

    wire: str
    raw: bytes
    data: dict[str, Any]
    usage: dict[str, Any] | None = None

    def canonical(self) -> dict[str, Any]:
        """The answer in OpenAI shape. Adapters whose wire is not OpenAI subclass and override this."""
        return self.data


class UpstreamStream(ABC):
    """A streamed upstream answer, opened (status checked) but not yet read."""

    wire: str = "openai"
    usage: dict[str, Any] | None = None

    @abstractmethod
    def frames(self) -> AsyncIterator[bytes]:
        """Raw bytes in `wire` protocol, in chunks that end on frame boundaries. Raises UpstreamError."""

    @abstractmethod
    def chunks(self) -> AsyncIterator[dict[str, Any]]:
        """The same stream as OpenAI chat.completion.chunk dicts (no [DONE]). Raises UpstreamError."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the upstream connection (idempotent)."""


class Provider(ABC):
    """One upstream protocol. Subclasses declare which `provider/` prefixes they serve."""

    prefixes: ClassVar[tuple[str, ...]]
    wire: ClassVar[str]
    # provider-specific litellm_params keys this adapter reads (kept in Deployment.params)
    param_keys: ClassVar[frozenset[str]] = frozenset()
    needs_network: ClassVar[bool] = True

    def default_api_base(self, prefix: str) -> str | None:
        return None

    def api_key_env(self, prefix: str) -> str | None:
        """Environment variable holding the key when litellm_params.api_key is absent."""
        return None

    def normalise_api_base(self, prefix: str, api_base: str) -> tuple[str, str | None]:
        """Return the base URL to use and, when it was changed, a warning saying why."""
        return api_base.rstrip("/"), None

    @abstractmethod
    async def send(
        self, pool: UpstreamPool, deployment: Deployment, request: GatewayRequest
    ) -> UpstreamReply | UpstreamStream:
        """Make one upstream call. Raises an `UpstreamError` subclass on failure."""

