"""Edge validation of Ollama native API requests: /api/chat, /api/generate, /api/embed, /api/embeddings.

As Ollama decodes them (api/types.go): roles system, user, assistant, tool (lower-cased, as Ollama does);
`content` a string (null reads as empty); `images` bare base64 strings; tool-call `arguments` an object;
`format` "json" or a JSON schema; `options` an object whose known keys have their Go types (Ollama
itself rejects wrong types; unknown option keys it only logs, so they pass). An empty `messages` or
`prompt` is Ollama's "load the model" request and stays valid.
"""

from __future__ import annotations

from typing import Any

from lmgate.validate.checks import (
    Check,
    array,
    boolean,
    each,
    each_fast,
    fields,
    function_tool,
    function_tool_ok,
    integer,
    invalid_type,
    invalid_value,
    missing,
    number,
    obj,
    required,
    shaped,
    string,
    string_or_bool,
    string_or_number,
    string_or_object,
    string_or_strings,
    strings,
)

ROLES = ("system", "user", "assistant", "tool")

_OPTIONS: dict[str, Check] = {
    **{k: integer for k in ("num_predict", "top_k", "seed", "num_ctx", "num_keep", "repeat_last_n", "num_batch",
                            "num_gpu", "main_gpu", "num_thread")},
    **{k: number for k in ("temperature", "top_p", "min_p", "typical_p", "repeat_penalty", "presence_penalty",
                           "frequency_penalty")},
    "stop": string_or_strings,
    "use_mmap": boolean,
    "numa": boolean,
}
_options = shaped(_OPTIONS)

_tool_call = shaped({"id": string, "function": shaped({"name": string, "arguments": obj, "index": integer}, ("name",))})
_MESSAGE: dict[str, Check] = {
    "content": string,
    "thinking": string,
    "images": strings,
    "tool_calls": each(_tool_call),
    "tool_name": string,
    "tool_call_id": string,
}


def _message(m: Any, p: str) -> None:
    if m.__class__ is not dict:
        raise invalid_type(p, "an object", m)
    role = m.get("role")
    if role.__class__ is not str:
        raise missing(f"{p}.role") if role is None else invalid_type(f"{p}.role", "a string", role)
    if role.lower() not in ROLES:
        raise invalid_value(f"{p}.role", role, ROLES)
    fields(m, _MESSAGE, p + ".")


def _plain_message(m: Any) -> bool:
    """The fast path of `_message`: {role, content} with text content and a lower-case role."""
    return (
        m.__class__ is dict
        and len(m) == 2
        and m.get("content").__class__ is str
        and (role := m.get("role")).__class__ is str
        and role in ROLES
    )


_messages = each_fast(_plain_message, _message)

_COMMON: dict[str, Check] = {
    "stream": boolean,
    "format": string_or_object,
    "options": _options,
    "keep_alive": string_or_number,
    "think": string_or_bool,
    "logprobs": boolean,
    "top_logprobs": integer,
    "truncate": boolean,
}
CHAT_FIELDS: dict[str, Check] = {**_COMMON, "tools": each_fast(function_tool_ok, function_tool)}
GENERATE_FIELDS: dict[str, Check] = {
    **_COMMON,
    "prompt": string,
    "suffix": string,
    "system": string,
    "template": string,
    "images": strings,
    "raw": boolean,
    "context": array,
}
EMBED_FIELDS: dict[str, Check] = {
    "truncate": boolean,
    "dimensions": integer,
    "options": _options,
    "keep_alive": string_or_number,
}


def chat(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if messages is not None:
        _messages(messages, "messages")
    fields(body, CHAT_FIELDS)


def generate(body: dict[str, Any]) -> None:
    fields(body, GENERATE_FIELDS)


def _input(v: Any, p: str) -> None:
    if v.__class__ is str:
        if not v:
            raise missing(p)
        return
    strings(v, p)
    if not v:
        raise missing(p)


def embed(body: dict[str, Any]) -> None:
    required(body, "input", _input)
    fields(body, EMBED_FIELDS)


def embeddings(body: dict[str, Any]) -> None:
    required(body, "prompt", string)
    fields(body, EMBED_FIELDS)
