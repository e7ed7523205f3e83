"""The shared pieces of edge validation: type checks on the parsed body that raise a `BadRequest` naming
the parameter (`messages[1].content[0].type`), in the words OpenAI uses for the same mistakes.

Types and structure only; values are the upstream's business. Cheap on purpose: a check is a class
lookup in a set, each body key is looked up once in its endpoint's table, and keys a table does not
know pass through untouched. No pydantic, no allocation on the good path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lmgate.errors import BadRequest

Check = Callable[[Any, str], None]  # (value, parameter path) -> None, or raise BadRequest
Table = Mapping[str, Check]

_NUMBER = frozenset({int, float})  # bool is its own class: never a number here
_NAMES = {
    str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "an array",
    dict: "an object", type(None): "null",
}


def _got(value: Any) -> str:
    return _NAMES.get(value.__class__, "something else")


def invalid_type(param: str, expected: str, value: Any) -> BadRequest:
    return BadRequest(
        f"Invalid type for '{param}': expected {expected}, but got {_got(value)} instead.",
        param=param,
        code="invalid_type",
    )


def missing(param: str) -> BadRequest:
    return BadRequest(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def invalid_value(param: str, value: Any, allowed: tuple[str, ...]) -> BadRequest:
    shown = f"'{value}'" if isinstance(value, str) else _got(value)
    listed = ", ".join(f"'{a}'" for a in allowed)
    return BadRequest(
        f"Invalid value for '{param}': {shown}. Supported values are: {listed}.", param=param, code="invalid_value"
    )


def empty(param: str, what: str) -> BadRequest:
    return BadRequest(f"Invalid '{param}': {what}.", param=param, code="empty_array")


# ---- scalar checks -----------------------------------------------------------------------------------


def string(v: Any, p: str) -> None:
    if v.__class__ is not str:
        raise invalid_type(p, "a string", v)


def number(v: Any, p: str) -> None:
    if v.__class__ not in _NUMBER:
        raise invalid_type(p, "a number", v)


def integer(v: Any, p: str) -> None:
    if v.__class__ is not int and not (v.__class__ is float and v.is_integer()):
        raise invalid_type(p, "an integer", v)


def boolean(v: Any, p: str) -> None:
    if v.__class__ is not bool:
        raise invalid_type(p, "a boolean", v)


def obj(v: Any, p: str) -> None:
    if v.__class__ is not dict:
        raise invalid_type(p, "an object", v)


def array(v: Any, p: str) -> None:
    if v.__class__ is not list:
        raise invalid_type(p, "an array", v)


def strings(v: Any, p: str) -> None:
    """An array of strings."""
    if v.__class__ is not list:
        raise invalid_type(p, "an array of strings", v)
    for i, s in enumerate(v):
        if s.__class__ is not str:
            raise invalid_type(f"{p}[{i}]", "a string", s)


def string_or_strings(v: Any, p: str) -> None:
    if v.__class__ is not str:
        strings(v, p)


def string_or_number(v: Any, p: str) -> None:
    if v.__class__ is not str and v.__class__ not in _NUMBER:
        raise invalid_type(p, "a string or a number", v)


def string_or_bool(v: Any, p: str) -> None:
    if v.__class__ is not str and v.__class__ is not bool:
        raise invalid_type(p, "a string or a boolean", v)


def string_or_object(v: Any, p: str) -> None:
    if v.__class__ is not str and v.__class__ is not dict:
        raise invalid_type(p, "a string or an object", v)


def typed_object(v: Any, p: str) -> None:
    """An object with a string `type` (content parts, blocks, items): unknown types pass through."""
    if v.__class__ is not dict:
        raise invalid_type(p, "an object", v)
    t = v.get("type")
    if t.__class__ is not str:
        raise missing(f"{p}.type") if t is None else invalid_type(f"{p}.type", "a string", t)


def typed_objects(v: Any, p: str) -> None:
    if v.__class__ is not list:
        raise invalid_type(p, "an array", v)
    for i, item in enumerate(v):
        typed_object(item, f"{p}[{i}]")


def one_of(*allowed: str) -> Check:
    def check(v: Any, p: str) -> None:
        if v not in allowed:
            raise invalid_value(p, v, allowed) if v.__class__ is str else invalid_type(p, "a string", v)

    return check


def fields(body: Mapping[str, Any], table: Table, prefix: str = "") -> None:
    """Check every key of `body` that `table` knows (null passes: the optional fields are nullable)."""
    for key, value in body.items():
        check = table.get(key)
        if check is not None and value is not None:
            check(value, prefix + key)


def shaped(table: Table, required: tuple[str, ...] = ()) -> Check:
    """An object whose known keys follow `table` and that has every key of `required`."""

    def check(v: Any, p: str) -> None:
        if v.__class__ is not dict:
            raise invalid_type(p, "an object", v)
        for key in required:
            if v.get(key) is None:
                raise missing(f"{p}.{key}")
        fields(v, table, p + ".")

    return check


def each(check: Check) -> Check:
    def many(v: Any, p: str) -> None:
        if v.__class__ is not list:
            raise invalid_type(p, "an array", v)
        for i, item in enumerate(v):
            check(item, f"{p}[{i}]")

    return many


def each_fast(ok: Callable[[Any], bool], check: Check) -> Check:
    """`each(check)` with a fast path: an item `ok` accepts (one call, no path string built) is valid;
    any other goes through `check`, which names the place of the mistake."""

    def many(v: Any, p: str) -> None:
        if v.__class__ is not list:
            raise invalid_type(p, "an array", v)
        for i, item in enumerate(v):
            if not ok(item):
                check(item, f"{p}[{i}]")

    return many


def required(body: Mapping[str, Any], key: str, check: Check) -> Any:
    value = body.get(key)
    if value is None:
        raise missing(key)
    check(value, key)
    return value


# ---- JSON-schema-bearing tool definitions, shared by the protocols ---------------------------------

function_def = shaped({"name": string, "description": string, "parameters": obj, "strict": boolean}, ("name",))
_NONE = type(None)


def function_ok(fn: Any) -> bool:
    """The fast path of `function_def`: a plain function definition."""
    return (
        fn.__class__ is dict
        and fn.get("name").__class__ is str
        and fn.get("description").__class__ in (str, _NONE)
        and fn.get("parameters").__class__ in (dict, _NONE)
        and fn.get("strict").__class__ in (bool, _NONE)
    )


def function_tool(v: Any, p: str) -> None:
    """An OpenAI-shaped tool (`{type: "function", function: {...}}`), which Ollama's /api/chat takes too."""
    typed_object(v, p)
    if v["type"] == "function":
        fn = v.get("function")
        if fn is None:
            raise missing(f"{p}.function")
        function_def(fn, f"{p}.function")


def function_tool_ok(v: Any) -> bool:
    """The fast path of `function_tool`."""
    return v.__class__ is dict and v.get("type") == "function" and function_ok(v.get("function"))
