"""Loopback servers for the operator-command tests, speaking the documented wire formats.

- `FakeOllamaInstance`: Ollama's model management API (GET /api/tags, GET /api/ps, POST /api/show with
  capabilities and context length, POST /api/pull with streamed NDJSON status, DELETE /api/delete), a
  non-streamed /api/chat, /api/embed, and Ollama's OpenAI layer's GET /v1/models; optional Bearer auth as Ollama
  Cloud does; `gpu=False` reports loaded models with nothing in VRAM.
- `FakeOpenAIServer`: GET /v1/models (with vLLM's `max_model_len` when set) and a non-streamed
  POST /v1/chat/completions, optional Bearer key.
- `FakeOpenRouter`: GET /api/v1/models shaped like OpenRouter's documented listing (string prices), and
  a non-streamed POST /api/v1/chat/completions for its key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.servers import FakeServer, ServerThread


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def ollama_model(name: str, size: int = 4_683_087_332, family: str = "qwen3", params: str = "8.2B", quant: str = "Q4_K_M") -> dict[str, Any]:
    """One /api/tags entry as Ollama returns it."""
    return {
        "name": name,
        "model": name,
        "modified_at": "2026-05-04T14:56:49.277302595-07:00",
        "size": size,
        "digest": "a2af6cc3eb7fa8be8504abaf9b04e88f17a119ec3f04a3addf55f92841195f5a",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": params,
            "quantization_level": quant,
        },
    }


@dataclass
class FakeOllamaInstance(FakeServer):
    models: list[dict[str, Any]] = field(default_factory=list)
    api_key: str | None = None  # when set, every /api call needs `Authorization: Bearer <key>`
    pullable: dict[str, int] = field(default_factory=dict)  # name -> total bytes a pull downloads
    loaded: list[str] = field(default_factory=list)  # names reported by /api/ps
    pull_status_error: bool = False  # answer /api/pull of an unknown model with HTTP 500 instead of an error line
    capabilities: dict[str, list[str]] = field(default_factory=dict)  # /api/show; default ["completion", "tools"]
    context_length: int = 40960  # /api/show's model_info.<arch>.context_length
    gpu: bool = True  # /api/ps reports loaded models in VRAM (False: a CPU-only instance)
    seen: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = ServerThread(self._app)

    def names(self) -> list[str]:
        return [m["name"] for m in self.models]

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/", self._root)
        app.router.add_get("/api/tags", self._tags)
        app.router.add_get("/api/ps", self._ps)
        app.router.add_post("/api/show", self._show)
        app.router.add_post("/api/pull", self._pull)
        app.router.add_delete("/api/delete", self._delete)
        app.router.add_post("/api/chat", self._chat)
        app.router.add_post("/api/embed", self._embed)
        app.router.add_get("/v1/models", self._v1_models)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.seen.append((request.method, request.path))
        if self.api_key and request.path != "/" and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _json({"error": "unauthorized", "signin_url": "https://ollama.com/connect"}, 401)
        resp: web.StreamResponse = await handler(request)
        return resp

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Ollama is running")

    async def _tags(self, request: web.Request) -> web.Response:
        return _json({"models": self.models})

    async def _v1_models(self, request: web.Request) -> web.Response:
        data = [{"id": n, "object": "model", "created": 1746395809, "owned_by": "library"} for n in self.names()]
        return _json({"object": "list", "data": data})

    async def _ps(self, request: web.Request) -> web.Response:
        out = []
        for m in self.models:
            if m["name"] in self.loaded:
                vram = m["size"] if self.gpu else 0
                out.append({**m, "expires_at": "2026-05-04T15:01:49.277Z", "size_vram": vram, "context_length": 4096})
        return _json({"models": out})

    async def _show(self, request: web.Request) -> web.Response:
        name = orjson.loads(await request.read()).get("model")
        model = next((m for m in self.models if name in (m["name"], m["name"].removesuffix(":latest"))), None)
        if model is None:
            return _json({"error": f"model '{name}' not found"}, 404)
        family = model["details"]["family"]
        return _json(
            {
                "modelfile": f"FROM {name}\n",
                "details": model["details"],
                "model_info": {"general.architecture": family, f"{family}.context_length": self.context_length},
                "capabilities": self.capabilities.get(model["name"], ["completion", "tools"]),
                "modified_at": model["modified_at"],
            }
        )

    async def _pull(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        name = body.get("model") or body.get("name")
        total = self.pullable.get(name)
        if total is None and self.pull_status_error:
            return _json({"error": "pull model manifest: file does not exist"}, 500)
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)

        async def line(obj: dict[str, Any]) -> None:
            await resp.write(orjson.dumps(obj) + b"\n")
            await asyncio.sleep(0)

        await line({"status": "pulling manifest"})
        if total is None:
            await line({"error": "pull model manifest: file does not exist"})
            await resp.write_eof()
            return resp
        digest = "sha256:2bada8a7450677000f678be90653b85d364de7db25eb5ea54136ada5f3933730"
        for done in range(0, total + 1, max(1, total // 4)):
            await line({"status": f"pulling {digest[7:19]}", "digest": digest, "total": total, "completed": done})
        for status in ("verifying sha256 digest", "writing manifest", "success"):
            await line({"status": status})
        self.models.append(ollama_model(name if ":" in name else f"{name}:latest", size=total))
        await resp.write_eof()
        return resp

    async def _delete(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        name = body.get("model") or body.get("name")
        for m in list(self.models):
            if name in (m["name"], m["name"].removesuffix(":latest")):
                self.models.remove(m)
                return web.Response(status=200)
        return _json({"error": f"model '{name}' not found"}, 404)

    def _missing(self, model: str) -> web.Response | None:
        if model not in self.names() and f"{model}:latest" not in self.names():
            return _json({"error": f"model \"{model}\" not found, try pulling it first"}, 404)
        return None

    async def _embed(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        if missing := self._missing(body["model"]):
            return missing
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        return _json({"model": body["model"], "embeddings": [[0.1, 0.2, 0.3] for _ in inputs], "prompt_eval_count": len(inputs)})

    async def _chat(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        if missing := self._missing(body["model"]):
            return missing
        out = {
            "model": body["model"],
            "created_at": "2026-05-04T14:56:49.277302595Z",
            "message": {"role": "assistant", "content": "ok"},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 5,
            "eval_count": 1,
        }
        if body.get("stream", True) is False:
            return _json(out)
        return web.Response(body=orjson.dumps(out) + b"\n", content_type="application/x-ndjson")


@dataclass
class FakeOpenAIServer(FakeServer):
    base_path = "/v1"
    ids: list[str] = field(default_factory=list)
    api_key: str | None = None
    max_model_len: int | None = None  # vLLM lists each model's context length

    def __post_init__(self) -> None:
        self.server = ServerThread(self._app)
        self.chats = 0

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        return app

    def _denied(self, request: web.Request) -> web.Response | None:
        if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            err = {"message": "Incorrect API key provided", "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
            return _json({"error": err}, 401)
        return None

    async def _models(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        extra = {"max_model_len": self.max_model_len} if self.max_model_len else {}
        data = [{"id": i, "object": "model", "created": 1700000000, "owned_by": "me", **extra} for i in self.ids]
        return _json({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        self.chats += 1
        return chat_completion(orjson.loads(await request.read()))


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
