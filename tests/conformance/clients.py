"""The conformance table's client side: one entry per inbound protocol, driven by its official SDK.

Each entry knows how a client of that protocol sends a chat (stream or not, with tools), hands a tool's
result back, and reads the answer, its usage, its model field and an error body. Adding a protocol to
`lmgate.inbound.PROTOCOLS` means adding one entry here (tests/conformance/test_coverage.py fails until
you do); every conformance test then runs over it with every upstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

import httpx
import ollama
import openai
import orjson


@dataclass
class Reply:
    """What a client read from one answer, protocol aside."""

    text: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    message: Any = None  # the assistant message as this protocol sends it back in the next turn


@dataclass
class Failure:
    """An error answer as this protocol's client saw it."""

    status: int
    message: str


class Client(Protocol):
    name: str  # the inbound protocol's name, as in lmgate.inbound.PROTOCOLS
    chat_path: str  # where its chat requests go (for raw, malformed requests)

    def chat(self, base: str, model: str, messages: list[dict[str, Any]], *, stream: bool = False,
             tools: list[dict[str, Any]] | None = None) -> Reply: ...

    def chat_error(self, base: str, model: str, messages: list[dict[str, Any]]) -> Failure:
        """Send a chat that must fail; return the error as the SDK raised it."""
        ...

    def user(self, text: str) -> dict[str, Any]: ...

    def tool_result(self, reply: Reply, result: str) -> list[dict[str, Any]]:
        """The messages that follow `reply` (its tool call) in the next turn: the call, then its result."""
        ...

    def error_message(self, body: Any) -> str:
        """Assert `body` is this protocol's error shape; return its message."""
        ...


TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
KEY = "sk-conformance"


class OpenAIClient:
    name = "openai"
    chat_path = "/v1/chat/completions"

    @staticmethod
    @cache  # one client per gateway: building one (TLS context and all) costs more than a request
    def _sdk(base: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=base + "/v1", api_key=KEY, max_retries=0, timeout=15)

    def user(self, text: str) -> dict[str, Any]:
        return {"role": "user", "content": text}

    def chat(self, base: str, model: str, messages: list[dict[str, Any]], *, stream: bool = False,
             tools: list[dict[str, Any]] | None = None) -> Reply:
        sdk = self._sdk(base)
        extra: dict[str, Any] = {"tools": tools} if tools else {}
        if stream:
            chunks = list(sdk.chat.completions.create(model=model, messages=messages, stream=True,  # type: ignore[call-overload]
                                                      stream_options={"include_usage": True}, **extra))
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            usage = chunks[-1].usage
            assert usage is not None, "with include_usage the last chunk carries usage"
            assert {c.model for c in chunks} == {chunks[0].model}, "every chunk names the same model"
            return Reply(text, chunks[0].model, usage.prompt_tokens, usage.completion_tokens)
        out = sdk.chat.completions.create(model=model, messages=messages, **extra)  # type: ignore[arg-type]
        msg = out.choices[0].message
        calls = [(c.function.name, orjson.loads(c.function.arguments)) for c in msg.tool_calls or [] if c.type == "function"]
        if calls:
            assert out.choices[0].finish_reason == "tool_calls"
        assert out.usage is not None, "a chat completion carries usage"
        return Reply(msg.content or "", out.model, out.usage.prompt_tokens, out.usage.completion_tokens,
                     calls, msg.model_dump(exclude_none=True))

    def chat_error(self, base: str, model: str, messages: list[dict[str, Any]]) -> Failure:
        try:
            self._sdk(base).chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
        except openai.APIStatusError as exc:
            return Failure(exc.status_code, self.error_message(exc.response.json()))
        raise AssertionError("the request was expected to fail")

    def tool_result(self, reply: Reply, result: str) -> list[dict[str, Any]]:
        call_id = reply.message["tool_calls"][0]["id"]
        return [reply.message, {"role": "tool", "tool_call_id": call_id, "content": result}]

    def error_message(self, body: Any) -> str:
        assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
        err = body["error"]
        assert isinstance(err.get("message"), str) and err["message"] and "type" in err, body
        return str(err["message"])


class OllamaClient:
    name = "ollama"
    chat_path = "/api/chat"

    @staticmethod
    @cache
    def _sdk(base: str) -> ollama.Client:
        return ollama.Client(host=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=15)

    def user(self, text: str) -> dict[str, Any]:
        return {"role": "user", "content": text}

    def chat(self, base: str, model: str, messages: list[dict[str, Any]], *, stream: bool = False,
             tools: list[dict[str, Any]] | None = None) -> Reply:
        sdk = self._sdk(base)
        if stream:
            parts = list(sdk.chat(model=model, messages=messages, tools=tools, stream=True))
            assert parts[-1].done and all(not p.done for p in parts[:-1]), "one final done line, last"
            text = "".join(p.message.content or "" for p in parts)
            assert {p.model for p in parts} == {parts[0].model}
            last = parts[-1]
            return Reply(text, str(last.model), last.prompt_eval_count, last.eval_count)
        out = sdk.chat(model=model, messages=messages, tools=tools, stream=False)
        calls = [(c.function.name, dict(c.function.arguments)) for c in out.message.tool_calls or []]
        return Reply(out.message.content or "", str(out.model), out.prompt_eval_count, out.eval_count, calls,
                     out.message.model_dump(exclude_none=True))

    def chat_error(self, base: str, model: str, messages: list[dict[str, Any]]) -> Failure:
        try:
            self._sdk(base).chat(model=model, messages=messages, stream=False)
        except ollama.ResponseError as exc:
            return Failure(exc.status_code, exc.error)
        raise AssertionError("the request was expected to fail")

    def tool_result(self, reply: Reply, result: str) -> list[dict[str, Any]]:
        name = reply.tool_calls[0][0]
        return [reply.message, {"role": "tool", "content": result, "tool_name": name}]

    def error_message(self, body: Any) -> str:
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
        return str(body["error"])


CLIENTS: tuple[Client, ...] = (OpenAIClient(), OllamaClient())


def post_raw(base: str, path: str, content: bytes) -> httpx.Response:
    """A request no SDK would send (malformed body), with the conformance key."""
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    return httpx.post(base + path, content=content, headers=headers, timeout=15)
