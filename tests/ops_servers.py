"""Loopback servers for the operator-command tests, speaking the documented wire formats.

- `FakeOllamaInstance`: the one fake Ollama (tests/servers_ollama.py), with its model management API
  (tags, ps, show with capabilities and context length, pull, delete), optional Bearer auth as Ollama
  Cloud does, `gpu=False` for a CPU-only instance.
- `FakeOpenAIServer`: the one fake OpenAI-compatible server (tests/servers.py), with GET /v1/models
  (vLLM's `max_model_len` when set).
- `FakeOpenRouter`: GET /api/v1/models shaped like OpenRouter's documented listing (string prices),
  GET /api/v1/models/{author}/{slug}/endpoints (each provider with its `data_policy`), GET /api/v1/key
  and a non-streamed POST /api/v1/chat/completions for its key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.servers import FakeOpenAIUpstream, FakeServer, ServerThread
from tests.servers_ollama import FakeOllamaUpstream, ollama_model

FakeOllamaInstance = FakeOllamaUpstream  # the names the ops tests know them by
FakeOpenAIServer = FakeOpenAIUpstream
__all__ = ["FakeOllamaInstance", "FakeOpenAIServer", "FakeOpenRouter", "ollama_model", "openrouter_endpoint", "openrouter_model"]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def chat_completion(body: dict[str, Any], content: str = "ok") -> web.Response:
    """A whole OpenAI chat completion for `body`'s model."""
    return _json(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1700000000,
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        }
    )


def openrouter_model(
    model_id: str,
    context_length: int = 131072,
    prompt: str = "0",
    completion: str = "0",
    moderated: bool = False,
    expiration_date: str | None = None,
    images: bool = False,
) -> dict[str, Any]:
    """One entry of OpenRouter's GET /api/v1/models, with the documented fields."""
    inputs = ["text", "image"] if images else ["text"]
    return {
        "id": model_id,
        "canonical_slug": model_id.removesuffix(":free"),
        "name": model_id.split("/")[-1].replace("-", " ").title(),
        "created": 1740000000,
        "description": "A test model.",
        "context_length": context_length,
        "architecture": {"modality": "+".join(inputs) + "->text", "input_modalities": inputs, "output_modalities": ["text"], "tokenizer": "Other"},
        "pricing": {"prompt": prompt, "completion": completion, "request": "0", "image": "0"},
        "top_provider": {"context_length": context_length, "max_completion_tokens": 8192, "is_moderated": moderated},
        "supported_parameters": ["max_tokens", "temperature", "tools"],
        "expiration_date": expiration_date,
    }


def openrouter_endpoint(
    provider: str, training: bool | None = False, retains: bool | None = False, days: int | None = None
) -> dict[str, Any]:
    """One entry of `endpoints` in GET /api/v1/models/{author}/{slug}/endpoints, with the data policy
    OpenRouter records per endpoint (camelCase, as it serves it). None leaves a field out."""
    policy: dict[str, Any] = {"canPublish": False}
    if training is not None:
        policy["training"] = training
    if retains is not None:
        policy["retainsPrompts"] = retains
    if days is not None:
        policy["retentionDays"] = days
    return {
        "name": f"{provider} | test model",
        "model_name": "Test Model",
        "context_length": 131072,
        "pricing": {"prompt": "0", "completion": "0"},
        "provider_name": provider,
        "tag": provider.lower(),
        "quantization": "fp8",
        "max_completion_tokens": 8192,
        "max_prompt_tokens": None,
        "supported_parameters": ["max_tokens", "temperature"],
        "status": 0,
        "uptime_last_30m": 99.5,
        "data_policy": policy,
    }


@dataclass
class FakeOpenRouter(FakeServer):
    base_path = "/api/v1"
    models: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    api_key: str = "sk-or-v1-test"  # the key GET /api/v1/key accepts
    endpoints: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # model id -> its endpoints
    endpoint_delay: float = 0.0  # each endpoint listing takes this long (to see how many are asked at once)
    is_free_tier: bool = True  # what GET /api/v1/key says

    def __post_init__(self) -> None:
        self.server = ServerThread(self._app)
        self.chats = 0
        self.endpoint_requests: list[str] = []  # model ids asked for, in order
        self.in_flight = self.max_in_flight = 0

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/models", self._models)
        app.router.add_get("/api/v1/models/{author}/{slug}/endpoints", self._endpoints)
        app.router.add_get("/api/v1/key", self._key)
        app.router.add_post("/api/v1/chat/completions", self._chat)
        return app

    async def _endpoints(self, request: web.Request) -> web.Response:
        model_id = f"{request.match_info['author']}/{request.match_info['slug']}"
        self.endpoint_requests.append(model_id)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.endpoint_delay:
                await asyncio.sleep(self.endpoint_delay)
            if model_id not in self.endpoints:
                return _json({"error": {"code": 404, "message": "No endpoints found for this model"}}, 404)
            listed = self.endpoints[model_id]
            return _json({"data": {"id": model_id, "name": model_id, "created": 1740000000, "description": "",
                                   "architecture": {"modality": "text->text"}, "endpoints": listed}})
        finally:
            self.in_flight -= 1

    async def _chat(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _json({"error": {"code": 401, "message": "No auth credentials found"}}, 401)
        self.chats += 1
        return chat_completion(orjson.loads(await request.read()), "ok from openrouter")

    async def _key(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _json({"error": {"code": 401, "message": "No auth credentials found"}}, 401)
        data = {"label": "sk-or-v1-te...est", "limit": None, "limit_remaining": None, "usage": 0, "is_free_tier": self.is_free_tier}
        return _json({"data": data})

    async def _models(self, request: web.Request) -> web.Response:
        if self.status != 200:
            return _json({"error": {"code": self.status, "message": "Service unavailable"}}, self.status)
        return _json({"data": self.models})
