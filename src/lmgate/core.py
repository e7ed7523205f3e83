"""The core types every layer shares: a parsed request, a deployment, usage, and an upstream's answer.

A leaf module: it imports nothing of lmgate at run time, so inbound protocols, providers, the router,
accounting and observability all depend on it and never on each other's internals.

    inbound protocol --GatewayRequest--> router --Deployment--> provider adapter
    provider adapter --UpstreamReply | UpstreamStream (with Usage)--> router --> inbound protocol

An answer carries the `wire` protocol of its raw bytes. When that equals the request's wire the inbound
side relays the bytes untouched (`RouteResult.native`); otherwise it renders the canonical
(OpenAI-shaped) form.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import aiohttp

if TYPE_CHECKING:
    from lmgate.config.schema import ModelInfo
    from lmgate.errors import GatewayError
    from lmgate.providers.base import Provider

Endpoint = Literal["chat", "completion", "embedding"]

DEFAULT_TIMEOUT_S = 600.0
DEFAULT_CONNECT_TIMEOUT_S = 3.0


@dataclass(slots=True)
class GatewayRequest:
    """A client request, parsed once by its inbound protocol. `body` stays in the client's `wire`."""

    endpoint: Endpoint
    wire: str
    body: dict[str, Any]
    model: str
    stream: bool = False
    wants_usage: bool = False  # a streaming client asked for the final usage chunk
    # the client's own operation when `endpoint` alone does not name it (Ollama "generate", "embeddings")
    operation: str = ""
    allow_remote_images: bool = False  # general_settings.allow_remote_images
    # the inbound protocol's translation of `body` to the OpenAI form; None when body already is OpenAI
    to_canonical: Callable[[GatewayRequest], dict[str, Any]] | None = field(default=None, repr=False)
    received_ns: int = 0  # perf_counter_ns when the handler started, for protocols that report durations
    # client headers an upstream of the same wire should see (Anthropic's `anthropic-beta`)
    forward_headers: dict[str, str] = field(default_factory=dict)
    canonical_body: dict[str, Any] | None = field(default=None, repr=False)  # computed once, by canonical()
    # set when the virtual key's money budget cannot pay for this request: paid deployments are skipped
    # and, when nothing else could serve it, this is the answer (routing/budget.py)
    paid_refusal: GatewayError | None = field(default=None, repr=False)
    # strict data privacy (the key, its team, x-lmgate-privacy or strict_aliases): only deployments whose
    # data policy is "none" may answer (routing/privacy.py)
    strict: bool = False

    def canonical(self) -> dict[str, Any]:
        """The body as an OpenAI request for `endpoint`, translated once however many upstreams are tried."""
        if self.to_canonical is None:
            return self.body
        if self.canonical_body is None:
            self.canonical_body = self.to_canonical(self)
        return self.canonical_body

    def native_to(self, wire: str) -> bool:
        """Whether an upstream or answer speaking `wire` needs no translation: the one place that decides
        pass-through (adapters, the router and the relay all ask here)."""
        return wire == self.wire

    def body_for(self, wire: str) -> dict[str, Any]:
        """What an upstream speaking `wire` starts from: the client's own body on pass-through, else the
        canonical form."""
        return self.body if wire == self.wire else self.canonical()


@dataclass(slots=True, frozen=True)
class Usage:
    """Token counts of one answer, whatever shape the upstream reported them in."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens

    @classmethod
    def from_openai(cls, usage: Any) -> Usage | None:
        """From an OpenAI `usage` object (the canonical shape); None when absent or malformed."""
        if not isinstance(usage, dict):
            return None
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens")
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        return cls(
            prompt if isinstance(prompt, int) else 0,
            completion if isinstance(completion, int) else 0,
            cached if isinstance(cached, int) else 0,
        )


@dataclass(slots=True, frozen=True)
class Timeouts:
    """aiohttp timeouts of one deployment, built once per config load."""

    plain: aiohttp.ClientTimeout  # whole request
    stream: aiohttp.ClientTimeout  # time between bytes, the first byte included

    @classmethod
    def of(cls, total: float, stream: float | None, connect: float) -> Timeouts:
        return cls(
            aiohttp.ClientTimeout(total=total, sock_connect=connect),
            aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=stream or total),
        )


@dataclass(slots=True, frozen=True, eq=False)
class Deployment:
    """One `model_list` entry: an alias served by one upstream model at one base URL. Immutable; what
    adapters need per request (headers, timeouts, prices) is prepared once when the config is compiled."""

    alias: str
    name: str  # shown in x-lmgate-deployment and route traces; never holds a secret
    provider: str  # the prefix before the first slash of litellm_params.model
    upstream_model: str
    api_base: str
    api_key: str | None = field(repr=False)
    adapter: Provider = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT_S
    stream_timeout: float | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S
    max_retries: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    rpd: int | None = None
    max_parallel: int | None = None  # requests in flight at once (max_parallel_requests)
    weight: float = 1.0
    extra_headers: dict[str, str] = field(default_factory=dict)
    organization: str | None = None
    info: ModelInfo | None = None
    # provider-specific litellm_params (e.g. mock_latency, keep_alive), declared by the adapter
    params: dict[str, Any] = field(default_factory=dict)
    # OpenAI request parameters from litellm_params, applied when the client did not send them
    request_defaults: dict[str, Any] = field(default_factory=dict)
    # request parameters removed before sending (drop_params / additional_drop_params)
    drop_keys: frozenset[str] = frozenset()
    # prepared at compile time (config/loader.py), read on the request path
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # what the adapter sends, auth included
    timeouts: Timeouts | None = field(default=None, repr=False)
    prices: tuple[float, float] = (0.0, 0.0)  # USD per input token, per output token
    zero_cost: bool = False  # a local or free upstream: never counts against a money budget
    data_policy: str = "unknown"  # none | retains | trains | unknown (routing/privacy.py)
    private: bool = False  # data_policy == "none": strict requests may be sent here

    @property
    def mode(self) -> str:
        return (self.info.mode if self.info else None) or "chat"

    def timeout_for(self, stream: bool) -> aiohttp.ClientTimeout:
        t = self.timeouts or Timeouts.of(self.timeout, self.stream_timeout, self.connect_timeout)
        return t.stream if stream else t.plain

    def cost(self, usage: Usage) -> float:
        """USD for one answer's usage."""
        return usage.input_tokens * self.prices[0] + usage.output_tokens * self.prices[1]


@dataclass(slots=True)
class UpstreamReply:
    """A whole (non-streamed) upstream answer."""

    wire: str
    raw: bytes
    data: dict[str, Any]
    usage: Usage | None = None

    def canonical(self) -> dict[str, Any]:
        """The answer in OpenAI shape. Adapters whose wire is not OpenAI subclass and override this."""
        return self.data


class UpstreamStream(ABC):
    """A streamed upstream answer, opened (status checked) but not yet read."""

    wire: str = "openai"
    usage: Usage | None = None

    @abstractmethod
    def frames(self) -> AsyncIterator[bytes]:
        """Raw bytes in `wire` protocol, in chunks that end on frame boundaries. Raises UpstreamError."""

    @abstractmethod
    def batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        """The same stream as OpenAI chat.completion.chunk dicts (no [DONE]), one non-empty list per
        upstream read, so that what arrived together leaves in one write. Raises UpstreamError."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the upstream connection (idempotent)."""
