"""Loopback servers for the operator-command tests, speaking the documented wire formats.

- `FakeOllamaInstance`: the one fake Ollama (tests/servers_ollama.py), with its model management API
  (tags, ps, show with capabilities and context length, pull, delete), optional Bearer auth as Ollama
  Cloud does, `gpu=False` for a CPU-only instance.
- `FakeOpenAIServer`: the one fake OpenAI-compatible server (tests/servers.py), with GET /v1/models
  (vLLM's `max_model_len` when set).
- `FakeOpenRouter`: GET /api/v1/models shaped like OpenRouter's documented listing (string prices), and
  a non-streamed POST /api/v1/chat/completions for its key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.servers import FakeOpenAIUpstream, FakeServer, ServerThread
from tests.servers_ollama import FakeOllamaUpstream, ollama_model

FakeOllamaInstance = FakeOllamaUpstream  # the names the ops tests know them by
FakeOpenAIServer = FakeOpenAIUpstream
__all__ = ["FakeOllamaInstance", "FakeOpenAIServer", "FakeOpenRouter", "ollama_model", "openrouter_model"]


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


@dataclass
class FakeOpenRouter(FakeServer):
    base_path = "/api/v1"
    models: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    api_key: str = "sk-or-v1-test"  # the key GET /api/v1/key accepts

    def __post_init__(self) -> None:
        self.server = ServerThread(self._app)
        self.chats = 0

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/models", self._models)
        app.router.add_get("/api/v1/key", self._key)
        app.router.add_post("/api/v1/chat/completions", self._chat)
        return app

    async def _chat(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _json({"error": {"code": 401, "message": "No auth credentials found"}}, 401)
        self.chats += 1
        return chat_completion(orjson.loads(await request.read()), "ok from openrouter")

    async def _key(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _json({"error": {"code": 401, "message": "No auth credentials found"}}, 401)
        data = {"label": "sk-or-v1-te...est", "limit": None, "limit_remaining": None, "usage": 0, "is_free_tier": True}
        return _json({"data": data})

    async def _models(self, request: web.Request) -> web.Response:
        if self.status != 200:
            return _json({"error": {"code": self.status, "message": "Service unavailable"}}, self.status)
        return _json({"data": self.models})
