"""A loopback fake that plays a tool-using model, on OpenAI chat completions and on Ollama /api/chat.

First turn: it calls the shell tool the request offers (Codex: `exec_command` with `{"cmd": ...}`).
A turn that carries a tool result: it answers with text quoting that result. Every request is kept in
`seen`, so a test can check that the agent really ran the command and sent its output back.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from tests.servers import FakeServer, ServerThread

MARKER = "lmgate-e2e-ok"
COMMAND = f"echo {MARKER}"


def _tool_result(messages: list[Any]) -> str | None:
    results = [m for m in messages if isinstance(m, dict) and m.get("role") == "tool"]
    return str(results[-1].get("content")) if results else None


def _shell_tool(body: dict[str, Any]) -> str | None:
    names = [t.get("function", {}).get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
    return next((n for n in ("exec_command", "shell", "Bash") if n in names), None)


class ToolPlayingModel(FakeServer):
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.server = ServerThread(self._app)

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/api/chat", self._ollama)
        return app

    def _decide(self, body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        """(text, tool call or None) for this turn."""
        self.seen.append(body)
        result = _tool_result(body.get("messages") or [])
        tool = _shell_tool(body)
        if result is not None or tool is None:
            return f"The command printed: {(result or '').strip()[:200]}", None
        key = "cmd" if tool == "exec_command" else "command"
        return "", {"name": tool, "arguments": {key: COMMAND}}

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        text, call = self._decide(body)
        model = body.get("model", "m")
        calls = [{"index": 0, "id": f"call_{len(self.seen)}", "type": "function", "function": {"name": call["name"], "arguments": orjson.dumps(call["arguments"]).decode()}}] if call else []
        finish = "tool_calls" if calls else "stop"
        usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": text or None}
            if calls:
                message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in calls]
            choice = {"index": 0, "message": message, "finish_reason": finish}
            return web.json_response({"id": "x", "object": "chat.completion", "created": int(time.time()), "model": model, "choices": [choice], "usage": usage})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            obj = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
            return b"data: " + orjson.dumps(obj) + b"\n\n"

        await resp.write(chunk({"role": "assistant", "content": ""}))
        for word in text.split(" ") if text else []:
            await resp.write(chunk({"content": word + " "}))
        if calls:
            await resp.write(chunk({"tool_calls": calls}))
        await resp.write(chunk({}, finish))
        tail = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [], "usage": usage}
        await resp.write(b"data: " + orjson.dumps(tail) + b"\n\ndata: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async def _ollama(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        text, call = self._decide(body)
        now = "2026-01-01T00:00:00.000000000Z"
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if call:
            message["tool_calls"] = [{"function": {"name": call["name"], "arguments": call["arguments"]}}]
        final = {"model": body.get("model"), "created_at": now, "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop", "prompt_eval_count": 11, "eval_count": 7}
        if body.get("stream", True) is False:
            return web.json_response({**final, "message": message})
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        await resp.write(orjson.dumps({"model": body.get("model"), "created_at": now, "message": message, "done": False}) + b"\n")
        await resp.write(orjson.dumps(final) + b"\n")
        await resp.write_eof()
        return resp
