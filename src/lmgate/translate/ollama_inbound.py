"""Ollama native requests -> OpenAI requests, and OpenAI answers -> Ollama native answers.

Used when an Ollama client (`/api/chat`, `/api/generate`, `/api/embed`, `/api/embeddings`) reaches a
non-Ollama upstream. `/api/generate` becomes a chat request (system + one user turn): Ollama applies
the model's chat template to a generate prompt too, and most OpenAI-compatible servers only serve chat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from lmgate.errors import BadRequest
from lmgate.translate.ollama import call_id, data_url, dump_arguments, parse_arguments

if TYPE_CHECKING:
    from lmgate.core import GatewayRequest

THINK_TO_EFFORT = {"low": "low", "medium": "medium", "high": "high", "max": "high"}
# Ollama options -> OpenAI fields with the same meaning
_OPTION_FIELDS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "num_predict": "max_tokens",
    "stop": "stop",
}
DONE_REASONS = {"stop": "stop", "length": "length", "tool_calls": "stop", "content_filter": "stop"}


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# ---- requests: Ollama -> OpenAI ---------------------------------------------------------------------


def _user(m: dict[str, Any]) -> dict[str, Any]:
    images = m.get("images")
    text = m.get("content") or ""
    if not images:
        return {"role": "user", "content": text}
    if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
        raise BadRequest("'images' must be an array of base64 strings")
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    parts += [{"type": "image_url", "image_url": {"url": data_url(i)}} for i in images]
    return {"role": "user", "content": parts}


def openai_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """Ollama chat messages as OpenAI ones: images as data URLs, tool calls with ids, results matched."""
    out: list[dict[str, Any]] = []
    pending: dict[str, list[str]] = {}  # function name -> ids of calls not yet answered
    for n, m in enumerate(messages):
        if not isinstance(m, dict):
            raise BadRequest("each message must be an object")
        role = str(m.get("role", "")).lower()
        if role == "system":
            out.append({"role": "system", "content": m.get("content") or ""})
        elif role == "user":
            out.append(_user(m))
        elif role == "assistant":
            msg: dict[str, Any] = {"role": "assistant", "content": m.get("content") or ""}
            calls = []
            for i, c in enumerate(m.get("tool_calls") or []):
                fn = c.get("function") if isinstance(c, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                    raise BadRequest("each tool call needs function.name")
                args = dump_arguments(parse_arguments(fn.get("arguments")))
                ident = c.get("id") if isinstance(c.get("id"), str) and c["id"] else call_id(n * 100 + i, fn["name"], args)
                pending.setdefault(fn["name"], []).append(ident)
                calls.append({"id": ident, "type": "function", "function": {"name": fn["name"], "arguments": args}})
            if calls:
                msg["tool_calls"] = calls
                msg["content"] = msg["content"] or None
            out.append(msg)
        elif role == "tool":
            ident = m.get("tool_call_id")
            name = m.get("tool_name") or m.get("name")
            waiting = pending.get(name, []) if isinstance(name, str) else []
            if isinstance(ident, str) and ident:
                if ident in waiting:
                    waiting.remove(ident)
            elif waiting:
                ident = waiting.pop(0)
            else:
                ident = call_id(n, str(name or "tool"), "")
            out.append({"role": "tool", "tool_call_id": ident, "content": m.get("content") or ""})
        else:
            raise BadRequest(f"unknown message role '{m.get('role')}'")
    return out


def _sampling(body: dict[str, Any], out: dict[str, Any]) -> None:
    options = body.get("options")
    if isinstance(options, dict):
        for key, target in _OPTION_FIELDS.items():
            value = options.get(key)
            if value is not None and not (key == "num_predict" and value < 0):
                out[target] = value
    fmt = body.get("format")
    if fmt == "json":
        out["response_format"] = {"type": "json_object"}
    elif isinstance(fmt, dict):
        out["response_format"] = {"type": "json_schema", "json_schema": {"name": "response", "schema": fmt}}
    think = body.get("think")
    if isinstance(think, str) and think in THINK_TO_EFFORT:
        out["reasoning_effort"] = THINK_TO_EFFORT[think]


def openai_request(request: GatewayRequest) -> dict[str, Any]:
    """The OpenAI body for an Ollama-wire `GatewayRequest` (chat, generate, embed or embeddings)."""
    body = request.body
    out: dict[str, Any] = {"model": request.model}
    if request.endpoint == "embedding":
        inputs = body.get("prompt") if request.operation == "embeddings" else body.get("input")
        out["input"] = inputs
        if isinstance(body.get("dimensions"), int):
            out["dimensions"] = body["dimensions"]
        return out
    if request.operation == "generate":
        messages: list[dict[str, Any]] = []
        if isinstance(body.get("system"), str) and body["system"]:
            messages.append({"role": "system", "content": body["system"]})
        messages.append(_user({"content": body.get("prompt") or "", "images": body.get("images")}))
        out["messages"] = messages
    else:
        out["messages"] = openai_messages(body.get("messages") or [])
        if isinstance(body.get("tools"), list) and body["tools"]:
            out["tools"] = body["tools"]
    _sampling(body, out)
    if request.stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# ---- answers: OpenAI -> Ollama ----------------------------------------------------------------------


@dataclass(slots=True)
class Timing:
    """Wall-clock marks (perf_counter_ns) turned into Ollama's nanosecond duration fields."""

    start: int
    first: int = 0
    end: int = 0

    def fields(self, usage: dict[str, Any] | None) -> dict[str, Any]:
        """Durations measured by the gateway: up to the first token is prompt evaluation, the rest is
        generation. A whole (non-streamed) answer has no first-token mark: all of it counts as
        generation, so tokens/s (eval_count / eval_duration) is a lower bound, never infinite."""
        usage = usage or {}
        first = self.first or self.start
        return {
            "total_duration": max(0, self.end - self.start),
            "load_duration": 0,
            "prompt_eval_count": int(usage.get("prompt_tokens") or 0),
            "prompt_eval_duration": max(0, first - self.start),
            "eval_count": int(usage.get("completion_tokens") or 0),
            "eval_duration": max(0, self.end - first),
        }


def ollama_tool_calls(calls: list[Any]) -> list[dict[str, Any]]:
    out = []
    for i, c in enumerate(calls):
        fn = c.get("function") if isinstance(c, dict) else None
        if not isinstance(fn, dict):
            continue
        try:
            args = parse_arguments(fn.get("arguments"))
        except BadRequest:
            args = {"_raw": fn.get("arguments")}  # a model wrote broken JSON: keep it visible
        call: dict[str, Any] = {"function": {"index": i, "name": fn.get("name", ""), "arguments": args}}
        if c.get("id"):
            call["id"] = c["id"]
        out.append(call)
    return out


def _reasoning(obj: dict[str, Any]) -> str:
    value = obj.get("reasoning") or obj.get("reasoning_content")
    return value if isinstance(value, str) else ""


def chat_reply(data: dict[str, Any], model: str, timing: Timing, generate: bool = False) -> dict[str, Any]:
    """An OpenAI chat.completion as an Ollama /api/chat (or /api/generate) answer."""
    choices = data.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    msg = _object(choice.get("message"))
    out: dict[str, Any] = {"model": model, "created_at": now_rfc3339()}
    text = msg.get("content") or ""
    thinking = _reasoning(msg)
    if generate:
        out["response"] = text
        if thinking:
            out["thinking"] = thinking
    else:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if thinking:
            message["thinking"] = thinking
        if msg.get("tool_calls"):
            message["tool_calls"] = ollama_tool_calls(msg["tool_calls"])
        out["message"] = message
    out["done"] = True
    out["done_reason"] = DONE_REASONS.get(choice.get("finish_reason") or "stop", "stop")
    out.update(timing.fields(data.get("usage")))
    return out


def embed_reply(data: dict[str, Any], model: str, timing: Timing, legacy: bool) -> dict[str, Any]:
    """An OpenAI embeddings list as Ollama's /api/embed (or legacy /api/embeddings) answer."""
    items = sorted((d for d in data.get("data") or [] if isinstance(d, dict)), key=lambda d: d.get("index", 0))
    vectors = [d.get("embedding") for d in items]
    if any(not isinstance(v, list) for v in vectors):
        raise BadRequest("the upstream sent embeddings that are not float arrays")
    if legacy:
        return {"embedding": vectors[0] if vectors else []}
    usage = data.get("usage") or {}
    return {
        "model": model,
        "embeddings": vectors,
        "total_duration": max(0, timing.end - timing.start),
        "load_duration": 0,
        "prompt_eval_count": int(usage.get("prompt_tokens") or 0),
    }


@dataclass(slots=True)
class StreamRenderer:
    """OpenAI chat chunks -> Ollama NDJSON lines. Tool calls are collected and sent whole, as Ollama does."""

    model: str
    timing: Timing
    generate: bool = False
    usage: dict[str, Any] | None = None
    finish: str = "stop"
    _calls: dict[int, dict[str, Any]] = field(default_factory=dict)

    def _line(self, obj: dict[str, Any]) -> bytes:
        return orjson.dumps(obj) + b"\n"

    def _piece(self, content: str = "", thinking: str = "") -> bytes:
        out: dict[str, Any] = {"model": self.model, "created_at": now_rfc3339()}
        if self.generate:
            out["response"] = content
            if thinking:
                out["thinking"] = thinking
        else:
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if thinking:
                message["thinking"] = thinking
            out["message"] = message
        out["done"] = False
        return self._line(out)

    def feed(self, chunk: dict[str, Any], now: int) -> bytes:
        """Ollama lines for one OpenAI chunk (often empty bytes)."""
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        lines = b""
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if choice.get("finish_reason"):
                self.finish = DONE_REASONS.get(choice["finish_reason"], "stop")
            for c in delta.get("tool_calls") or []:
                slot = self._calls.setdefault(int(c.get("index", 0)), {"id": "", "name": "", "arguments": ""})
                fn = c.get("function") or {}
                slot["id"] = c.get("id") or slot["id"]
                slot["name"] += fn.get("name") or ""
                slot["arguments"] += fn.get("arguments") or ""
            content = delta.get("content") or choice.get("text") or ""
            thinking = _reasoning(delta)
            if content or thinking:
                if not self.timing.first:
                    self.timing.first = now
                lines += self._piece(content, thinking)
        return lines

    def close(self, now: int) -> bytes:
        """The tool-call line (if any) and the final `done` line with counts and durations."""
        self.timing.end = now
        lines = b""
        if self._calls and not self.generate:
            calls = [{"id": s["id"], "type": "function", "function": {"name": s["name"], "arguments": s["arguments"]}} for _, s in sorted(self._calls.items())]
            message = {"role": "assistant", "content": "", "tool_calls": ollama_tool_calls(calls)}
            lines += self._line({"model": self.model, "created_at": now_rfc3339(), "message": message, "done": False})
        final: dict[str, Any] = {"model": self.model, "created_at": now_rfc3339()}
        if self.generate:
            final["response"] = ""
        else:
            final["message"] = {"role": "assistant", "content": ""}
        final["done"] = True
        final["done_reason"] = self.finish
        final.update(self.timing.fields(self.usage))
        return lines + self._line(final)
