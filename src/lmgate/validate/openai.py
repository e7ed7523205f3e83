"""Edge validation of OpenAI API requests: chat completions, completions, embeddings.

Roles and content as the API defines them (openai-python `types/chat/*_message_param.py`): `system` and
`developer` text, `user` text or parts, `assistant` content that may be null when it carries
`tool_calls` (or `function_call`, or a `refusal`), `tool` with its `tool_call_id`, legacy `function` with
its `name`. Extra keys (vLLM's `top_k`, `chat_template_kwargs`, a client's own) pass through.
"""

from __future__ import annotations

from typing import Any

from lmgate.validate.checks import (
    Check,
    array,
    boolean,
    each,
    each_fast,
    empty,
    fields,
    function_def,
    function_tool,
    function_tool_ok,
    integer,
    invalid_type,
    invalid_value,
    missing,
    number,
    obj,
    one_of,
    required,
    shaped,
    string,
    string_or_object,
    string_or_strings,
    typed_object,
    typed_objects,
)

ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def _text_or_parts(v: Any, p: str) -> None:
    if v.__class__ is not str:
        typed_objects(v, p)


def _part_url(v: Any, p: str) -> None:
    if v.__class__ is dict:
        url = v.get("url")
        if url is None:
            raise missing(f"{p}.url")
        string(url, f"{p}.url")
    elif v.__class__ is not str:
        raise invalid_type(p, "an object", v)


_PART = {"text": string, "image_url": _part_url, "input_audio": obj, "file": obj}


def _user_content(v: Any, p: str) -> None:
    if v.__class__ is str:
        return
    if v.__class__ is not list:
        raise invalid_type(p, "a string or an array of content parts", v)
    for i, part in enumerate(v):
        q = f"{p}[{i}]"
        typed_object(part, q)
        kind = part["type"]
        if kind in _PART:
            value = part.get(kind)
            if value is None:
                raise missing(f"{q}.{kind}")
            _PART[kind](value, f"{q}.{kind}")


_tool_call = shaped(
    {"id": string, "type": string, "function": shaped({"name": string, "arguments": string_or_object}, ("name",))},
)
_MESSAGE: dict[str, Check] = {
    "name": string,
    "tool_calls": each(_tool_call),
    "function_call": obj,
    "tool_call_id": string,
    "refusal": string,
}


def _message(m: Any, p: str) -> None:
    if m.__class__ is not dict:
        raise invalid_type(p, "an object", m)
    role = m.get("role")
    if role.__class__ is not str:
        raise missing(f"{p}.role") if role is None else invalid_type(f"{p}.role", "a string", role)
    content = m.get("content")
    cp = f"{p}.content"
    if role == "user":
        if content is None:
            raise missing(cp)
        _user_content(content, cp)
    elif role == "assistant":
        if content is not None:
            _text_or_parts(content, cp)
    elif role in ("system", "developer"):
        if content is None:
            raise missing(cp)
        _text_or_parts(content, cp)
    elif role == "tool":
        if content is None:
            raise missing(cp)
        _text_or_parts(content, cp)
        if m.get("tool_call_id") is None:
            raise missing(f"{p}.tool_call_id")
    elif role == "function":
        if m.get("name") is None:
            raise missing(f"{p}.name")
        if content is not None:
            string(content, cp)
    else:
        raise invalid_value(f"{p}.role", role, ROLES)
    fields(m, _MESSAGE, p + ".")


_PLAIN_ROLES = frozenset({"user", "assistant", "system", "developer"})


def _plain_message(m: Any) -> bool:
    """The fast path of `_message`: {role, content} with text content."""
    return (
        m.__class__ is dict
        and len(m) == 2
        and m.get("content").__class__ is str
        and (role := m.get("role")).__class__ is str
        and role in _PLAIN_ROLES
    )


_messages = each_fast(_plain_message, _message)


def _tool_choice(v: Any, p: str) -> None:
    if v.__class__ is str:
        one_of("none", "auto", "required")(v, p)
    else:
        typed_object(v, p)


def _response_format(v: Any, p: str) -> None:
    typed_object(v, p)
    if v["type"] == "json_schema":
        schema = v.get("json_schema")
        if schema is None:
            raise missing(f"{p}.json_schema")
        obj(schema, f"{p}.json_schema")


# The optional request fields shared by chat and completions (nullable: null passes).
_SAMPLING: dict[str, Check] = {
    "stream": boolean,
    "stream_options": obj,
    "temperature": number,
    "top_p": number,
    "frequency_penalty": number,
    "presence_penalty": number,
    "seed": integer,
    "n": integer,
    "max_tokens": integer,
    "stop": string_or_strings,
    "logit_bias": obj,
    "user": string,
    "metadata": obj,
}
CHAT_FIELDS: dict[str, Check] = {
    **_SAMPLING,
    "max_completion_tokens": integer,
    "logprobs": boolean,
    "top_logprobs": integer,
    "tools": each_fast(function_tool_ok, function_tool),
    "tool_choice": _tool_choice,
    "parallel_tool_calls": boolean,
    "response_format": _response_format,
    "reasoning_effort": string,
    "modalities": array,
    "store": boolean,
    "service_tier": string,
    "functions": each(function_def),
    "function_call": string_or_object,
}
COMPLETION_FIELDS: dict[str, Check] = {
    **_SAMPLING,
    "suffix": string,
    "echo": boolean,
    "best_of": integer,
    "logprobs": integer,
}
EMBEDDING_FIELDS: dict[str, Check] = {"dimensions": integer, "encoding_format": string, "user": string}


def chat(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if messages is None:
        raise missing("messages")
    if messages.__class__ is not list:
        raise invalid_type("messages", "an array", messages)
    if not messages:
        raise empty("messages", "empty array. Expected an array with minimum length 1")
    _messages(messages, "messages")
    fields(body, CHAT_FIELDS)


def _tokens(v: list[Any]) -> bool:
    return all(t.__class__ is int for t in v)


def _prompt_like(v: Any, p: str) -> None:
    """A string, strings, token ids, or arrays of token ids (completions' `prompt`, embeddings' `input`)."""
    if v.__class__ is str:
        return
    if v.__class__ is not list:
        raise invalid_type(p, "a string or an array", v)
    if not v:
        raise empty(p, "empty array. Expected a string or a non-empty array")
    if all(s.__class__ is str for s in v) or _tokens(v):
        return
    for i, item in enumerate(v):
        if item.__class__ is not str and not (item.__class__ is list and _tokens(item)):
            raise invalid_type(f"{p}[{i}]", "a string or an array of token ids", item)


def completion(body: dict[str, Any]) -> None:
    required(body, "prompt", _prompt_like)
    fields(body, COMPLETION_FIELDS)


def embedding(body: dict[str, Any]) -> None:
    value = required(body, "input", _prompt_like)
    if value == "":
        raise empty("input", "empty string. Expected a non-empty string or array")
    fields(body, EMBEDDING_FIELDS)
