"""OpenAI requests -> Ollama native requests, and Ollama answers -> OpenAI answers.

Used by the `ollama/` and `ollama_chat/` upstream adapter. Decisions (see docs/ollama.md):
- a multi-part OpenAI message becomes ONE Ollama message: text parts joined with "\\n", images in
  `images` (bare base64), so images stay attached to their turn;
- tool-call arguments: JSON string <-> object; missing Ollama call ids get a stable id derived from
  (index, name, arguments), so the same answer always carries the same ids;
- `finish_reason` is `tool_calls` when the answer has tool calls (Ollama says `stop`).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import struct
import time
from datetime import datetime
from typing import Any

import orjson

from lmgate.errors import BadRequest

# Ollama `options` keys (api/types.go Options and Runner); anything else is not sent in options.
OPTION_KEYS = frozenset(
    {
        "num_keep", "seed", "num_predict", "top_k", "top_p", "min_p", "typical_p", "repeat_last_n",
        "temperature", "repeat_penalty", "presence_penalty", "frequency_penalty", "stop", "num_ctx",
        "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread", "mirostat", "mirostat_tau",
        "mirostat_eta", "penalize_newline", "tfs_z", "numa", "low_vram",
    }
)  # fmt: skip
# OpenAI request fields copied into options under the same name.
_SAME_NAME_OPTIONS = ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty", "top_k", "min_p")
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[^,;]+)*;base64,(?P<data>.*)$", re.S)
_MAGIC = (("iVBOR", "image/png"), ("/9j/", "image/jpeg"), ("R0lGOD", "image/gif"), ("UklGR", "image/webp"))
_FRACTION = re.compile(r"(\.\d{6})\d+")
EFFORT_TO_THINK = {"none": False, "minimal": "low", "low": "low", "medium": "medium", "high": "high", "max": "max"}


# ---- shared helpers ------------------------------------------------------------------------------


def text_of(content: Any) -> str:
    """The text of an OpenAI content value (string, parts array or null); text parts joined by newlines."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise BadRequest("message 'content' must be a string or an array of content parts", param="messages")


def split_data_url(url: str) -> tuple[str | None, str] | None:
    """(mime, base64 data) of a base64 data URL, or None when `url` is not one."""
    m = _DATA_URL.match(url)
    return (m.group("mime"), m.group("data")) if m else None


def data_url(b64: str) -> str:
    """A data URL for bare base64 image data (the type is read from the image's first bytes)."""
    mime = next((t for magic, t in _MAGIC if b64.startswith(magic)), "image/png")
    return f"data:{mime};base64,{b64}"


def call_id(index: int, name: str, arguments: str) -> str:
    """A deterministic id for a call in a request's history that came without one: the same history
    gets the same ids (its tool results are matched to them in the same pass)."""
    digest = hashlib.sha256(f"{index}\x00{name}\x00{arguments}".encode()).hexdigest()
    return "call_" + digest[:24]


def new_call_id() -> str:
    """A unique id for a call an upstream answered without one (Ollama): two conversations, or one
    repeating a call, never share an id."""
    return "call_" + secrets.token_hex(12)


def parse_arguments(raw: Any) -> dict[str, Any]:
    """OpenAI's JSON-string arguments as the object Ollama wants (400 when not a JSON object)."""
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    try:
        value = orjson.loads(raw) if isinstance(raw, str) else None
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise BadRequest("tool call 'arguments' must be a JSON object encoded as a string", param="messages")
    return value


def dump_arguments(obj: Any) -> str:
    return orjson.dumps(obj if obj is not None else {}).decode()


def created_of(data: dict[str, Any]) -> int:
    """Unix seconds from Ollama's RFC 3339 `created_at` (nanosecond precision), else now."""
    stamp = data.get("created_at")
    if isinstance(stamp, str):
        try:
            return int(datetime.fromisoformat(_FRACTION.sub(r"\1", stamp.replace("Z", "+00:00"))).timestamp())
        except ValueError:
            pass
    return int(time.time())


# ---- requests: OpenAI -> Ollama --------------------------------------------------------------------


def _image_url(part: dict[str, Any]) -> str:
    ref = part.get("image_url")
    url = ref.get("url") if isinstance(ref, dict) else ref
    if not isinstance(url, str) or not url:
        raise BadRequest("an image_url part needs a 'url'", param="messages")
    return url


def remote_image_urls(messages: list[Any]) -> list[str]:
    """The http(s) image URLs in OpenAI messages (they must be fetched before translation)."""
    urls: list[str] = []
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            for p in content:
                if isinstance(p, dict) and p.get("type") == "image_url":
                    url = _image_url(p)
                    if not url.startswith("data:") and url not in urls:
                        urls.append(url)
    return urls


def _user_content(content: Any, fetched: dict[str, str]) -> tuple[str, list[str]]:
    if not isinstance(content, list):
        return text_of(content), []
    texts: list[str] = []
    images: list[str] = []
    for p in content:
        kind = p.get("type") if isinstance(p, dict) else None
        if kind == "text":
            texts.append(str(p.get("text", "")))
        elif kind == "image_url":
            url = _image_url(p)
            parsed = split_data_url(url)
            if parsed is not None:
                images.append(parsed[1])
            elif url in fetched:
                images.append(fetched[url])
            else:
                raise BadRequest(
                    "image URLs must be base64 data URLs here (an operator may set "
                    "general_settings.allow_remote_images: true to let the gateway fetch them)",
                    param="messages",
                )
        else:
            raise BadRequest(f"content parts of type '{kind}' cannot be sent to an Ollama model", param="messages")
    return "\n".join(texts), images


def _assistant(m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant", "content": text_of(m.get("content"))}
    reasoning = m.get("reasoning") or m.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        out["thinking"] = reasoning
    calls = m.get("tool_calls")
    if isinstance(calls, list) and calls:
        out["tool_calls"] = []
        for i, c in enumerate(calls):
            fn = c.get("function") if isinstance(c, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise BadRequest("each tool call needs function.name", param="messages")
            call: dict[str, Any] = {"function": {"index": i, "name": fn["name"], "arguments": parse_arguments(fn.get("arguments"))}}
            if isinstance(c.get("id"), str):
                call["id"] = c["id"]
            out["tool_calls"].append(call)
    return out


def ollama_messages(messages: list[Any], fetched: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """OpenAI chat messages as Ollama /api/chat messages."""
    fetched = fetched or {}
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool-call id -> function name, to fill tool_name on results
    for m in messages:
        if not isinstance(m, dict):
            raise BadRequest("each message must be an object", param="messages")
        role = m.get("role")
        if role in ("system", "developer"):
            out.append({"role": "system", "content": text_of(m.get("content"))})
        elif role == "user":
            text, images = _user_content(m.get("content"), fetched)
            msg: dict[str, Any] = {"role": "user", "content": text}
            if images:
                msg["images"] = images
            out.append(msg)
        elif role == "assistant":
            msg = _assistant(m)
            for c in msg.get("tool_calls", ()):
                if "id" in c:
                    names[c["id"]] = c["function"]["name"]
            out.append(msg)
        elif role in ("tool", "function"):
            ident = m.get("tool_call_id")
            msg = {"role": "tool", "content": text_of(m.get("content"))}
            name = m.get("name") or (names.get(ident) if isinstance(ident, str) else None)
            if isinstance(name, str):
                msg["tool_name"] = name
            if isinstance(ident, str):
                msg["tool_call_id"] = ident
            out.append(msg)
        else:
            raise BadRequest(f"unknown message role '{role}'", param="messages")
    return out


def ollama_format(response_format: Any) -> Any:
    """`response_format` as Ollama's `format` ("json" or a JSON schema), None for plain text."""
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise BadRequest("response_format.json_schema.schema must be a JSON schema object", param="response_format")
        return schema
    return None


def ollama_options(body: dict[str, Any]) -> dict[str, Any]:
    """OpenAI sampling parameters as Ollama `options`."""
    opts: dict[str, Any] = {k: body[k] for k in _SAME_NAME_OPTIONS if body.get(k) is not None}
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if isinstance(limit, int):
        opts["num_predict"] = limit
    stop = body.get("stop")
    if isinstance(stop, str):
        opts["stop"] = [stop]
    elif isinstance(stop, list) and stop:
        opts["stop"] = stop
    extra = body.get("options")  # an Ollama-aware client may send options directly (extra_body)
    if isinstance(extra, dict):
        opts.update({k: v for k, v in extra.items() if k in OPTION_KEYS})
    return opts


def _common(body: dict[str, Any], model: str, stream: bool, params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"model": model, "stream": stream}
    options = ollama_options(body)
    for key, value in params.items():
        if key in OPTION_KEYS:
            options.setdefault(key, value)
    if options:
        out["options"] = options
    fmt = ollama_format(body.get("response_format"))
    if fmt is not None:
        out["format"] = fmt
    think = body.get("think")
    if think is None and isinstance(body.get("reasoning_effort"), str):
        think = EFFORT_TO_THINK.get(body["reasoning_effort"])
    if think is None:
        think = params.get("think")
    if think is not None:
        out["think"] = think
    keep_alive = body.get("keep_alive", params.get("keep_alive"))
    if keep_alive is not None:
        out["keep_alive"] = keep_alive
    return out


def chat_body(
    body: dict[str, Any], model: str, stream: bool, params: dict[str, Any], fetched: dict[str, str] | None = None
) -> dict[str, Any]:
    """An OpenAI chat request as an Ollama /api/chat body."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise BadRequest("'messages' must be an array", param="messages")
    out = _common(body, model, stream, params)
    out["messages"] = ollama_messages(messages, fetched)
    tools = body.get("tools")
    if isinstance(tools, list) and tools and body.get("tool_choice") != "none":
        out["tools"] = tools
    for key in ("logprobs", "top_logprobs"):
        if body.get(key) is not None:
            out[key] = body[key]
    return out


def generate_body(body: dict[str, Any], model: str, stream: bool, params: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI /v1/completions request as an Ollama /api/generate body."""
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise BadRequest("an Ollama model takes one text prompt, not a batch or token ids", param="prompt")
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise BadRequest("'prompt' must be a string", param="prompt")
    out = _common(body, model, stream, params)
    out["prompt"] = prompt
    if isinstance(body.get("suffix"), str):
        out["suffix"] = body["suffix"]
    return out


def embed_body(body: dict[str, Any], model: str, params: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI embeddings request as an Ollama /api/embed body."""
    inputs = body.get("input")
    ok = isinstance(inputs, str) or (isinstance(inputs, list) and all(isinstance(i, str) for i in inputs))
    if not ok:
        raise BadRequest("an Ollama embedding model takes a string or an array of strings", param="input")
    out: dict[str, Any] = {"model": model, "input": inputs}
    if isinstance(body.get("dimensions"), int):
        out["dimensions"] = body["dimensions"]
    keep_alive = body.get("keep_alive", params.get("keep_alive"))
    if keep_alive is not None:
        out["keep_alive"] = keep_alive
    return out


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# ---- answers: Ollama -> OpenAI ---------------------------------------------------------------------


def usage_of(data: dict[str, Any]) -> dict[str, int]:
    """OpenAI usage from Ollama's counters (absent counters mean 0)."""
    prompt = int(data.get("prompt_eval_count") or 0)
    completion = int(data.get("eval_count") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def finish_reason(done_reason: Any, has_tool_calls: bool) -> str:
    if has_tool_calls:
        return "tool_calls"
    return "length" if done_reason == "length" else "stop"


def openai_tool_calls(calls: list[Any], start: int = 0) -> list[dict[str, Any]]:
    """Ollama tool calls as OpenAI ones: arguments as a JSON string, ids kept or synthesized."""
    out = []
    for n, c in enumerate(calls, start=start):
        fn = c.get("function") if isinstance(c, dict) else None
        if not isinstance(fn, dict):
            continue
        name = str(fn.get("name", ""))
        args = dump_arguments(fn.get("arguments"))
        ident = c.get("id") if isinstance(c.get("id"), str) and c.get("id") else new_call_id()
        out.append({"index": n, "id": ident, "type": "function", "function": {"name": name, "arguments": args}})
    return out


def _ident(prefix: str, data: dict[str, Any]) -> str:
    seed = f"{data.get('created_at')}{data.get('model')}{data.get('total_duration')}"
    return prefix + hashlib.sha256(seed.encode()).hexdigest()[:24]


def chat_completion(data: dict[str, Any], model: str) -> dict[str, Any]:
    """An Ollama /api/chat answer as an OpenAI chat.completion."""
    msg = _object(data.get("message"))
    calls = openai_tool_calls(msg.get("tool_calls") or [])
    message: dict[str, Any] = {"role": "assistant", "content": msg.get("content") or ("" if not calls else None)}
    if msg.get("thinking"):
        message["reasoning"] = msg["thinking"]
    if calls:
        message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in calls]
    choice = {"index": 0, "message": message, "finish_reason": finish_reason(data.get("done_reason"), bool(calls)), "logprobs": None}
    return {
        "id": _ident("chatcmpl-", data),
        "object": "chat.completion",
        "created": created_of(data),
        "model": model,
        "choices": [choice],
        "usage": usage_of(data),
    }


def text_completion(data: dict[str, Any], model: str) -> dict[str, Any]:
    """An Ollama /api/generate answer as an OpenAI text_completion."""
    choice = {"index": 0, "text": data.get("response") or "", "finish_reason": finish_reason(data.get("done_reason"), False), "logprobs": None}
    return {
        "id": _ident("cmpl-", data),
        "object": "text_completion",
        "created": created_of(data),
        "model": model,
        "choices": [choice],
        "usage": usage_of(data),
    }


def embeddings(data: dict[str, Any], model: str, as_base64: bool = False) -> dict[str, Any]:
    """An Ollama /api/embed answer as an OpenAI embeddings list (base64 = little-endian float32)."""
    vectors: list[Any] = list(data.get("embeddings") or [])
    if as_base64:
        vectors = [base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() for v in vectors]
    tokens = int(data.get("prompt_eval_count") or 0)
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def error_status(message: str) -> int:
    """The HTTP status an Ollama error line means (errors inside a 200 stream carry no status)."""
    low = message.lower()
    if "not found" in low:
        return 404
    if "rate limit" in low or "usage limit" in low or "too many" in low:
        return 429
    if "unauthorized" in low:
        return 401
    return 500


class ChunkTranslator:
    """Ollama NDJSON stream objects -> OpenAI chunks (chat.completion.chunk or text_completion)."""

    def __init__(self, model: str, completion: bool = False) -> None:
        self.model = model
        self.completion = completion
        self.usage: dict[str, int] | None = None
        self._id = ""
        self._created = 0
        self._started = False
        self._tool_calls = 0

    def _chunk(self, choice: dict[str, Any]) -> dict[str, Any]:
        obj = "text_completion" if self.completion else "chat.completion.chunk"
        return {"id": self._id, "object": obj, "created": self._created, "model": self.model, "choices": [choice]}

    def _delta(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        if not self._started:
            delta = {"role": "assistant", **delta}
            self._started = True
        return self._chunk({"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None})

    def feed(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """The OpenAI chunks for one Ollama stream object (the final one adds finish and usage)."""
        if not self._id:
            self._id = _ident("cmpl-" if self.completion else "chatcmpl-", data)
            self._created = created_of(data)
        out: list[dict[str, Any]] = []
        if self.completion:
            if data.get("response"):
                out.append(self._chunk({"index": 0, "text": data["response"], "finish_reason": None, "logprobs": None}))
        else:
            msg = _object(data.get("message"))
            if msg.get("thinking"):
                out.append(self._delta({"reasoning": msg["thinking"]}))
            if msg.get("content"):
                out.append(self._delta({"content": msg["content"]}))
            if msg.get("tool_calls"):
                calls = openai_tool_calls(msg["tool_calls"], start=self._tool_calls)
                self._tool_calls += len(calls)
                out.append(self._delta({"tool_calls": calls}))
        if data.get("done"):
            out.extend(self.finish(data))
        return out

    def finish(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        reason = finish_reason(data.get("done_reason"), self._tool_calls > 0)
        if self.completion:
            last = self._chunk({"index": 0, "text": "", "finish_reason": reason, "logprobs": None})
        else:
            last = self._delta({}, reason)
        self.usage = usage_of(data)
        usage_chunk = {**self._chunk({}), "choices": [], "usage": self.usage}
        return [last, usage_chunk]
