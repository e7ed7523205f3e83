"""A loopback upstream speaking Ollama's native API as documented (docs/api.md, api/types.go).

NDJSON framing (`application/x-ndjson`, one object per line), RFC 3339 `created_at`, durations in
nanoseconds, the metrics-only final `done:true` line, tool calls whole in one `done:false` line with
object arguments, `{"error": "..."}` bodies with HTTP statuses, and (scripted) error lines inside a 200
stream and streams cut off before `done`.

The same server plays an Ollama instance for the operator commands: its model management API
(GET /api/tags, GET /api/ps, POST /api/pull with streamed NDJSON status, DELETE /api/delete, GET /),
Ollama's OpenAI layer's GET /v1/models, and optional Bearer auth as Ollama Cloud does.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from tests.servers import FakeServer, SeenRequest, ServerThread

# The smallest valid PNG (1x1), served at /img.png for remote-image tests.
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


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
class OllamaBehaviour:
    """kind: ok | status | error_line | cut | no_done | tools | think"""

    kind: str = "ok"
    status: int = 200
    error: str = "boom"
    content: str = "hello from ollama"
    after_lines: int = 2  # for error_line / cut / no_done: lines sent first
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nanosecond precision, as Go prints


def _metrics(prompt: int, completion: int, load_ns: int = 5_025_959) -> dict[str, Any]:
    return {
        "total_duration": 5_043_500_667,
        "load_duration": load_ns,
        "prompt_eval_count": prompt,
        "prompt_eval_duration": 325_953_000,
        "eval_count": completion,
        "eval_duration": 4_709_213_000,
    }


class FakeOllamaUpstream(FakeServer):
    """Scripted Ollama: `script` holds behaviours consumed one per inference request.

    `seen` records inference requests (chat, generate, embed) and /api/show; `hits` every (method, path)
    served. Given `models` (even empty), only those are served (others get Ollama's 404), as /api/tags
    lists them; without, every name but those in `missing` is. `load_s` > 0: a model not in memory costs
    that long to load (reported as `load_duration`), and at most `max_loaded` models stay loaded (the
    least recently used goes; 0 = no limit). `gpu=False` reports loaded models with nothing in VRAM.
    """

    def __init__(
        self,
        models: list[dict[str, Any]] | None = None,
        api_key: str | None = None,
        pullable: dict[str, int] | None = None,
        loaded: list[str] | None = None,
        pull_status_error: bool = False,
        port: int | None = None,
        load_s: float = 0.0,
        max_loaded: int = 0,
        gpu: bool = True,
        capabilities: dict[str, list[str]] | None = None,
        context_length: int = 40960,
    ) -> None:
        self.load_s = load_s
        self.max_loaded = max_loaded
        self.loads = 0  # cold loads paid
        self._load_lock = asyncio.Lock()
        self.gpu = gpu
        self.capabilities = capabilities if capabilities is not None else {}  # /api/show; default completion, tools
        self.context_length = context_length  # /api/show's model_info.<arch>.context_length
        self.script: list[OllamaBehaviour] = []
        self.default = OllamaBehaviour()
        self.seen: list[SeenRequest] = []
        self.hits: list[tuple[str, str]] = []
        self.missing = {"missing-model"}  # names answered with Ollama's 404
        self.catalog = models is not None
        self.models = models if models is not None else []
        self.api_key = api_key  # when set, every /api call needs `Authorization: Bearer <key>`
        self.pullable = pullable if pullable is not None else {}  # name -> total bytes a pull downloads
        self.loaded = loaded if loaded is not None else []  # names reported by /api/ps, least recently used first
        self.pull_status_error = pull_status_error  # a pull of an unknown model: HTTP 500, not an error line
        self.listings: list[float] = []  # time.monotonic() of each GET /api/tags (health checks)
        self.server = ServerThread(self._app, port)

    def names(self) -> list[str]:
        return [m["name"] for m in self.models]

    def _is_missing(self, name: str) -> bool:
        if name in self.missing:
            return True
        return self.catalog and name not in self.names() and f"{name}:latest" not in self.names()

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._auth])
        app.router.add_post("/api/chat", self._chat)
        app.router.add_post("/api/generate", self._generate)
        app.router.add_post("/api/embed", self._embed)
        app.router.add_post("/api/embeddings", self._embeddings)
        app.router.add_post("/api/show", self._show)
        app.router.add_get("/img.png", self._image)
        app.router.add_get("/", self._root)
        app.router.add_get("/api/tags", self._tags)
        app.router.add_get("/api/ps", self._ps)
        app.router.add_post("/api/pull", self._pull)
        app.router.add_delete("/api/delete", self._delete)
        app.router.add_post("/api/show", self._show)
        app.router.add_get("/v1/models", self._v1_models)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.hits.append((request.method, request.path))
        if self.api_key and request.path != "/" and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _json({"error": "unauthorized", "signin_url": "https://ollama.com/connect"}, 401)
        resp: web.StreamResponse = await handler(request)
        return resp

    async def _load(self, model: str) -> int:
        """Bring `model` into memory (paying `load_s` when it is cold); its load_duration in ns."""
        if not self.load_s:
            return 5_025_959
        async with self._load_lock:
            cold = model not in self.loaded
            if cold:
                self.loads += 1
                await asyncio.sleep(self.load_s)
            else:
                self.loaded.remove(model)
            self.loaded.append(model)
            if self.max_loaded:
                del self.loaded[: -self.max_loaded]
        return int(self.load_s * 1e9) if cold else 2_000_000

    async def _show(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.seen.append(SeenRequest(request.path, dict(request.headers), body))
        name = str(body.get("model"))
        if self._is_missing(name):
            return _json({"error": f"model '{name}' not found"}, 404)
        model = next((m for m in self.models if name in (m["name"], m["name"].removesuffix(":latest"))), None)
        details = model["details"] if model else {
            "parent_model": "", "format": "gguf", "family": "qwen3", "families": ["qwen3"], "parameter_size": "8.2B",
            "quantization_level": "Q4_K_M",
        }
        family = details["family"]
        default_caps = ["completion", "tools"] if model else ["completion", "tools", "thinking"]
        return _json(
            {
                "modelfile": f"FROM {name}\n",
                "parameters": "temperature 0.6",
                "template": "{{ .Prompt }}",
                "details": details,
                "model_info": {"general.architecture": family, f"{family}.context_length": self.context_length},
                "capabilities": self.capabilities.get(model["name"] if model else name, default_caps),
                "modified_at": model["modified_at"] if model else _now(),
            }
        )

    def _loaded(self, body: dict[str, Any], generate: bool) -> web.Response:
        """Ollama's answer to an empty request: the model is loaded, or unloaded with keep_alive 0."""
        reason = "unload" if body.get("keep_alive") in (0, "0", "0s") else "load"
        out: dict[str, Any] = {"model": body["model"], "created_at": _now(), "done": True, "done_reason": reason}
        out.update({"response": ""} if generate else {"message": {"role": "assistant", "content": ""}})
        return web.Response(body=orjson.dumps(out), content_type="application/json")

    async def _image(self, request: web.Request) -> web.Response:
        import base64

        return web.Response(body=base64.b64decode(PNG_B64), content_type="image/png")

    async def _read(self, request: web.Request) -> tuple[dict[str, Any], OllamaBehaviour, web.Response | None]:
        body = orjson.loads(await request.read())
        self.seen.append(SeenRequest(request.path, dict(request.headers), body))
        b = self.script.pop(0) if self.script else self.default
        if self._is_missing(str(body.get("model"))):
            err = {"error": f"model \"{body['model']}\" not found, try pulling it first"}
            return body, b, web.Response(status=404, body=orjson.dumps(err), content_type="application/json")
        if b.kind == "status":
            return body, b, web.Response(status=b.status, body=orjson.dumps({"error": b.error}), content_type="application/json")
        return body, b, None

    def _answer_text(self, body: dict[str, Any], b: OllamaBehaviour) -> str:
        images = sum(len(m.get("images") or []) for m in body.get("messages") or []) + len(body.get("images") or [])
        if images:
            return f"I see {images} image(s)"
        if isinstance(body.get("format"), dict) or body.get("format") == "json":
            return '{"answer": "ok"}'
        return b.content

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, b, early = await self._read(request)
        if early is not None:
            return early
        if not body.get("messages"):
            return self._loaded(body, generate=False)
        load_ns = await self._load(body["model"])
        text = self._answer_text(body, b)
        thinking = "let me think" if b.kind == "think" else None
        calls = b.tool_calls if b.kind == "tools" else []
        prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
        if body.get("stream", True) is False:  # Ollama's default is to stream
            msg: dict[str, Any] = {"role": "assistant", "content": "" if calls else text}
            if thinking:
                msg["thinking"] = thinking
            if calls:
                msg["tool_calls"] = calls
            out = {"model": body["model"], "created_at": _now(), "message": msg, "done": True, "done_reason": "stop"}
            out.update(_metrics(prompt, len(text.split()), load_ns))
            return web.Response(body=orjson.dumps(out), content_type="application/json")
        lines: list[dict[str, Any]] = []
        if thinking:
            lines.append({"model": body["model"], "created_at": _now(), "message": {"role": "assistant", "content": "", "thinking": thinking}, "done": False})
        if calls:
            lines.append({"model": body["model"], "created_at": _now(), "message": {"role": "assistant", "content": "", "tool_calls": calls}, "done": False})
        else:
            for i, w in enumerate(text.split()):
                piece = w if i == 0 else " " + w
                lines.append({"model": body["model"], "created_at": _now(), "message": {"role": "assistant", "content": piece}, "done": False})
        final = {"model": body["model"], "created_at": _now(), "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop"}
        final.update(_metrics(prompt, len(lines), load_ns))
        lines.append(final)
        return await self._stream(request, lines, b)

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        body, b, early = await self._read(request)
        if early is not None:
            return early
        if not body.get("prompt") and not body.get("images"):
            return self._loaded(body, generate=True)
        text = self._answer_text(body, b)
        prompt = len(str(body.get("prompt", "")).split())
        if body.get("stream", True) is False:
            out = {"model": body["model"], "created_at": _now(), "response": text, "done": True, "done_reason": "stop", "context": [1, 2, 3]}
            out.update(_metrics(prompt, len(text.split())))
            return web.Response(body=orjson.dumps(out), content_type="application/json")
        lines: list[dict[str, Any]] = [
            {"model": body["model"], "created_at": _now(), "response": w if i == 0 else " " + w, "done": False}
            for i, w in enumerate(text.split())
        ]
        final = {"model": body["model"], "created_at": _now(), "response": "", "done": True, "done_reason": "stop", "context": [1, 2, 3]}
        final.update(_metrics(prompt, len(lines)))
        lines.append(final)
        return await self._stream(request, lines, b)

    async def _stream(self, request: web.Request, lines: list[dict[str, Any]], b: OllamaBehaviour) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        for i, line in enumerate(lines):
            if i == b.after_lines and b.kind in ("error_line", "cut", "no_done"):
                if b.kind == "error_line":
                    await resp.write(orjson.dumps({"error": b.error}) + b"\n")
                    break
                if b.kind == "cut":
                    assert request.transport is not None
                    request.transport.abort()
                    await asyncio.sleep(0.05)
                    return resp
                break  # no_done: a clean end without the done line
            await resp.write(orjson.dumps(line) + b"\n")
        await resp.write_eof()
        return resp

    async def _embed(self, request: web.Request) -> web.StreamResponse:
        body, b, early = await self._read(request)
        if early is not None:
            return early
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = [[0.1 * (i + 1), 0.2, 0.3] for i in range(len(inputs))]
        out = {"model": body["model"], "embeddings": vectors, "total_duration": 14_143_917, "load_duration": 1_019_500, "prompt_eval_count": 8}
        return web.Response(body=orjson.dumps(out), content_type="application/json")

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body, b, early = await self._read(request)
        if early is not None:
            return early
        return web.Response(body=orjson.dumps({"embedding": [0.5, 0.25, 0.125]}), content_type="application/json")

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Ollama is running")

    async def _tags(self, request: web.Request) -> web.Response:
        self.listings.append(time.monotonic())
        if self.catalog:
            return _json({"models": self.models})
        model = {"name": "qwen3:8b", "model": "qwen3:8b", "modified_at": _now(), "size": 5_225_376_047, "digest": "500a1f067a9f"}
        return _json({"models": [model]})

    async def _v1_models(self, request: web.Request) -> web.Response:
        data = [{"id": n, "object": "model", "created": 1746395809, "owned_by": "library"} for n in self.names()]
        return _json({"object": "list", "data": data})

    async def _ps(self, request: web.Request) -> web.Response:
        if not self.catalog:  # the warm-routing fake: what it loaded itself, least recently used first
            return _json({"models": [{"name": m, "model": m, "size": 5_225_376_047, "expires_at": _now(), "size_vram": 0} for m in self.loaded]})
        out = []
        for m in self.models:
            if m["name"] in self.loaded:
                vram = m["size"] if self.gpu else 0
                out.append({**m, "expires_at": "2026-05-04T15:01:49.277Z", "size_vram": vram, "context_length": 4096})
        return _json({"models": out})

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
