"""The seam between the gateway and an upstream protocol.

A `Provider` adapter turns a `GatewayRequest` into one upstream call for one `Deployment` and returns
either an `UpstreamReply` (whole body) or an `UpstreamStream` (see lmgate.core), with its usage
normalised to `Usage`. The adapter also owns the facts about its upstreams that the rest of lmgate
needs: default base URL and key variable, auth headers, how `doctor` probes it, whether it costs
money, whether it is an Ollama instance. No provider prefix is written outside `providers/`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from lmgate.core import GatewayRequest, UpstreamReply, UpstreamStream
from lmgate.errors import BadRequest

if TYPE_CHECKING:
    from lmgate.core import Deployment
    from lmgate.limits.accounts import FreeLimits
    from lmgate.providers.http import UpstreamPool

# How `lmgate doctor` checks a deployment before any inference: GET /api/tags (Ollama), GET /models
# (OpenAI-compatible), GET /v1/models with x-api-key (Anthropic), or nothing (built in).
ProbeKind = Literal["ollama", "openai", "anthropic", "none"]


class Provider(ABC):
    """One upstream protocol. Subclasses declare which `provider/` prefixes they serve."""

    prefixes: ClassVar[tuple[str, ...]]
    wire: ClassVar[str]
    # provider-specific litellm_params keys this adapter reads (kept in Deployment.params)
    param_keys: ClassVar[frozenset[str]] = frozenset()
    # litellm_params keys of `param_keys` that default to an environment variable when absent
    param_env: ClassVar[dict[str, str]] = {}
    needs_network: ClassVar[bool] = True
    probe: ClassVar[ProbeKind] = "openai"
    is_ollama_instance: ClassVar[bool] = False  # the ops commands' ps/pull/rm/catalog apply

    def default_api_base(self, prefix: str) -> str | None:
        return None

    def api_key_env(self, prefix: str, api_base: str = "") -> str | None:
        """Environment variable holding the key when litellm_params.api_key is absent (for upstreams at
        `api_base`: a provider whose key belongs to one host says None for the others)."""
        return None

    def normalise_api_base(self, prefix: str, api_base: str) -> tuple[str, str | None]:
        """Return the base URL to use and, when it was changed, a warning saying why."""
        return api_base.rstrip("/"), None

    def headers(self, deployment: Deployment) -> dict[str, str]:
        """Every request's headers (auth included); computed once per deployment at config load."""
        headers = {"Content-Type": "application/json"}
        if deployment.api_key:
            headers["Authorization"] = f"Bearer {deployment.api_key}"
        headers.update(deployment.extra_headers)
        return headers

    def zero_cost(self, prefix: str, api_base: str, upstream_model: str) -> bool:
        """True when this upstream never costs money (local, self-hosted, a free tier): it then never
        counts against a money budget, whatever the price table says."""
        return False

    def always_remote(self, prefix: str, upstream_model: str) -> bool:
        """True when prompts leave the operator's networks whatever api_base says (a hosted vendor, an
        Ollama `-cloud` model relayed by a local daemon): such a deployment is never taken as local
        for its data policy (routing/privacy.py)."""
        return False

    def free_limits(self, deployment: Deployment) -> FreeLimits | None:
        """The account-wide free limits this deployment counts against (OpenRouter `:free` models), or
        None (limits/accounts.py)."""
        return None

    def strict_fields(self, prefix: str) -> dict[str, Any] | None:
        """Body members that ask this upstream itself not to keep a strict request's data (OpenRouter's
        `provider: {data_collection: "deny"}`), merged into each strict request's body."""
        return None

    def health_check_url(self, deployment: Deployment) -> str | None:
        """What the background health check GETs: the model listing, never a completion (None: nothing
        to check, e.g. built in)."""
        return deployment.api_base + "/models" if self.probe == "openai" else None

    def loaded_models_url(self, deployment: Deployment) -> str | None:
        """Where the models this instance holds in memory are listed (Ollama's /api/ps), for routing to
        the instance that has a model warm; None when the upstream has no such notion."""
        return None

    def unsupported_params(self, prefix: str) -> frozenset[str]:
        """Request parameters this upstream rejects: `drop_params: true` removes them before sending."""
        return frozenset()

    def key_check_path(self, prefix: str) -> str | None:
        """A path under api_base that checks the key when the model listing does not (OpenRouter)."""
        return None

    def catalog(self, prefix: str) -> str | None:
        """The `lmgate catalog` source that lists this upstream's models, if there is one."""
        return None

    async def count_tokens(self, pool: UpstreamPool, deployment: Deployment, request: GatewayRequest) -> int | None:
        """The upstream's own count of a request's input tokens, when it serves one (else None: the
        inbound protocol estimates)."""
        return None

    def refuse_choices(self, deployment: Deployment, request: GatewayRequest) -> None:
        """400 for `n` > 1 on an upstream that answers one choice (said, never silently one)."""
        n = request.canonical().get("n") if request.endpoint != "embedding" else None
        if isinstance(n, int) and not isinstance(n, bool) and n > 1:
            raise BadRequest(
                f"'n': {n} is not supported by the upstream of '{request.model}' ({deployment.provider}), which "
                f"answers one choice per request; send {n} requests instead",
                param="n",
            )

    @abstractmethod
    async def send(
        self, pool: UpstreamPool, deployment: Deployment, request: GatewayRequest
    ) -> UpstreamReply | UpstreamStream:
        """Make one upstream call. Raises an `UpstreamError` subclass on failure."""


__all__ = ["GatewayRequest", "ProbeKind", "Provider", "UpstreamReply", "UpstreamStream"]
