"""Edge validation of Anthropic Messages requests (`POST /v1/messages`), ready for the Anthropic inbound
protocol to call before routing.

Checked against what Claude Code sends (PROTOCOLS.md section 6): `system` as text blocks with
`cache_control`, a `role: "system"` turn inside `messages` (Claude Code sends one after the first user
turn, so it is accepted), a dozen tools (some with `defer_loading`), `thinking` of type "adaptive",
`context_management`, `output_config`, `metadata.user_id` as a JSON string. Server tools (`web_search_...`)
have a `type` and no `input_schema`. Block and tool types lmgate does not know pass through.
"""

from __future__ import annotations

from typing import Any

from lmgate.validate.checks import (
    Check,
    boolean,
    each,
    each_fast,
    fields,
    integer,
    invalid_type,
    invalid_value,
    missing,
    number,
    obj,
    required,
    string,
    strings,
    typed_object,
    typed_objects,
)

ROLES = ("user", "assistant", "system")

_BLOCK: dict[str, tuple[str, Check]] = {  # block type -> (its required key, that key's check)
    "text": ("text", string),
    "image": ("source", typed_object),
    "document": ("source", typed_object),
    "tool_use": ("name", string),
    "tool_result": ("tool_use_id", string),
    "thinking": ("thinking", string),
}


def _blocks(v: Any, p: str) -> None:
    typed_objects(v, p)
    for i, block in enumerate(v):
        rule = _BLOCK.get(block["type"])
        if rule is not None:
            key, check = rule
            value = block.get(key)
            if value is None:
                raise missing(f"{p}[{i}].{key}")
            check(value, f"{p}[{i}].{key}")
            if block["type"] == "tool_use" and block.get("input") is not None:
                obj(block["input"], f"{p}[{i}].input")


def text_or_blocks(v: Any, p: str) -> None:
    if v.__class__ is not str:
        _blocks(v, p)


def _message(m: Any, p: str) -> None:
    if m.__class__ is not dict:
        raise invalid_type(p, "an object", m)
    role = m.get("role")
    if role.__class__ is not str:
        raise missing(f"{p}.role") if role is None else invalid_type(f"{p}.role", "a string", role)
    if role not in ROLES:
        raise invalid_value(f"{p}.role", role, ROLES[:2])
    content = m.get("content")
    if content is None:
        raise missing(f"{p}.content")
    text_or_blocks(content, f"{p}.content")


def _tool(v: Any, p: str) -> None:
    if v.__class__ is not dict:
        raise invalid_type(p, "an object", v)
    name = v.get("name")
    if name is None:
        raise missing(f"{p}.name")
    string(name, f"{p}.name")
    kind = v.get("type")
    if kind is None or kind == "custom":  # a client tool: its input schema is required
        schema = v.get("input_schema")
        if schema is None:
            raise missing(f"{p}.input_schema")
        obj(schema, f"{p}.input_schema")
    else:
        string(kind, f"{p}.type")
    if v.get("description") is not None:
        string(v["description"], f"{p}.description")


_messages = each(_message)
_NONE = type(None)


def _tool_ok(v: Any) -> bool:
    """The fast path of `_tool`: a client tool {name, description?, input_schema}."""
    return (
        v.__class__ is dict
        and v.get("type") is None
        and v.get("name").__class__ is str
        and v.get("input_schema").__class__ is dict
        and v.get("description").__class__ in (str, _NONE)
    )


FIELDS: dict[str, Check] = {
    "system": text_or_blocks,
    "stream": boolean,
    "temperature": number,
    "top_p": number,
    "top_k": integer,
    "stop_sequences": strings,
    "metadata": obj,
    "thinking": typed_object,
    "tools": each_fast(_tool_ok, _tool),
    "tool_choice": typed_object,
    "output_config": obj,
    "context_management": obj,
    "service_tier": string,
}


def messages(body: dict[str, Any]) -> None:
    required(body, "max_tokens", integer)
    required(body, "messages", _messages)
    fields(body, FIELDS)
