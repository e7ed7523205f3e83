"""A loopback upstream speaking Ollama's native API as documented (docs/api.md, api/types.go).

NDJSON framing (`application/x-ndjson`, one object per line), RFC 3339 `created_at`, durations in
nanoseconds, the metrics-only final `done:true` line, tool calls whole in one `done:false` line with
object arguments, `{"error": "..."}` bodies with HTTP statuses, and (scripted) error lines inside a 200
stream and streams cut off before `done`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from tests.servers import FakeServer, SeenRequest, ServerThread

# The smallest valid PNG (1x1), served at /img.png for remote-image tests.
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


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


def _metrics(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "total_duration": 5_043_500_667,
        "load_duration": 5_025_959,
        "prompt_eval_count": prompt,
        "prompt_eval_duration": 325_953_000,
        "eval_count": completion,
        "eval_duration": 4_709_213_000,
    }


class FakeOllamaUpstream(FakeServer):
    """Scripted Ollama: `script` holds behaviours consumed one per inference request."""

    def __init__(self) -> None:
        self.script: list[OllamaBehaviour] = []
        self.default = OllamaBehaviour()
        self.seen: list[SeenRequest] = []
        self.missing = {"missing-model"}  # names answered with Ollama's 404
        self.server = ServerThread(self._app)

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/api/chat", self._chat)
        app.router.add_post("/api/generate", self._generate)
        app.router.add_post("/api/embed", self._embed)
        app.router.add_post("/api/embeddings", self._embeddings)
        app.router.add_post("/api/show", self._show)
        app.router.add_get("/img.png", self._image)
        return app

    async def _show(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.seen.append(SeenRequest(request.path, dict(request.headers), body))
        if body.get("model") in self.missing:
            return web.Response(status=404, body=orjson.dumps({"error": f"model '{body['model']}' not found"}), content_type="application/json")
        details = {"parent_model": "", "format": "gguf", "family": "qwen3", "families": ["qwen3"], "parameter_size": "8.2B", "quantization_level": "Q4_K_M"}
        out = {
            "modelfile": f"FROM {body['model']}\n",
            "parameters": "temperature 0.6",
            "template": "{{ .Prompt }}",
            "details": details,
            "model_info": {"general.architecture": "qwen3", "qwen3.context_length": 40960},
            "capabilities": ["completion", "tools", "thinking"],
            "modified_at": _now(),
        }
        return web.Response(body=orjson.dumps(out), content_type="application/json")

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
        if body.get("model") in self.missing:
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
            out.update(_metrics(prompt, len(text.split())))
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
        final.update(_metrics(prompt, len(lines)))
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
