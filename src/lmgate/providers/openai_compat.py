"""OpenAI-compatible upstreams: OpenAI, vLLM, OpenRouter, Groq, Mistral, DeepSeek, Gemini's OpenAI
endpoint, and any server at an `api_base` that speaks `/chat/completions`.

Adding another OpenAI-compatible vendor is one line in `VENDORS`, with its facts (base URL, key
variable, whether it is self-hosted or has free models).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from yarl import URL

from lmgate.core import GatewayRequest, UpstreamReply, UpstreamStream, Usage
from lmgate.errors import UpstreamProtocolError
from lmgate.limits.accounts import FreeLimits
from lmgate.providers.base import Provider
from lmgate.providers.http import error_message, post, read_json
from lmgate.providers.sse import OpenAISSEStream

if TYPE_CHECKING:
    from lmgate.core import Deployment
    from lmgate.providers.http import UpstreamPool


@dataclass(frozen=True, slots=True)
class Vendor:
    base: str | None  # default api_base
    key_env: str | None  # environment variable with the key
    self_hosted: bool = False  # the operator's own server: costs nothing
    free_suffix: str | None = None  # models whose name ends so are free tiers (OpenRouter ":free")
    key_check_path: str | None = None  # lists models without a key: this path checks it
    catalog: str | None = None  # `lmgate catalog <name>` lists its models
    tokenize: bool = False  # serves vLLM's POST /tokenize at the server root (exact prompt token counts)
    rejects: frozenset[str] = frozenset()  # request parameters it answers 400 to (dropped with drop_params)
    hosted: bool = False  # the vendor's own service: prompts leave the operator's networks whatever api_base says
    free_limits: FreeLimits | None = None  # account-wide limits shared by its free models (limits/accounts.py)
    # body members asking the vendor not to collect a strict request's data (merged into its own)
    strict_fields: dict[str, Any] | None = None


# OpenRouter's free limits: 20/min across all :free models; 50/day below 10 credits bought, else 1000/day
OPENROUTER_FREE = FreeLimits(rpm=20, rpd=1000, rpd_free_tier=50)


VENDORS: dict[str, Vendor] = {
    "openai": Vendor("https://api.openai.com/v1", "OPENAI_API_KEY"),
    "hosted_vllm": Vendor(None, "HOSTED_VLLM_API_KEY", self_hosted=True, tokenize=True),
    "openrouter": Vendor(
        "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", free_suffix=":free", key_check_path="/key",
        catalog="openrouter", hosted=True, free_limits=OPENROUTER_FREE,
        strict_fields={"provider": {"data_collection": "deny"}},
    ),
    "groq": Vendor(
        "https://api.groq.com/openai/v1", "GROQ_API_KEY", rejects=frozenset({"logprobs", "logit_bias", "top_logprobs"}),
        hosted=True,
    ),
    "mistral": Vendor("https://api.mistral.ai/v1", "MISTRAL_API_KEY", hosted=True),
    "deepseek": Vendor("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", hosted=True),
    "gemini": Vendor("https://generativelanguage.googleapis.com/v1beta/openai", "GEMINI_API_KEY", hosted=True),
    "together_ai": Vendor("https://api.together.xyz/v1", "TOGETHERAI_API_KEY", hosted=True),
    "fireworks_ai": Vendor("https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY", hosted=True),
    "xai": Vendor("https://api.x.ai/v1", "XAI_API_KEY", hosted=True),
    "lm_studio": Vendor("http://localhost:1234/v1", None, self_hosted=True),
    "llamafile": Vendor("http://localhost:8080/v1", None, self_hosted=True),
    "openai_like": Vendor(None, None),
    "custom_openai": Vendor(None, None),
}

PATHS = {"chat": "/chat/completions", "completion": "/completions", "embedding": "/embeddings"}
_TRAILING = ("/chat/completions", "/completions", "/embeddings", "/models")


class OpenAICompatible(Provider):
    prefixes: ClassVar[tuple[str, ...]] = tuple(VENDORS)
    wire = "openai"

    def default_api_base(self, prefix: str) -> str | None:
        return VENDORS[prefix].base

    def api_key_env(self, prefix: str, api_base: str = "") -> str | None:
        return VENDORS[prefix].key_env

    def zero_cost(self, prefix: str, api_base: str, upstream_model: str) -> bool:
        vendor = VENDORS[prefix]
        return vendor.self_hosted or bool(vendor.free_suffix and upstream_model.endswith(vendor.free_suffix))

    def key_check_path(self, prefix: str) -> str | None:
        return VENDORS[prefix].key_check_path

    def always_remote(self, prefix: str, upstream_model: str) -> bool:
        vendor = VENDORS.get(prefix)  # subclasses (Azure) serve prefixes of their own
        return vendor is not None and vendor.hosted

    def free_limits(self, deployment: Deployment) -> FreeLimits | None:
        vendor = VENDORS.get(deployment.provider)
        if vendor is None or vendor.free_limits is None or not (vendor.free_suffix and deployment.upstream_model.endswith(vendor.free_suffix)):
            return None
        return vendor.free_limits

    def strict_fields(self, prefix: str) -> dict[str, Any] | None:
        vendor = VENDORS.get(prefix)
        return vendor.strict_fields if vendor is not None else None

    def catalog(self, prefix: str) -> str | None:
        return VENDORS[prefix].catalog

    def unsupported_params(self, prefix: str) -> frozenset[str]:
        return VENDORS[prefix].rejects

    def normalise_api_base(self, prefix: str, api_base: str) -> tuple[str, str | None]:
        base = api_base.rstrip("/")
        notes = []
        for suffix in _TRAILING:
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                notes.append(f"removed '{suffix}' (lmgate appends the endpoint path itself)")
                break
        while base.endswith("/v1/v1"):
            base = base[:-3]
            notes.append("collapsed a doubled '/v1'")
        if URL(base).path in ("", "/"):
            base += "/v1"
            notes.append("added '/v1' (OpenAI-compatible servers serve under /v1)")
        return base, ("; ".join(notes) or None)

    def headers(self, deployment: Deployment) -> dict[str, str]:
        headers = super().headers(deployment)
        if deployment.organization:
            headers["OpenAI-Organization"] = deployment.organization
            headers.update(deployment.extra_headers)  # the operator's own headers still win
        return headers

    def upstream_body(self, deployment: Deployment, request: GatewayRequest) -> dict[str, Any]:
        """The client's body with the upstream model name; defaults from litellm_params filled in."""
        body = dict(request.body_for(self.wire))
        body["model"] = deployment.upstream_model
        for key, value in deployment.request_defaults.items():
            body.setdefault(key, value)
        for key in deployment.drop_keys:
            body.pop(key, None)
        if request.strict and (strict := self.strict_fields(deployment.provider)):
            for key, value in strict.items():  # merged into what the client sent; ours win
                given = body.get(key)
                body[key] = {**given, **value} if isinstance(given, dict) and isinstance(value, dict) else value
        if request.stream:
            # Always ask for usage so spend is known; the relay strips the chunk again if unasked.
            options = dict(body.get("stream_options") or {})
            options["include_usage"] = True
            body["stream_options"] = options
        return body

    async def count_tokens(self, pool: UpstreamPool, deployment: Deployment, request: GatewayRequest) -> int | None:
        """vLLM's own count: POST <server root>/tokenize with the chat messages (and tools)."""
        if not VENDORS[deployment.provider].tokenize:
            return None
        canonical = request.body_for(self.wire)
        body = {"model": deployment.upstream_model, "messages": canonical.get("messages"), "add_generation_prompt": True}
        if canonical.get("tools"):
            body["tools"] = canonical["tools"]
        root = deployment.api_base.removesuffix("/v1")
        resp = await post(pool, deployment, root + "/tokenize", orjson.dumps(body), False)
        _, data = await read_json(resp, deployment)
        count = data.get("count")
        return count if isinstance(count, int) else None
    def url(self, deployment: Deployment, request: GatewayRequest) -> str:
        return deployment.api_base + PATHS[request.endpoint]

    def describe_error(self, raw: bytes) -> str:
        """An error body's message (vendors with their own error shape override this)."""
        return error_message(raw)

    def check(self, deployment: Deployment, request: GatewayRequest, data: dict[str, Any]) -> None:
        """Raise an UpstreamError for a 2xx answer that is a refusal in disguise (none by default)."""

    async def send(
        self, pool: UpstreamPool, deployment: Deployment, request: GatewayRequest
    ) -> UpstreamReply | UpstreamStream:
        body = orjson.dumps(self.upstream_body(deployment, request))
        resp = await post(
            pool, deployment, self.url(deployment, request), body, request.stream, describe=self.describe_error
        )
        if request.stream:
            if resp.content_type != "text/event-stream":
                resp.release()
                raise UpstreamProtocolError(
                    f"upstream '{deployment.name}' answered a streaming request with "
                    f"content-type {resp.content_type}, not text/event-stream",
                    deployment=deployment.name,
                )
            return OpenAISSEStream(resp, deployment, strip_usage=not request.wants_usage)
        raw, data = await read_json(resp, deployment)
        self.check(deployment, request, data)
        return UpstreamReply("openai", raw, data, Usage.from_openai(data.get("usage")))
