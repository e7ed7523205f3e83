"""Loopback fakes for the Anthropic tests: an Anthropic Messages upstream, and an OpenAI-compatible
upstream that plays a tool-using model.

`FakeAnthropicUpstream` speaks the Messages API the way api.anthropic.com does (`POST /v1/messages`
stream and not, `POST /v1/messages/count_tokens`, `GET /v1/models`, Anthropic error bodies, 529
overloaded, `event: error` inside a 200 stream, cache token counts in usage). Both fakes can play a
model: when the request offers tools and its last turn carries no tool result, the answer calls the
shell tool (the first tool with a `command` or `cmd` property, else the first tool; required string
arguments filled in, the shell argument set to `echo lmgate`); once the result comes back,
the answer is text that quotes it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.servers import FakeServer, SeenRequest, ServerThread

USAGE = {"input_tokens": 11, "output_tokens": 0, "cache_read_input_tokens": 7, "cache_creation_input_tokens": 3}


@dataclass
class AnthropicBehaviour:
    """What the upstream does for one request.

    kind: ok | status | error_event | cut | think | slow_start
    `status` answers with `status` and an Anthropic error body; `error_event` sends `event: error`
    (overloaded) after `after_events` events of a 200 stream; `cut` resets the connection there;
    `think` adds a signed thinking block; `slow_start` sends pings for `delay` s before anything.
    """

    kind: str = "ok"
    status: int = 200
    after_events: int = 1
    content: str = "hello from claude"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, message: str) -> dict[str, Any]:
    kinds = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error", 429: "rate_limit_error", 529: "overloaded_error"}
    return {"type": "error", "error": {"type": kinds.get(status, "api_error"), "message": message}, "request_id": "req_fake"}


def _tool_results(messages: list[Any], anthropic: bool) -> list[str]:
    """The tool results in the request's last turn (either protocol)."""
    if not messages:
        return []
    if not anthropic:  # the tool messages after the last assistant turn
        tail = []
        for m in reversed(messages):
            if m.get("role") == "assistant":
                break
            if m.get("role") == "tool":
                tail.append(str(m.get("content")))
        return tail[::-1]
    last = messages[-1]
    content = last.get("content") if last.get("role") == "user" else None
    out = []
    for block in content if isinstance(content, list) else ():
        if block.get("type") == "tool_result":
            inner = block.get("content")
            out.append(inner if isinstance(inner, str) else " ".join(b.get("text", "") for b in inner or ()))
    return out


SHELL_ARGS = ("command", "cmd")  # Claude Code's Bash takes `command`, Codex's exec_command `cmd`


def play_call(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments for a tool: every required string property filled, the shell argument with a command."""
    props = schema.get("properties") or {}
    args = {k: "echo lmgate" if k in SHELL_ARGS else "x" for k in schema.get("required") or () if (props.get(k) or {}).get("type") == "string"}
    for key in SHELL_ARGS:
        if key in props:
            args[key] = "echo lmgate"
    return args


def pick_tool(tools: list[dict[str, Any]], schema_of: Any) -> dict[str, Any]:
    """The shell tool when one is offered (a tool with a `command` or `cmd` property: Claude Code's
    Bash, Codex's exec_command), else the first."""
    def shell(t: dict[str, Any]) -> bool:
        props = (schema_of(t) or {}).get("properties") or {}
        return any(k in props for k in SHELL_ARGS)

    return next((t for t in tools if shell(t)), tools[0])


class FakeAnthropicUpstream(FakeServer):
    """Speaks the Anthropic Messages wire format; `script` holds behaviours consumed one per request."""

    def __init__(self) -> None:
        self.script: list[AnthropicBehaviour] = []
        self.default = AnthropicBehaviour()
        self.seen: list[SeenRequest] = []
        self.api_key: str | None = None  # when set, GET /v1/models wants it as x-api-key
        self.model_ids = ["claude-test-1"]  # what GET /v1/models lists
        self.server = ServerThread(self._app)

    @property
    def calls(self) -> int:
        return len(self.seen)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count)
        app.router.add_get("/v1/models", self._models)
        return app

    def _record(self, request: web.Request, body: dict[str, Any]) -> None:
        self.seen.append(SeenRequest(request.path_qs, dict(request.headers), body))

    async def _models(self, request: web.Request) -> web.Response:
        if self.api_key and request.headers.get("x-api-key") != self.api_key:
            return web.json_response(_error(401, "invalid x-api-key"), status=401)
        ids = self.model_ids
        data = [{"id": i, "type": "model", "display_name": i, "created_at": "2026-01-01T00:00:00Z"} for i in ids]
        return web.json_response({"data": data, "has_more": False, "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None})

    async def _count(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self._record(request, body)
        return web.json_response({"input_tokens": 42})

    def _blocks(self, body: dict[str, Any], b: AnthropicBehaviour) -> tuple[list[dict[str, Any]], str]:
        blocks: list[dict[str, Any]] = []
        if b.kind == "think":
            blocks.append({"type": "thinking", "thinking": "let me think", "signature": "EqQBCkYIBxgC"})
        results = _tool_results(body.get("messages") or [], anthropic=True)
        tools = body.get("tools") or []
        if results:
            blocks.append({"type": "text", "text": "the tool said: " + " | ".join(results)})
            return blocks, "end_turn"
        if tools and (body.get("tool_choice") or {}).get("type") != "none":
            tool = pick_tool(tools, lambda t: t.get("input_schema"))
            blocks.append({"type": "text", "text": "calling a tool"})
            blocks.append({"type": "tool_use", "id": "toolu_01FakeCall9", "name": tool["name"], "input": play_call(tool.get("input_schema") or {})})
            return blocks, "tool_use"
        blocks.append({"type": "text", "text": b.content})
        return blocks, "end_turn"

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        self._record(request, body)
        b = self.script.pop(0) if self.script else self.default
        if b.kind == "status":
            return web.json_response(_error(b.status, f"upstream says {b.status}"), status=b.status, headers=b.headers)
        blocks, stop = self._blocks(body, b)
        usage = {**USAGE, "output_tokens": 5}
        msg = {"id": "msg_01Fake", "type": "message", "role": "assistant", "model": body["model"], "content": blocks,
               "stop_reason": stop, "stop_sequence": None, "usage": usage}  # fmt: skip
        if not body.get("stream"):
            return web.json_response(msg, headers={"request-id": "req_fake"})
        return await self._stream(request, msg, b)

    async def _stream(self, request: web.Request, msg: dict[str, Any], b: AnthropicBehaviour) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "request-id": "req_fake"})
        await resp.prepare(request)

        def event(obj: dict[str, Any]) -> bytes:
            return b"event: " + obj["type"].encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"

        start = {**msg, "content": [], "stop_reason": None, "usage": {**USAGE, "output_tokens": 1}}
        events = [event({"type": "message_start", "message": start})]
        for i, block in enumerate(msg["content"]):
            if block["type"] == "text":
                events.append(event({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}))
                for n, word in enumerate(block["text"].split(" ")):
                    delta = {"type": "text_delta", "text": word if n == 0 else " " + word}
                    events.append(event({"type": "content_block_delta", "index": i, "delta": delta}))
            elif block["type"] == "thinking":
                events.append(event({"type": "content_block_start", "index": i, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}))
                events.append(event({"type": "content_block_delta", "index": i, "delta": {"type": "thinking_delta", "thinking": block["thinking"]}}))
                events.append(event({"type": "content_block_delta", "index": i, "delta": {"type": "signature_delta", "signature": block["signature"]}}))
            else:
                events.append(event({"type": "content_block_start", "index": i, "content_block": {**block, "input": {}}}))
                raw = orjson.dumps(block["input"]).decode()
                for piece in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
                    events.append(event({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": piece}}))
            events.append(event({"type": "content_block_stop", "index": i}))
            if i == 0:
                events.append(b'event: ping\ndata: {"type": "ping"}\n\n')
        events.append(event({"type": "message_delta", "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None}, "usage": {"output_tokens": 5}}))
        events.append(event({"type": "message_stop"}))
        if b.kind == "slow_start":
            deadline = time.monotonic() + b.delay
            while time.monotonic() < deadline:
                await resp.write(b'event: ping\ndata: {"type": "ping"}\n\n')
                await asyncio.sleep(0.05)
        try:
            for i, e in enumerate(events):
                if b.kind == "error_event" and i == b.after_events:
                    await resp.write(event(_error(529, "Overloaded")))
                    await resp.write_eof()
                    return resp
                if b.kind == "cut" and i == b.after_events:
                    assert request.transport is not None
                    request.transport.abort()
                    return resp
                await resp.write(e)
            await resp.write_eof()
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        return resp


class ToolModelOpenAI(FakeServer):
    """An OpenAI-compatible upstream that plays a tool-using model (see the module docstring); streams
    tool-call arguments in two pieces, as real servers do."""

    base_path = "/v1"

    def __init__(self, call_id: str = "aB3dE5fG7") -> None:
        self.call_id = call_id  # Mistral-style by default: 9 alphanumerics
        self.seen: list[SeenRequest] = []
        self.server = ServerThread(self._app)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/tokenize", self._tokenize)  # vLLM's, at the server root
        return app

    async def _tokenize(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.seen.append(SeenRequest(request.path, dict(request.headers), body))
        return web.json_response({"count": 77, "max_model_len": 4096, "tokens": list(range(77))})

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        results = _tool_results(body.get("messages") or [], anthropic=False)
        tools = body.get("tools") or []
        if results or not tools or body.get("tool_choice") == "none":
            text = "the tool said: " + " | ".join(results) if results else "hello from the tool model"
            return {"role": "assistant", "content": text}
        fn = pick_tool(tools, lambda t: t["function"].get("parameters"))["function"]
        args = orjson.dumps(play_call(fn.get("parameters") or {})).decode()
        call = {"id": self.call_id, "type": "function", "function": {"name": fn["name"], "arguments": args}}
        return {"role": "assistant", "content": None, "tool_calls": [call]}

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        self.seen.append(SeenRequest(request.path, dict(request.headers), body))
        message = self._answer(body)
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        usage = {"prompt_tokens": 20, "completion_tokens": 6, "total_tokens": 26}
        base = {"id": "chatcmpl-tm", "created": int(time.time()), "model": body["model"]}
        if not body.get("stream"):
            choice = {"index": 0, "message": message, "finish_reason": finish}
            return web.json_response({**base, "object": "chat.completion", "choices": [choice], "usage": usage})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)

        async def send(delta: dict[str, Any] | None, finish_reason: str | None = None, **extra: Any) -> None:
            choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
            await resp.write(b"data: " + orjson.dumps({**base, "object": "chat.completion.chunk", "choices": choices, **extra}) + b"\n\n")

        await send({"role": "assistant", "content": ""})
        if message.get("content"):
            for n, word in enumerate(message["content"].split(" ")):
                await send({"content": word if n == 0 else " " + word})
        for call in message.get("tool_calls") or ():
            args = call["function"]["arguments"]
            head = {"index": 0, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"], "arguments": args[:3]}}
            await send({"tool_calls": [head]})
            await send({"tool_calls": [{"index": 0, "function": {"arguments": args[3:]}}]})
        await send({}, finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            await send(None, usage=usage)
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


class ToolModelOllama(FakeServer):
    """An Ollama upstream (`/api/chat`, NDJSON streams) that plays a tool-using model, like ToolModelOpenAI."""

    def __init__(self) -> None:
        self.seen: list[SeenRequest] = []
        self.server = ServerThread(self._app)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/chat", self._chat)
        return app

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        self.seen.append(SeenRequest(request.path, dict(request.headers), body))
        messages = body.get("messages") or []
        results = _tool_results(messages, anthropic=False)
        tools = body.get("tools") or []
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        if results or not tools:
            message["content"] = "the tool said: " + " | ".join(results) if results else "hello from the tool model"
        else:
            fn = pick_tool(tools, lambda t: t["function"].get("parameters"))["function"]
            message["tool_calls"] = [{"function": {"name": fn["name"], "arguments": play_call(fn.get("parameters") or {})}}]
        stamp = "2026-01-01T00:00:00.000000000Z"
        done = {"model": body["model"], "created_at": stamp, "message": {"role": "assistant", "content": ""}, "done": True,
                "done_reason": "stop", "prompt_eval_count": 20, "eval_count": 6}  # fmt: skip
        if body.get("stream") is False:
            return web.json_response({**done, "message": message})
        lines = [{"model": body["model"], "created_at": stamp, "message": message, "done": False}, done]
        return web.Response(body=b"".join(orjson.dumps(line) + b"\n" for line in lines), content_type="application/x-ndjson")
