"""Streams between OpenAI chunks and Anthropic SSE events, both ways.

`MessageStream` renders OpenAI chat.completion.chunk dicts as the full Anthropic event sequence
(`message_start`; per block `content_block_start`, deltas, `content_block_stop`; `message_delta`
with stop_reason and cumulative usage; `message_stop`) for an Anthropic client of another upstream.
`ChunkTranslator` turns an Anthropic upstream's events into OpenAI chunks for the other clients.
Both hold per-request state and do no I/O.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from lmgate.errors import UpstreamStatus
from lmgate.translate.anthropic import (
    SIGNATURE,
    anthropic_usage,
    client_tool_id,
    error_body,
    message_id,
    obj,
    shows_thinking,
    stop_reason,
    stop_sequences,
)
from lmgate.translate.ollama import call_id

PING = b'event: ping\ndata: {"type":"ping"}\n\n'
# Anthropic error types -> the HTTP status they stand for (errors inside a 200 stream carry none)
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def frame(obj: dict[str, Any]) -> bytes:
    """One SSE event; its name is the object's `type`, as Anthropic sends it."""
    return b"event: " + str(obj["type"]).encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


def error_frame(status: int, message: str) -> bytes:
    return frame(error_body(status, message))


# ---- OpenAI chunks -> Anthropic events ---------------------------------------------------------------


@dataclass(slots=True)
class _Call:
    """A streamed tool call: its block starts once its name is known."""

    ident: str = ""
    name: str = ""
    pending: str = ""  # argument text that arrived before the name
    block: int = -1


class MessageStream:
    """OpenAI chunks -> Anthropic SSE bytes for one request. `request` is the client's Anthropic body;
    `input_tokens` is the estimate `message_start` carries (true counts follow in `message_delta`)."""

    def __init__(self, model: str, request: dict[str, Any], input_tokens: int = 0) -> None:
        self.model = model
        self._thinking = shows_thinking(request)
        self._stops = stop_sequences(request)
        self._input_tokens = input_tokens
        self._started = False
        self._index = -1  # the last block's index
        self._open = ""  # kind of the open block: "thinking", "text", "tool" or ""
        self._calls: dict[int, _Call] = {}
        self._finish: str | None = None
        self._matched: Any = None
        self.usage: dict[str, Any] | None = None  # the upstream's OpenAI usage, once seen

    @property
    def started_content(self) -> bool:
        """Whether a content block has begun (after that, no other upstream may take over)."""
        return self._index >= 0

    def start(self, seed: Any = "") -> bytes:
        """`message_start` (once; later calls return nothing)."""
        if self._started:
            return b""
        self._started = True
        msg: dict[str, Any] = {
            "id": message_id(seed or time.time_ns()),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self._input_tokens, "output_tokens": 0},
        }
        return frame({"type": "message_start", "message": msg})

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        """The events for one OpenAI chunk (often none)."""
        out = [self.start(chunk.get("id"))]
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = obj(choice.get("delta"))
            reasoning = delta.get("reasoning") or delta.get("reasoning_content")
            if self._thinking and isinstance(reasoning, str) and reasoning:
                out.append(self._text("thinking", reasoning))
            if isinstance(delta.get("content"), str) and delta["content"]:
                out.append(self._text("text", delta["content"]))
            for call in delta.get("tool_calls") or ():
                if isinstance(call, dict):
                    out.append(self._tool(call))
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
                self._matched = choice.get("stop_reason")
        return b"".join(out)

    def end(self) -> bytes:
        """Close the open block, then `message_delta` (stop_reason, usage) and `message_stop`."""
        out = [self.start()]
        for n, call in sorted(self._calls.items()):
            if call.block < 0:  # a call whose name never came: still show it
                out.append(self._begin_tool(n, call))
        out.append(self._close())
        reason, sequence = stop_reason(self._finish, bool(self._calls), self._matched, self._stops)
        usage = anthropic_usage(self.usage)
        if self.usage is None:
            usage["input_tokens"] = self._input_tokens
        out.append(frame({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": sequence}, "usage": usage}))
        out.append(frame({"type": "message_stop"}))
        return b"".join(out)

    def error(self, status: int, message: str) -> bytes:
        """The in-stream `error` event for a failure after the first byte."""
        return error_frame(status, message)

    def _begin(self, kind: str, block: dict[str, Any]) -> bytes:
        closed = self._close()
        self._index += 1
        self._open = kind
        return closed + frame({"type": "content_block_start", "index": self._index, "content_block": block})

    def _close(self) -> bytes:
        if not self._open:
            return b""
        out = b""
        if self._open == "thinking":
            out = self._delta(self._index, {"type": "signature_delta", "signature": SIGNATURE})
        self._open = ""
        return out + frame({"type": "content_block_stop", "index": self._index})

    def _delta(self, index: int, delta: dict[str, Any]) -> bytes:
        return frame({"type": "content_block_delta", "index": index, "delta": delta})

    def _text(self, kind: str, text: str) -> bytes:
        out = b""
        if self._open != kind:
            block = {"type": "thinking", "thinking": "", "signature": ""} if kind == "thinking" else {"type": "text", "text": ""}
            out = self._begin(kind, block)
        key = "thinking" if kind == "thinking" else "text"
        return out + self._delta(self._index, {"type": f"{key}_delta", key: text})

    def _tool(self, delta: dict[str, Any]) -> bytes:
        n = delta.get("index")
        if not isinstance(n, int):  # some servers omit the index: a new id means a new call
            n = max(self._calls, default=0) if self._calls and not delta.get("id") else len(self._calls)
        call = self._calls.setdefault(n, _Call())
        fn = obj(delta.get("function"))
        args = str(fn.get("arguments") or "")
        if call.block >= 0:
            # OpenAI-compatible servers stream calls one after another; a late fragment of an
            # earlier call still names that call's block, which the SDKs accumulate by index
            return self._delta(call.block, {"type": "input_json_delta", "partial_json": args}) if args else b""
        if isinstance(delta.get("id"), str) and delta["id"]:
            call.ident = delta["id"]
        if isinstance(fn.get("name"), str):
            call.name += fn["name"]
        call.pending += args
        return self._begin_tool(n, call) if call.name else b""

    def _begin_tool(self, n: int, call: _Call) -> bytes:
        ident = client_tool_id(call.ident or call_id(n, call.name, ""))
        out = self._begin("tool", {"type": "tool_use", "id": ident, "name": call.name, "input": {}})
        call.block = self._index
        if call.pending:
            out += self._delta(call.block, {"type": "input_json_delta", "partial_json": call.pending})
            call.pending = ""
        return out


# ---- Anthropic events -> OpenAI chunks ---------------------------------------------------------------


def openai_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic usage as OpenAI's: prompt tokens include cache reads and writes, which are kept."""
    read = int(usage.get("cache_read_input_tokens") or 0)
    written = int(usage.get("cache_creation_input_tokens") or 0)
    prompt = int(usage.get("input_tokens") or 0) + read + written
    completion = int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": read, "cache_write_tokens": written},
    }


def finish_reason(reason: Any) -> str:
    return FINISH_REASONS.get(reason, "stop") if isinstance(reason, str) else "stop"


def upstream_error(data: dict[str, Any], deployment: str = "") -> UpstreamStatus:
    """An Anthropic error object (`{"type":"error","error":{type,message}}`) as an UpstreamStatus."""
    err = obj(data.get("error"))
    kind = err.get("type")
    message = str(err.get("message") or "the upstream reported an error")
    status = ERROR_STATUS.get(kind, 500) if isinstance(kind, str) else 500
    return UpstreamStatus(status, f"upstream '{deployment}': {message}" if deployment else message, deployment=deployment)


class ChunkTranslator:
    """Anthropic stream events (parsed `data` objects) -> OpenAI chat.completion.chunk dicts."""

    def __init__(self, model: str, deployment: str = "") -> None:
        self.model = model
        self.deployment = deployment
        self.counts: dict[str, Any] = {}  # the Anthropic usage so far, cumulative fields merged
        self._id = "chatcmpl-" + message_id(time.time_ns())[4:]
        self._created = int(time.time())
        self._tools: dict[int, int] = {}  # Anthropic block index -> OpenAI tool-call index
        self.finished = False  # message_stop seen

    @property
    def usage(self) -> dict[str, Any] | None:
        return openai_usage(self.counts) if self.counts else None

    def _chunk(self, delta: dict[str, Any] | None, finish: str | None = None) -> dict[str, Any]:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
        return {"id": self._id, "object": "chat.completion.chunk", "created": self._created, "model": self.model, "choices": choices}

    def _merge(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self.counts.update({k: v for k, v in usage.items() if v is not None})

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """The OpenAI chunks for one event; raises UpstreamStatus for an `error` event."""
        kind = event.get("type")
        if kind == "message_start":
            msg = obj(event.get("message"))
            if isinstance(msg.get("id"), str):
                self._id = "chatcmpl-" + msg["id"].removeprefix("msg_")
            self._merge(msg.get("usage"))
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(event)
        if kind == "content_block_delta":
            return self._block_delta(event)
        if kind == "message_delta":
            self._merge(event.get("usage"))
            delta = obj(event.get("delta"))
            if delta.get("stop_reason") is not None:
                return [self._chunk({}, finish_reason(delta["stop_reason"]))]
            return []
        if kind == "message_stop":
            self.finished = True
            return [{**self._chunk(None), "usage": openai_usage(self.counts)}]
        if kind == "error":
            raise upstream_error(event, self.deployment)
        return []  # ping, content_block_stop and events this version does not know

    def _block_start(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        block = obj(event.get("content_block"))
        kind = block.get("type")
        if kind == "tool_use":
            n = self._tools[int(event.get("index") or 0)] = len(self._tools)
            call = {"index": n, "id": block.get("id"), "type": "function", "function": {"name": block.get("name"), "arguments": ""}}
            return [self._chunk({"tool_calls": [call]})]
        if kind == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if kind == "thinking" and block.get("thinking"):
            return [self._chunk({"reasoning": block["thinking"]})]
        return []

    def _block_delta(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        delta = obj(event.get("delta"))
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [self._chunk({"reasoning": delta["thinking"]})]
        if kind == "input_json_delta" and delta.get("partial_json"):
            n = self._tools.get(int(event.get("index") or 0))
            if n is not None:
                return [self._chunk({"tool_calls": [{"index": n, "function": {"arguments": delta["partial_json"]}}]})]
        return []
