"""Edge validation: what real clients send is accepted; what is structurally wrong is a 400 in the
client's protocol naming the parameter, and nothing reaches an upstream, so no client can hurt a tier."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import ollama
import openai
import orjson
import pytest

from lmgate.errors import BadRequest
from lmgate.validate import anthropic as v_anthropic
from lmgate.validate import ollama as v_ollama
from lmgate.validate import openai as v_openai
from lmgate.validate import responses as v_responses
from tests import client_bodies as bodies
from tests.routing_kit import MASTER, ROUTE, Tiers, chain_config, chat, health, hops, tiers_fixture
from tests.validation_kit import Gateway, is_protocol_error

__all__ = ["tiers_fixture"]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "weather",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]


# ---- the validators alone, on the bodies of real clients ---------------------------------------------------


def test_client_bodies_pass() -> None:
    v_anthropic.messages(bodies.claude_code())
    v_responses.create(bodies.codex())
    v_openai.chat(bodies.openai_chat_like_claude_code())
    for body in (bodies.OPEN_WEBUI_OPENAI, bodies.N8N_TOOLS_AGENT, bodies.N8N_STRUCTURED):
        v_openai.chat(body)
    v_ollama.chat(bodies.OPEN_WEBUI_OLLAMA)


def _set(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


_DELETE = object()

# (validator, valid body, path to change, new value, the parameter the 400 names)
REJECTED: list[tuple[Callable[[dict[str, Any]], None], Callable[[], dict[str, Any]], tuple[Any, ...], Any, str]] = [
    (v_anthropic.messages, bodies.claude_code, ("messages", 2, "content", 2, "name"), 7, "messages[2].content[2].name"),
    (v_anthropic.messages, bodies.claude_code, ("tools", 3, "input_schema"), "x", "tools[3].input_schema"),
    (v_anthropic.messages, bodies.claude_code, ("tools", 5, "name"), _DELETE, "tools[5].name"),
    (v_anthropic.messages, bodies.claude_code, ("max_tokens",), "32000", "max_tokens"),
    (v_anthropic.messages, bodies.claude_code, ("messages", 0, "role"), "robot", "messages[0].role"),
    (v_anthropic.messages, bodies.claude_code, ("system", 1), "text", "system[1]"),
    (v_responses.create, bodies.codex, ("input", 2, "arguments"), {"cmd": "x"}, "input[2].arguments"),
    (v_responses.create, bodies.codex, ("tools", 0, "name"), _DELETE, "tools[0].name"),
    (v_responses.create, bodies.codex, ("include",), "reasoning", "include"),
    (v_responses.create, bodies.codex, ("input", 0, "content", 0), "text", "input[0].content[0]"),
    (v_openai.chat, bodies.openai_chat_like_claude_code, ("tools", 11, "function", "parameters"), [], "tools[11].function.parameters"),
    (v_openai.chat, bodies.openai_chat_like_claude_code, ("messages", 3, "tool_call_id"), _DELETE, "messages[3].tool_call_id"),
]


@pytest.mark.parametrize("case", range(len(REJECTED)))
def test_agent_bodies_with_a_mistake_name_the_parameter(case: int) -> None:
    validate, make, path, value, param = REJECTED[case]
    with pytest.raises(BadRequest) as err:
        validate(_set(make(), path, value))
    assert err.value.param == param and param in err.value.message


# ---- through the gateway --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gw() -> Iterator[Gateway]:
    g = Gateway()
    yield g
    g.stop()


@pytest.mark.parametrize("alias", ["oa", "ol"])
def test_the_openai_sdk_is_never_refused(gw: Gateway, alias: str) -> None:
    client = openai.OpenAI(base_url=gw.server.url + "/v1", api_key="x", max_retries=0)
    client.chat.completions.create(
        model=alias,
        messages=[
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "what is this"},
                                         {"type": "image_url", "image_url": {"url": bodies.IMAGE, "detail": "low"}}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"B\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "4 degrees"},
        ],
        tools=TOOLS, tool_choice="auto", temperature=0.2, max_completion_tokens=50, seed=1, stop=["\n\n"],
        response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}},
        extra_body={"top_k": 20, "chat_template_kwargs": {"enable_thinking": False}},
    )
    stream = client.chat.completions.create(
        model=alias, messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}
    )
    assert [c for c in stream]
    client.completions.create(model=alias, prompt=["a", "b"] if alias == "oa" else "a", max_tokens=5, echo=False)
    embed = f"{alias}-embed"
    assert len(client.embeddings.create(model=embed, input=["a", "b"]).data) == 2
    client.embeddings.create(model=embed, input="a", dimensions=3, encoding_format="float")


@pytest.mark.parametrize("alias", ["oa", "ol"])
def test_the_ollama_sdk_is_never_refused(gw: Gateway, alias: str) -> None:
    client = ollama.Client(host=gw.server.url)
    client.chat(
        model=alias,
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "what is this", "images": [bodies.IMAGE.split(",", 1)[1]]},
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "B"}}}]},
            {"role": "tool", "content": "4 degrees", "tool_name": "get_weather"},
        ],
        tools=TOOLS, format={"type": "object"}, options={"temperature": 0.2, "num_ctx": 4096, "stop": ["x"]},
        keep_alive="10m", stream=False,
    )
    assert list(client.chat(model=alias, messages=[{"role": "user", "content": "hi"}], stream=True))
    client.generate(model=alias, prompt="hi", system="s", options={"num_predict": 5}, stream=False)
    embed = f"{alias}-embed"
    assert len(client.embed(model=embed, input=["a", "b"]).embeddings) == 2
    client.embeddings(model=embed, prompt="a")


CAPTURED = [
    ("/v1/chat/completions", bodies.OPEN_WEBUI_OPENAI),
    ("/v1/chat/completions", bodies.N8N_TOOLS_AGENT),
    ("/v1/chat/completions", bodies.N8N_STRUCTURED),
    ("/v1/chat/completions", bodies.openai_chat_like_claude_code()),
    ("/api/chat", bodies.OPEN_WEBUI_OLLAMA),
]


@pytest.mark.parametrize("case", range(len(CAPTURED)))
@pytest.mark.parametrize("alias", ["oa", "ol"])
def test_captured_client_bodies_are_answered(gw: Gateway, case: int, alias: str) -> None:
    path, body = CAPTURED[case]
    r = gw.http.post(path, content=orjson.dumps(bodies.with_model(body, alias)))
    assert r.status_code == 200, r.text


# (path, body, the parameter the 400 names)
MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/chat/completions", {"messages": [1, 2]}, "messages[0]"),
    ("/v1/chat/completions", {"messages": [{"content": "hi"}]}, "messages[0].role"),
    ("/v1/chat/completions", {"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
    ("/v1/chat/completions", {"messages": [{"role": "user"}]}, "messages[0].content"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": [{"text": "x"}]}]}, "messages[0].content[0].type"),
    ("/v1/chat/completions", {"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 1.5}, "max_tokens"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}, "tools[0].function"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "tools": {"a": 1}}, "tools"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "tool_choice": "always"}, "tool_choice"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "response_format": "json"}, "response_format"),
    ("/v1/chat/completions", {"messages": []}, "messages"),
    ("/v1/completions", {"prompt": {"a": 1}}, "prompt"),
    ("/v1/completions", {}, "prompt"),
    ("/v1/embeddings", {"input": [1.5]}, "input[0]"),
    ("/v1/embeddings", {"input": [["a"]]}, "input[0]"),
    ("/v1/embeddings", {"input": ""}, "input"),
    ("/api/chat", {"messages": [{"role": "user", "content": ["x"]}]}, "messages[0].content"),
    ("/api/chat", {"messages": "hi"}, "messages"),
    ("/api/chat", {"messages": [{"role": "bot", "content": "x"}]}, "messages[0].role"),
    ("/api/chat", {"messages": [{"role": "user", "content": "x"}], "options": {"temperature": "warm"}}, "options.temperature"),
    ("/api/chat", {"messages": [{"role": "user", "content": "x", "images": [1]}]}, "messages[0].images[0]"),
    ("/api/generate", {"prompt": ["a"]}, "prompt"),
    ("/api/generate", {"prompt": "a", "options": [1]}, "options"),
    ("/api/embed", {"input": [1, 2]}, "input[0]"),
    ("/api/embed", {}, "input"),
    ("/api/embeddings", {"prompt": 3}, "prompt"),
]


def _alias_for(path: str, base: str) -> str:
    return f"{base}-embed" if "embed" in path else base


@pytest.mark.parametrize("case", range(len(MALFORMED)))
@pytest.mark.parametrize("alias", ["oa", "ol"])
def test_malformed_requests_are_400_naming_the_parameter(gw: Gateway, case: int, alias: str) -> None:
    path, body, param = MALFORMED[case]
    before = gw.upstream_calls
    r = gw.http.post(path, content=orjson.dumps({"model": _alias_for(path, alias), **body}))
    assert r.status_code == 400, r.text
    assert param in is_protocol_error(path, r)
    if not path.startswith("/api/"):
        assert r.json()["error"]["param"] == param
    assert gw.upstream_calls == before, "nothing structurally invalid goes upstream"


def test_hundreds_of_malformed_requests_leave_every_tier_healthy(tiers: Tiers, make_gateway: Any) -> None:
    gw = make_gateway(chain_config(tiers, router="allowed_fails: 0"))
    auth = {"Authorization": f"Bearer {MASTER}"}
    with httpx.Client(base_url=gw.url, headers=auth, timeout=10) as http:
        sent = 0
        for round_ in range(8):
            for path, body, _param in MALFORMED:
                model = "cloud-kimi" if round_ % 2 else "vllm-qwen"
                r = http.post(path, content=orjson.dumps({"model": model, **body}))
                assert 400 <= r.status_code < 500, r.text
                sent += 1
    assert sent >= 200
    assert tiers.cloud.calls == tiers.vllm.calls == tiers.cpu.calls == 0
    assert all(row["state"] == "healthy" and row["failures"] == 0 for row in health(gw).values())
    r = chat(gw)
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "ok")]
