"""OpenAI chat requests -> Anthropic Messages requests, and Anthropic messages -> OpenAI answers.

Used by the `anthropic/` upstream adapter for OpenAI and Ollama clients. Decisions (see
docs/anthropic.md):
- leading system/developer messages become the `system` blocks; later ones stay `role:"system"`
  messages in place (the Messages API takes them);
- `role:"tool"` messages become `tool_result` blocks at the start of one user turn, followed by the
  next user message's content; consecutive same-role turns are merged;
- assistant `reasoning` is dropped from history (Anthropic rejects thinking without its signature);
- `reasoning_effort` becomes `thinking` with a budget inside that effort's band (low 2048, medium
  8192, high 24576 tokens; kept below `max_tokens`), and then temperature/top_p/top_k are not sent,
  as Anthropic requires with thinking; temperature is capped at 1;
- `max_tokens` is mandatory for Anthropic: the deployment's default fills it when the client sent none.
"""

from __future__ import annotations

import time
from typing import Any

from lmgate.core import Usage
from lmgate.errors import BadRequest
from lmgate.translate.anthropic import SIGNATURE, anthropic_tool_id, lenient_arguments, obj
from lmgate.translate.anthropic_stream import finish_reason, openai_usage
from lmgate.translate.ollama import dump_arguments, split_data_url, text_of

EFFORT_BUDGETS = {"low": 2048, "medium": 8192, "high": 24576, "xhigh": 24576, "max": 24576}
MIN_BUDGET = 1024  # Anthropic's smallest thinking budget
DEFAULT_MAX_TOKENS = 4096


# ---- requests: OpenAI -> Anthropic -----------------------------------------------------------------


def _image(part: dict[str, Any]) -> dict[str, Any]:
    ref = part.get("image_url")
    url = ref.get("url") if isinstance(ref, dict) else ref
    if not isinstance(url, str) or not url:
        raise BadRequest("an image_url part needs a 'url'", param="messages")
    parsed = split_data_url(url)
    if parsed is not None:
        return {"type": "image", "source": {"type": "base64", "media_type": parsed[0] or "image/png", "data": parsed[1]}}
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}  # Anthropic fetches it itself
    raise BadRequest("image URLs must be http(s) URLs or base64 data URLs", param="messages")


def _content(content: Any) -> list[dict[str, Any]]:
    """OpenAI user content as Anthropic blocks (empty text dropped: Anthropic rejects it)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise BadRequest("message 'content' must be a string or an array of content parts", param="messages")
    blocks = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": str(part["text"])})
        elif kind == "image_url":
            blocks.append(_image(part))
        else:
            raise BadRequest(f"content parts of type '{kind}' cannot be sent to an Anthropic model", param="messages")
    return blocks


def _assistant(m: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if (text := text_of(m.get("content"))) else []
    for c in m.get("tool_calls") or ():
        fn = c.get("function") if isinstance(c, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not isinstance(c.get("id"), str):
            raise BadRequest("each tool call needs an id and function.name", param="messages")
        blocks.append({"type": "tool_use", "id": anthropic_tool_id(c["id"]), "name": fn["name"], "input": lenient_arguments(fn.get("arguments"))})
    return blocks


def _append(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if not blocks:
        return
    if turns and turns[-1]["role"] == role and role != "system":
        turns[-1]["content"] += blocks
    else:
        turns.append({"role": role, "content": blocks})


def anthropic_messages(messages: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI chat messages as Anthropic (`system` blocks, `messages`)."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for m in messages:
        if not isinstance(m, dict):
            raise BadRequest("each message must be an object", param="messages")
        role = m.get("role")
        if role in ("system", "developer"):
            text = text_of(m.get("content"))
            if not turns:
                system += [{"type": "text", "text": text}] if text else []
            elif text:
                turns.append({"role": "system", "content": text})
        elif role == "user":
            _append(turns, "user", _content(m.get("content")))
        elif role == "assistant":
            _append(turns, "assistant", _assistant(m))
        elif role in ("tool", "function"):
            ident = m.get("tool_call_id")
            if not isinstance(ident, str) or not ident:
                raise BadRequest("each tool message needs a 'tool_call_id'", param="messages")
            result = {"type": "tool_result", "tool_use_id": anthropic_tool_id(ident), "content": text_of(m.get("content"))}
            _append(turns, "user", [result])
        else:
            raise BadRequest(f"unknown message role '{role}'", param="messages")
    return system, turns


def _tools(tools: Any) -> list[dict[str, Any]]:
    out = []
    for tool in tools if isinstance(tools, list) else ():
        fn = tool.get("function") if isinstance(tool, dict) and tool.get("type") == "function" else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise BadRequest("only function tools with a name can be sent to an Anthropic model", param="tools")
        schema = fn.get("parameters")
        entry: dict[str, Any] = {"name": fn["name"], "input_schema": schema if isinstance(schema, dict) else {"type": "object", "properties": {}}}
        if isinstance(fn.get("description"), str):
            entry["description"] = fn["description"]
        out.append(entry)
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    out: dict[str, Any] | None = None
    if choice == "auto":
        out = {"type": "auto"}
    elif choice == "required":
        out = {"type": "any"}
    elif choice == "none":
        out = {"type": "none"}
    elif isinstance(choice, dict):
        fn = choice.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise BadRequest("a named tool_choice needs function.name", param="tool_choice")
        out = {"type": "tool", "name": fn["name"]}
    if parallel is False:
        out = out or {"type": "auto"}
        if out["type"] != "none":
            out["disable_parallel_tool_use"] = True
    return out


def _thinking(effort: Any, max_tokens: int) -> dict[str, Any] | None:
    budget = EFFORT_BUDGETS.get(effort) if isinstance(effort, str) else None
    if budget is None:
        return None
    budget = min(budget, max_tokens - 1)
    return {"type": "enabled", "budget_tokens": budget} if budget >= MIN_BUDGET else None


def messages_request(body: dict[str, Any], model: str, stream: bool, max_tokens: int = DEFAULT_MAX_TOKENS) -> dict[str, Any]:
    """A canonical OpenAI chat body as an Anthropic Messages body for `model`."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array of messages", param="messages")
    system, turns = anthropic_messages(messages)
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    limit = limit if isinstance(limit, int) and limit > 0 else max_tokens
    out: dict[str, Any] = {"model": model, "messages": turns, "max_tokens": limit}
    if system:
        out["system"] = system
    thinking = _thinking(body.get("reasoning_effort"), limit)
    if thinking:
        out["thinking"] = thinking
    else:
        if isinstance(body.get("temperature"), int | float):
            out["temperature"] = min(float(body["temperature"]), 1.0)
        for key in ("top_p", "top_k"):
            if isinstance(body.get(key), int | float):
                out[key] = body[key]
    stop = body.get("stop")
    if isinstance(stop, str) and stop:
        out["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        out["stop_sequences"] = [s for s in stop if isinstance(s, str)]
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    if tools := _tools(body.get("tools")):
        out["tools"] = tools
        if choice := _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls")):
            out["tool_choice"] = choice
    fmt = body.get("response_format")
    spec = fmt.get("json_schema") if isinstance(fmt, dict) and fmt.get("type") == "json_schema" else None
    if isinstance(spec, dict) and isinstance(spec.get("schema"), dict):
        out["output_config"] = {"format": {"type": "json_schema", "schema": spec["schema"]}}
    if stream:
        out["stream"] = True
    return out


def drop_foreign_thinking(body: dict[str, Any]) -> dict[str, Any] | None:
    """The Anthropic body without thinking blocks Anthropic did not sign (lmgate made them from another
    upstream's reasoning before a fallback), or None when there are none — then the bytes can go as they are."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None

    def foreign(block: Any) -> bool:
        return isinstance(block, dict) and block.get("type") == "thinking" and block.get("signature") in (SIGNATURE, "", None)

    if not any(isinstance(m, dict) and isinstance(m.get("content"), list) and any(foreign(b) for b in m["content"]) for m in messages):
        return None
    cleaned = []
    for m in messages:
        if isinstance(m, dict) and isinstance(m.get("content"), list):
            m = {**m, "content": [b for b in m["content"] if not foreign(b)]}
        cleaned.append(m)
    return {**body, "messages": cleaned}


# ---- answers: Anthropic -> OpenAI ------------------------------------------------------------------


def usage_of(usage: Any) -> Usage:
    """Anthropic usage as lmgate's: input tokens include the cache reads and writes (as OpenAI's
    prompt_tokens do, see `Usage.from_openai`), which are also kept apart."""
    usage = obj(usage)
    read = int(usage.get("cache_read_input_tokens") or 0)
    written = int(usage.get("cache_creation_input_tokens") or 0)
    return Usage(int(usage.get("input_tokens") or 0) + read + written, int(usage.get("output_tokens") or 0), read, written)


def chat_completion(data: dict[str, Any], model: str) -> dict[str, Any]:
    """An Anthropic message as an OpenAI chat.completion."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in data.get("content") or ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            thoughts.append(str(block.get("thinking", "")))
        elif kind == "tool_use":
            fn = {"name": str(block.get("name", "")), "arguments": dump_arguments(block.get("input"))}
            calls.append({"id": str(block.get("id", "")), "type": "function", "function": fn})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if thoughts:
        message["reasoning"] = "".join(thoughts)
    if calls:
        message["tool_calls"] = calls
    ident = str(data.get("id") or "")
    usage = obj(data.get("usage"))
    return {
        "id": "chatcmpl-" + ident.removeprefix("msg_"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(data.get("stop_reason")), "logprobs": None}],
        "usage": openai_usage(usage),
    }
