"""OpenAI-compatible upstreams: OpenAI, vLLM, OpenRouter, Groq, Mistral, DeepSeek, Gemini's OpenAI
endpoint, and any server at an `api_base` that speaks `/chat/completions`.

Adding another OpenAI-compatible vendor is one line in `VENDORS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from yarl import URL

from lmgate.errors import UpstreamProtocolError
from lmgate.providers.base import GatewayRequest, Provider, UpstreamReply, UpstreamStream
from lmgate.providers.http import post, read_json
from lmgate.providers.sse import OpenAISSEStream

if TYPE_CHECKING:
    from lmgate.config.runtime import Deployment
    from lmgate.providers.http import UpstreamPool

# prefix -> (default api_base, environment variable with the key)
VENDORS: dict[str, tuple[str | None, str | None]] = {
    "openai": ("https://api.openai.com/v1", "OPENAI_API_KEY"),
    "hosted_vllm": (None, "HOSTED_VLLM_API_KEY"),
    "openrouter": ("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "groq": ("https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "mistral": ("https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    "deepseek": ("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    "gemini": ("https://generativelanguage.googleapis.com/v1beta/openai", "GEMINI_API_KEY"),
    "together_ai": ("https://api.together.xyz/v1", "TOGETHERAI_API_KEY"),
    "fireworks_ai": ("https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY"),
    "xai": ("https://api.x.ai/v1", "XAI_API_KEY"),
    "lm_studio": ("http://localhost:1234/v1", None),
    "llamafile": ("http://localhost:8080/v1", None),
    "openai_like": (None, None),
    "custom_openai": (None, None),
}

PATHS = {"chat": "/chat/completions", "completion": "/completions", "embedding": "/embeddings"}
_TRAILING = ("/chat/completions", "/completions", "/embeddings", "/models")


class OpenAICompatible(Provider):
    prefixes: ClassVar[tuple[str, ...]] = tuple(VENDORS)
    wire = "openai"

    def default_api_base(self, prefix: str) -> str | None:
        return VENDORS[prefix][0]

    def api_key_env(self, prefix: str) -> str | None:
        return VENDORS[prefix][1]

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

    def _headers(self, deployment: Deployment) -> dict[str, str]:
        cached: dict[str, str] | None = deployment.cache.get("headers")
        if cached is not None:
            return cached
        headers = {"Content-Type": "application/json"}
        if deployment.api_key:
            headers["Authorization"] = f"Bearer {deployment.api_key}"
        if deployment.organization:
            headers["OpenAI-Organization"] = deployment.organization
        headers.update(deployment.extra_headers)
        deployment.cache["headers"] = headers
        return headers

    def upstream_body(self, deployment: Deployment, request: GatewayRequest) -> dict[str, Any]:
        """The client's body with the upstream model name; defaults from litellm_params filled in."""
        body = dict(request.canonical_body())
        body["model"] = deployment.upstream_model
        for key, value in deployment.request_defaults.items():
            body.setdefault(key, value)
        if request.stream:
            # Always ask for usage so spend is known; the relay strips the chunk again if unasked.
            options = dict(body.get("stream_options") or {})
            options["include_usage"] = True
            body["stream_options"] = options
        return body

    async def send(
        self, pool: UpstreamPool, deployment: Deployment, request: GatewayRequest
    ) -> UpstreamReply | UpstreamStream:
        url = deployment.api_base + PATHS[request.endpoint]
        body = orjson.dumps(self.upstream_body(deployment, request))
        resp = await post(pool, deployment, url, body, self._headers(deployment), request.stream)
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
        usage = data.get("usage")
        return UpstreamReply("openai", raw, data, usage if isinstance(usage, dict) else None)
