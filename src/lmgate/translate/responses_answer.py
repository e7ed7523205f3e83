"""Canonical chat answers -> OpenAI Responses objects: the Response, its output items, usage and errors.

Pure functions shared by the whole-answer path (`response_object`) and the stream translator
(`responses_stream`), so both build the same items with the same ids: every item id derives from the
response id and the item's output index.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

import orjson

from lmgate.translate.responses import CUSTOM_ARG, custom_tool_names, obj_of, str_of

# request fields echoed in the Response object, with the defaults OpenAI reports when absent
_ECHO_DEFAULTS: dict[str, Any] = {
    "instructions": None, "max_output_tokens": None, "metadata": {}, "parallel_tool_calls": True,
    "previous_response_id": None, "prompt_cache_key": None, "reasoning": None, "temperature": None,
    "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [], "top_p": None,
    "truncation": "disabled", "user": None, "store": True, "background": False,
}  # fmt: skip
INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


# ---- ids -------------------------------------------------------------------------------------------


def new_response_id() -> str:
    return "resp_" + os.urandom(24).hex()


def item_id(prefix: str, response_id: str, n: int) -> str:
    """The id of output item `n` of a response (`msg`, `fc`, `ctc`, `rs`): stable for that response."""
    return f"{prefix}_{response_id.removeprefix('resp_')}{n:04x}"


def synthetic_call_id(response_id: str, n: int) -> str:
    """A call_id for an upstream tool call that came without an id."""
    return "call_" + hashlib.sha256(f"{response_id}\x00{n}".encode()).hexdigest()[:24]


# ---- objects ----------------------------------------------------------------------------------------


def response_usage(usage: Any) -> dict[str, Any] | None:
    """Chat usage as Responses usage (with the cached and reasoning token details)."""
    if not isinstance(usage, dict):
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    prompt_details = obj_of(usage.get("prompt_tokens_details"))
    out_details = obj_of(usage.get("completion_tokens_details"))
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": int(prompt_details.get("cached_tokens") or 0),
            "cache_write_tokens": int(prompt_details.get("cache_write_tokens") or 0),
        },
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": int(out_details.get("reasoning_tokens") or 0)},
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


def skeleton(body: dict[str, Any], response_id: str, model: str, created_at: int) -> dict[str, Any]:
    """A Response object with no output yet, echoing the request's settings."""
    out: dict[str, Any] = {"id": response_id, "object": "response", "created_at": created_at, "status": "in_progress"}
    out["model"] = model
    out["output"] = []
    out["error"] = None
    out["incomplete_details"] = None
    out["usage"] = None
    for key, default in _ECHO_DEFAULTS.items():
        value = body.get(key)
        out[key] = default if value is None else value
    return out


def finish(response: dict[str, Any], finish_reason: str | None, usage: Any) -> dict[str, Any]:
    """Marks a built Response done: completed, or incomplete (with its reason) on length/content filter."""
    reason = INCOMPLETE_REASONS.get(finish_reason or "")
    response["status"] = "incomplete" if reason else "completed"
    response["incomplete_details"] = {"reason": reason} if reason else None
    response["usage"] = response_usage(usage)
    return response


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal_part(refusal: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": refusal}


def message_item(ident: str, content: list[dict[str, Any]], status: str = "completed") -> dict[str, Any]:
    return {"type": "message", "id": ident, "status": status, "role": "assistant", "content": content}


def reasoning_item(ident: str, text: str, sealed: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "reasoning", "id": ident, "summary": [{"type": "summary_text", "text": text}]}
    if sealed is not None:
        item["encrypted_content"] = sealed
    return item


def call_item(ident: str, call_id: str, name: str, arguments: str, custom: bool, status: str = "completed") -> dict[str, Any]:
    """A function_call output item, or a custom_tool_call when the function stands for a custom tool."""
    if custom:
        return {"type": "custom_tool_call", "id": ident, "call_id": call_id, "name": name, "input": custom_input(arguments)}
    return {"type": "function_call", "id": ident, "call_id": call_id, "name": name, "arguments": arguments, "status": status}


def custom_input(arguments: str) -> str:
    """The free text a model passed to a custom tool (its raw arguments when they are not our one-field JSON)."""
    try:
        value = orjson.loads(arguments) if arguments else {}
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(value, dict) and isinstance(value.get(CUSTOM_ARG), str):
        return str(value[CUSTOM_ARG])
    return arguments


def reasoning_of(obj: dict[str, Any]) -> str:
    """The reasoning text of a chat message or delta (`reasoning`, or vLLM's older `reasoning_content`)."""
    return str_of(obj.get("reasoning") or obj.get("reasoning_content"))


def response_object(
    body: dict[str, Any],
    completion: dict[str, Any],
    response_id: str,
    model: str,
    created_at: int,
    seal: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """A chat.completion as the Response object for `body`; `seal` makes a reasoning item's encrypted_content."""
    choices = completion.get("choices") or [{}]
    choice = obj_of(choices[0])
    msg = obj_of(choice.get("message"))
    custom = custom_tool_names(body)
    out = skeleton(body, response_id, model, created_at)
    items: list[dict[str, Any]] = out["output"]
    thinking = reasoning_of(msg)
    if thinking:
        items.append(reasoning_item(item_id("rs", response_id, 0), thinking, seal(thinking) if seal else None))
    text = str_of(msg.get("content"))
    refusal = str_of(msg.get("refusal"))
    if text or refusal:
        parts = ([text_part(text)] if text else []) + ([refusal_part(refusal)] if refusal else [])
        items.append(message_item(item_id("msg", response_id, len(items)), parts))
    for n, call in enumerate(msg.get("tool_calls") or []):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            continue
        name = str(fn.get("name") or "")
        ident = call.get("id") if isinstance(call.get("id"), str) and call["id"] else synthetic_call_id(response_id, n)
        raw = fn.get("arguments")
        args = raw if isinstance(raw, str) else orjson.dumps(raw or {}).decode()
        prefix = "ctc" if name in custom else "fc"
        items.append(call_item(item_id(prefix, response_id, len(items)), ident, name, args, name in custom))
    if not items:
        items.append(message_item(item_id("msg", response_id, 0), [text_part("")]))
    return finish(out, choice.get("finish_reason"), completion.get("usage"))


def output_text(response: dict[str, Any]) -> str:
    """The joined text of a Response's messages (the SDK's `output_text`)."""
    return "".join(
        part.get("text", "")
        for item in response.get("output") or []
        if item.get("type") == "message"
        for part in item.get("content") or []
        if part.get("type") == "output_text"
    )


def error_object(status: int, message: str) -> dict[str, Any]:
    """The `error` of a failed Response (codes from the SDK's ResponseError)."""
    return {"code": "rate_limit_exceeded" if status == 429 else "server_error", "message": message}


_ITEM_PREFIX = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs",
                "custom_tool_call": "ctc", "custom_tool_call_output": "ctco"}  # fmt: skip


def listed_input_items(items: list[Any], response_id: str) -> list[dict[str, Any]]:
    """A stored response's input items as `GET /v1/responses/{id}/input_items` lists them: each with an
    id (kept, or derived from the response id and its position) and message content as parts."""
    out = []
    for n, raw in enumerate(items):
        item = dict(raw) if isinstance(raw, dict) else {"type": "message", "role": "user", "content": str(raw)}
        kind = item.setdefault("type", "message")
        item.setdefault("id", f"{_ITEM_PREFIX.get(kind, 'item')}_in{n:04x}{response_id.removeprefix('resp_')}")
        if kind == "message" and isinstance(item.get("content"), str):
            text = item["content"]
            item["content"] = [text_part(text)] if item.get("role") == "assistant" else [{"type": "input_text", "text": text}]
        if kind == "message":
            item.setdefault("status", "completed")
        out.append(item)
    return out
