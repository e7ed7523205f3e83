"""Edge validation of OpenAI Responses requests (`POST /v1/responses`), ready for the Responses inbound
protocol to call before routing.

Checked against what Codex CLI sends (PROTOCOLS.md section 6): `input` items starting with a developer
message, function tools flat (`name` and `parameters` on the tool, not under `function`), a hosted
`{type: "web_search"}` tool, `tool_choice: "auto"`, `reasoning`, `include`, `store: false`,
`prompt_cache_key`, `client_metadata`. Item, part and tool types lmgate does not know pass through.
"""

from __future__ import annotations

from typing import Any

from lmgate.validate.checks import (
    Check,
    boolean,
    each_fast,
    fields,
    integer,
    invalid_type,
    missing,
    number,
    obj,
    string,
    string_or_object,
    strings,
    typed_object,
    typed_objects,
)

_ITEM: dict[str, tuple[str, ...]] = {  # item type -> its required string keys
    "function_call": ("call_id", "name", "arguments"),
    "function_call_output": ("call_id",),
}


def _content(v: Any, p: str) -> None:
    if v.__class__ is not str:
        typed_objects(v, p)


def _item(v: Any, p: str) -> None:
    if v.__class__ is not dict:
        raise invalid_type(p, "an object", v)
    kind = v.get("type")
    if kind is None and "role" in v:  # an EasyInputMessage: {role, content}
        kind = "message"
    elif kind.__class__ is not str:
        raise missing(f"{p}.type") if kind is None else invalid_type(f"{p}.type", "a string", kind)
    if kind == "message":
        role = v.get("role")
        if role is None:
            raise missing(f"{p}.role")
        string(role, f"{p}.role")
        content = v.get("content")
        if content is None:
            raise missing(f"{p}.content")
        _content(content, f"{p}.content")
    for key in _ITEM.get(kind, ()):
        value = v.get(key)
        if value is None:
            raise missing(f"{p}.{key}")
        string(value, f"{p}.{key}")


def _input(v: Any, p: str) -> None:
    if v.__class__ is str:
        return
    if v.__class__ is not list:
        raise invalid_type(p, "a string or an array of input items", v)
    for i, item in enumerate(v):
        _item(item, f"{p}[{i}]")


def _tool(v: Any, p: str) -> None:
    typed_object(v, p)
    if v["type"] in ("function", "custom"):
        name = v.get("name")
        if name is None:
            raise missing(f"{p}.name")
        string(name, f"{p}.name")
        if v.get("parameters") is not None:
            obj(v["parameters"], f"{p}.parameters")


_NONE = type(None)


def _tool_ok(v: Any) -> bool:
    """The fast path of `_tool`: a flat function tool."""
    return (
        v.__class__ is dict
        and v.get("type") == "function"
        and v.get("name").__class__ is str
        and v.get("parameters").__class__ in (dict, _NONE)
    )


FIELDS: dict[str, Check] = {
    "instructions": string,
    "tools": each_fast(_tool_ok, _tool),
    "tool_choice": string_or_object,
    "parallel_tool_calls": boolean,
    "max_output_tokens": integer,
    "temperature": number,
    "top_p": number,
    "text": obj,
    "reasoning": obj,
    "store": boolean,
    "stream": boolean,
    "previous_response_id": string,
    "include": strings,
    "metadata": obj,
    "prompt_cache_key": string,
}


def create(body: dict[str, Any]) -> None:
    value = body.get("input")
    if value is None:
        raise missing("input")
    _input(value, "input")
    fields(body, FIELDS)
