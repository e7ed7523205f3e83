"""Property tests: malformed bodies thrown at every model endpoint of both protocols, through the real
gateway in front of an OpenAI and an Ollama upstream.

- A value of a wrong type at a checked place is always a 400 in the client's protocol naming that
  place, and the upstream receives nothing.
- Arbitrary JSON in arbitrary places is never a 5xx; whenever it is a 4xx, the body is the protocol's
  error shape and the upstream received nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmgate.errors import BadRequest
from lmgate.validate import anthropic as v_anthropic
from lmgate.validate import ollama as v_ollama
from lmgate.validate import openai as v_openai
from lmgate.validate import responses as v_responses
from tests import client_bodies as bodies
from tests.validation_kit import Gateway, is_protocol_error

USER = [{"role": "user", "content": "hi"}]
# path -> (the base body, without model)
BASES: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {"messages": USER},
    "/v1/completions": {"prompt": "hi"},
    "/v1/embeddings": {"input": "hi"},
    "/api/chat": {"messages": USER, "stream": False},
    "/api/generate": {"prompt": "hi", "stream": False},
    "/api/embed": {"input": "hi"},
    "/api/embeddings": {"prompt": "hi"},
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def _is_number(v: Any) -> bool:
    return v.__class__ in (int, float)


def _is_integer(v: Any) -> bool:
    return v.__class__ is int or (v.__class__ is float and v.is_integer())


Accepts = Callable[[Any], bool]
# (path, place in the body, what the validator accepts there; None is "absent" and accepted where optional)
CHECKED: list[tuple[str, tuple[Any, ...], Accepts]] = [
    ("/v1/chat/completions", ("messages",), lambda v: isinstance(v, list)),
    ("/v1/chat/completions", ("messages", 0), lambda v: isinstance(v, dict)),
    ("/v1/chat/completions", ("messages", 0, "role"), lambda v: v == "user"),
    ("/v1/chat/completions", ("messages", 0, "content"), lambda v: isinstance(v, str | list)),
    ("/v1/chat/completions", ("temperature",), lambda v: v is None or _is_number(v)),
    ("/v1/chat/completions", ("top_p",), lambda v: v is None or _is_number(v)),
    ("/v1/chat/completions", ("max_tokens",), lambda v: v is None or _is_integer(v)),
    ("/v1/chat/completions", ("stream",), lambda v: v is None or v.__class__ is bool),
    ("/v1/chat/completions", ("tools",), lambda v: v is None or isinstance(v, list)),
    ("/v1/chat/completions", ("tool_choice",), lambda v: v is None or isinstance(v, dict) or v in ("none", "auto", "required")),
    ("/v1/chat/completions", ("response_format",), lambda v: v is None or isinstance(v, dict)),
    ("/v1/chat/completions", ("stop",), lambda v: v is None or isinstance(v, str | list)),
    ("/v1/completions", ("prompt",), lambda v: isinstance(v, str | list)),
    ("/v1/completions", ("max_tokens",), lambda v: v is None or _is_integer(v)),
    ("/v1/embeddings", ("input",), lambda v: isinstance(v, list) or (isinstance(v, str) and v != "")),
    ("/v1/embeddings", ("dimensions",), lambda v: v is None or _is_integer(v)),
    ("/api/chat", ("messages",), lambda v: v is None or isinstance(v, list)),
    ("/api/chat", ("messages", 0), lambda v: isinstance(v, dict)),
    ("/api/chat", ("messages", 0, "role"), lambda v: isinstance(v, str) and v.lower() in ("system", "user", "assistant", "tool")),
    ("/api/chat", ("messages", 0, "content"), lambda v: v is None or isinstance(v, str)),
    ("/api/chat", ("options",), lambda v: v is None or isinstance(v, dict)),
    ("/api/chat", ("format",), lambda v: v is None or isinstance(v, str | dict)),
    ("/api/chat", ("keep_alive",), lambda v: v is None or isinstance(v, str) or _is_number(v)),
    ("/api/chat", ("stream",), lambda v: v is None or v.__class__ is bool),
    ("/api/generate", ("prompt",), lambda v: v is None or isinstance(v, str)),
    ("/api/generate", ("images",), lambda v: v is None or isinstance(v, list)),
    ("/api/embed", ("input",), lambda v: isinstance(v, list) or (isinstance(v, str) and v != "")),
    ("/api/embeddings", ("prompt",), lambda v: isinstance(v, str)),
]


def _put(body: dict[str, Any], place: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    node: Any = out
    for key in place[:-1]:
        node = node[key]
    node[place[-1]] = value
    return out


def _alias(path: str, upstream: str) -> str:
    return f"{upstream}-embed" if "embed" in path else upstream


def _param(place: tuple[Any, ...]) -> str:
    out = ""
    for part in place:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + part
    return out


@pytest.fixture(scope="module")
def gw() -> Iterator[Gateway]:
    g = Gateway()
    yield g
    g.stop()


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(case=st.sampled_from(CHECKED), value=json_values, upstream=st.sampled_from(["oa", "ol"]), data=st.data())
def test_a_wrong_type_at_a_checked_place_is_a_400_naming_it(
    gw: Gateway, case: tuple[str, tuple[Any, ...], Accepts], value: Any, upstream: str, data: st.DataObject
) -> None:
    path, place, accepts = case
    if accepts(value):
        value = data.draw(json_values.filter(lambda v: not accepts(v)), label="wrong value")
    body = {"model": _alias(path, upstream), **_put(BASES[path], place, value)}
    before = gw.upstream_calls
    r = gw.http.post(path, content=orjson.dumps(body))
    assert r.status_code == 400, (body, r.text)
    message = is_protocol_error(path, r)
    assert _param(place) in message, (body, message)
    assert gw.upstream_calls == before


# the keys each endpoint knows, plus one it does not ("x"): an unknown key passes through untouched, and
# an upstream that breaks on a known key's nonsense value is what validation prevents
_OPENAI = ["model", "stream", "stream_options", "max_tokens", "stop", "n", "seed", "x"]
_OLLAMA = ["model", "stream", "options", "format", "keep_alive", "x"]
KEYS: dict[str, list[str]] = {
    "/v1/chat/completions": [*_OPENAI, "messages", "temperature", "tools", "tool_choice", "response_format"],
    "/v1/completions": [*_OPENAI, "prompt", "echo", "suffix"],
    "/v1/embeddings": ["model", "input", "dimensions", "encoding_format", "x"],
    "/api/chat": [*_OLLAMA, "messages", "tools", "think"],
    "/api/generate": [*_OLLAMA, "prompt", "images", "system", "raw"],
    "/api/embed": ["model", "input", "options", "truncate", "x"],
    "/api/embeddings": ["model", "prompt", "options", "x"],
}


@PROPERTY
@given(
    path=st.sampled_from(sorted(BASES)),
    upstream=st.sampled_from(["oa", "ol"]),
    message=st.one_of(st.none(), json_values),
    data=st.data(),
)
def test_arbitrary_json_is_never_a_5xx_and_a_4xx_sends_nothing(
    gw: Gateway, path: str, upstream: str, message: Any, data: st.DataObject
) -> None:
    changes = data.draw(st.dictionaries(st.sampled_from(KEYS[path]), json_values, max_size=3), label="changes")
    body = {"model": _alias(path, upstream), **copy.deepcopy(BASES[path]), **changes}
    if message is not None and isinstance(body.get("messages"), list) and body["messages"]:
        body["messages"][0] = message
    before = gw.upstream_calls
    r = gw.http.post(path, content=orjson.dumps(body))
    assert r.status_code < 500, (body, r.text)
    if r.status_code >= 400:
        is_protocol_error(path, r)
        assert gw.upstream_calls == before, (body, r.text)


def _places(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON body (not descending into tool schemas: they are the upstream's business)."""
    out = [here] if here else []
    if here[-1:] in (("input_schema",), ("parameters",)):
        return out
    if isinstance(node, dict):
        for k, v in node.items():
            out += _places(v, (*here, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _places(v, (*here, i))
    return out


AGENT_BODIES = [
    (bodies.claude_code(), v_anthropic.messages),
    (bodies.codex(), v_responses.create),
    (bodies.openai_chat_like_claude_code(), v_openai.chat),
    (bodies.OPEN_WEBUI_OLLAMA, v_ollama.chat),
]
AGENT_PLACES = [(i, place) for i, (body, _) in enumerate(AGENT_BODIES) for place in _places(body)]


@settings(max_examples=300, deadline=None)
@given(case=st.sampled_from(AGENT_PLACES), value=json_values)
def test_any_value_anywhere_in_agent_bodies_is_valid_or_a_bad_request(case: tuple[int, tuple[Any, ...]], value: Any) -> None:
    """The validators for the upcoming Anthropic and Responses protocols (and the wired ones) never
    crash: whatever sits anywhere in a Claude Code or Codex body, the answer is pass or BadRequest."""
    index, place = case
    body, validate = AGENT_BODIES[index]
    try:
        validate(_put(body, place, value))
    except BadRequest as exc:
        assert exc.param and exc.param in exc.message
