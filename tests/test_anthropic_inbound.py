"""The official `anthropic` SDK (sync, async, stream helpers, tool round trips) against a real lmgate on
loopback, with aliases backed by an OpenAI-compatible upstream (one that plays a tool-using model and
makes Mistral-style 9-character call ids), an Ollama upstream, an Anthropic upstream and the mock."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import httpx
import pytest

from lmgate.translate.anthropic import SIGNATURE
from tests.servers import ServerThread
from tests.servers_anthropic import AnthropicBehaviour, FakeAnthropicUpstream, ToolModelOpenAI
from tests.servers_ollama import FakeOllamaUpstream, OllamaBehaviour

ALIASES = ("via-openai", "via-ollama", "via-anthropic", "via-mock")
BASH = {"name": "Bash", "description": "run a command", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}
HI = [{"role": "user", "content": "hi"}]


def config(tool_model: ToolModelOpenAI, ollama_up: FakeOllamaUpstream, claude_up: FakeAnthropicUpstream, extra: str = "") -> str:
    return f"""
model_list:
  - model_name: via-openai
    litellm_params: {{model: openai/tool-model, api_base: {tool_model.base}, api_key: sk-up}}
  - model_name: via-ollama
    litellm_params: {{model: ollama_chat/qwen3:8b, api_base: {ollama_up.base}}}
  - model_name: via-anthropic
    litellm_params: {{model: anthropic/claude-test-1, api_base: {claude_up.base}, api_key: sk-ant-upstream}}
  - model_name: via-mock
    litellm_params: {{model: mock/echo, mock_response: hello from mock}}
  - model_name: claude-first
    litellm_params: {{model: anthropic/claude-test-1, api_base: {claude_up.base}, api_key: sk-ant-upstream}}
  - model_name: via-vllm
    litellm_params: {{model: hosted_vllm/tool-model, api_base: {tool_model.base}}}
router_settings: {{num_retries: 0}}
litellm_settings:
  fallbacks: [{{claude-first: [via-openai]}}]
{extra}
"""


@pytest.fixture
def gw(tool_model, ollama_up, claude_up, make_gateway) -> ServerThread:
    return make_gateway(config(tool_model, ollama_up, claude_up))


@pytest.fixture
def client(gw: ServerThread) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key="sk-client", max_retries=0)


def expected(alias: str) -> str:
    return {"via-openai": "hello from the tool model", "via-ollama": "hello from ollama", "via-anthropic": "hello from claude"}.get(alias, "hello from mock")


@pytest.mark.parametrize("alias", ALIASES)
def test_create_and_stream(client, alias):
    msg = client.messages.create(model=alias, max_tokens=50, messages=HI)
    assert msg.content[0].type == "text" and msg.content[0].text == expected(alias)
    assert msg.stop_reason == "end_turn" and msg.id.startswith("msg_") and msg.usage.output_tokens > 0
    assert msg.model == alias  # the name the client sent (spliced into Anthropic's own bytes too)
    with client.messages.stream(model=alias, max_tokens=50, messages=HI) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == expected(alias) and len(pieces) >= 2  # streamed, not in one piece
    assert final.content[0].text == expected(alias) and final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


@pytest.mark.parametrize("alias", ALIASES)
def test_async_client(gw, alias):
    async def run() -> tuple[str, str]:
        async with anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0) as ac:
            msg = await ac.messages.create(model=alias, max_tokens=20, messages=HI)
            async with ac.messages.stream(model=alias, max_tokens=20, messages=HI) as stream:
                text = "".join([t async for t in stream.text_stream])
            return msg.content[0].text, text  # type: ignore[union-attr]

    assert asyncio.run(run()) == (expected(alias), expected(alias))


def _round_trip(client: anthropic.Anthropic, alias: str, stream: bool) -> tuple[Any, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "list the files"}]
    if stream:
        with client.messages.stream(model=alias, max_tokens=100, messages=messages, tools=[BASH]) as s:  # type: ignore[arg-type]
            first = s.get_final_message()
    else:
        first = client.messages.create(model=alias, max_tokens=100, messages=messages, tools=[BASH])  # type: ignore[arg-type]
    call = next(b for b in first.content if b.type == "tool_use")
    messages += [
        {"role": "assistant", "content": [b.to_dict() for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "README.md"}, {"type": "text", "text": "go on"}]},
    ]
    second = client.messages.create(model=alias, max_tokens=100, messages=messages, tools=[BASH])  # type: ignore[arg-type]
    return first, second


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("alias", ["via-openai", "via-anthropic"])
def test_tool_round_trip(client, tool_model, claude_up, alias, stream):
    first, second = _round_trip(client, alias, stream)
    call = next(b for b in first.content if b.type == "tool_use")
    assert first.stop_reason == "tool_use" and call.name == "Bash" and call.input == {"command": "echo lmgate"}
    assert call.id.startswith("toolu_")
    assert second.content[0].text == "the tool said: README.md" and second.stop_reason == "end_turn"
    if alias == "via-openai":
        # the upstream's Mistral-style id came back exactly as it made it
        assert call.id == "toolu_aB3dE5fG7"
        sent = tool_model.seen[-1].body["messages"]
        assert sent[1]["tool_calls"][0]["id"] == "aB3dE5fG7"
        assert sent[2] == {"role": "tool", "tool_call_id": "aB3dE5fG7", "content": "README.md"}
        assert sent[3] == {"role": "user", "content": "go on"}  # results before the turn's text
    else:
        assert claude_up.seen[-1].body["messages"][2]["content"][0]["tool_use_id"] == "toolu_01FakeCall9"


def test_tool_round_trip_through_ollama(client, ollama_up):
    ollama_up.script = [OllamaBehaviour(kind="tools", tool_calls=[{"function": {"name": "Bash", "arguments": {"command": "ls"}}}])]
    first, second = _round_trip(client, "via-ollama", True)
    call = next(b for b in first.content if b.type == "tool_use")
    assert (call.name, call.input, first.stop_reason) == ("Bash", {"command": "ls"}, "tool_use")
    result = ollama_up.seen[-1].body["messages"]
    assert result[1]["tool_calls"][0]["function"] == {"index": 0, "name": "Bash", "arguments": {"command": "ls"}}
    assert result[2]["role"] == "tool" and result[2]["content"] == "README.md" and result[2]["tool_name"] == "Bash"
    assert second.content[0].text == "hello from ollama"


def test_thinking_comes_back_as_thinking_blocks(client, ollama_up):
    ollama_up.default = OllamaBehaviour(kind="think")
    thinking = {"type": "enabled", "budget_tokens": 10000}
    msg = client.messages.create(model="via-ollama", max_tokens=50, messages=HI, thinking=thinking)  # type: ignore[arg-type]
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert msg.content[0].thinking == "let me think" and msg.content[0].signature == SIGNATURE  # type: ignore[union-attr]
    assert ollama_up.seen[-1].body["think"] == "medium"  # budget 10000 -> medium
    with client.messages.stream(model="via-ollama", max_tokens=50, messages=HI, thinking=thinking) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"] and final.content[0].signature == SIGNATURE  # type: ignore[union-attr]
    plain = client.messages.create(model="via-ollama", max_tokens=50, messages=HI)
    assert [b.type for b in plain.content] == ["text"]  # thinking not asked for: not shown


def test_what_claude_code_sends_is_accepted(gw, tool_model, claude_up):
    body = {
        "model": "via-openai", "max_tokens": 32000, "stream": True,
        "system": [{"type": "text", "text": "You are Claude Code."}, {"type": "text", "text": "Rules.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]},
                     {"role": "system", "content": "reminder"}],
        "tools": [{**BASH, "cache_control": {"type": "ephemeral"}}, {"name": "Later", "input_schema": {"type": "object"}, "defer_loading": True}],
        "metadata": {"user_id": '{"device_id":"d1"}'},
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015"}]},
        "output_config": {"effort": "high"},
    }  # fmt: skip
    headers = {"anthropic-version": "2023-06-01", "anthropic-beta": "claude-code-20250219,context-management-2025-06-27", "x-api-key": "k"}
    for alias in ("via-openai", "via-anthropic"):
        r = httpx.post(gw.url + "/v1/messages?beta=true", json={**body, "model": alias}, headers=headers, timeout=10)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        assert b"event: message_stop" in r.content
    sent = tool_model.seen[-1].body
    # adaptive thinking with effort high (every Claude Code request) sends no effort: non-reasoning
    # models would refuse it
    assert "reasoning_effort" not in sent and sent["user"] == '{"device_id":"d1"}' and sent["max_tokens"] == 32000
    assert sent["messages"][0] == {"role": "system", "content": "You are Claude Code.\n\nRules."}
    assert sent["messages"][2] == {"role": "system", "content": "reminder"}
    assert "cache_control" not in str(sent) and "context_management" not in sent
    native = claude_up.seen[-1]
    assert native.headers["anthropic-beta"] == headers["anthropic-beta"] and native.headers["x-api-key"] == "sk-ant-upstream"
    assert native.body["context_management"] == body["context_management"] and native.body["model"] == "claude-test-1"
    assert native.path == "/v1/messages"


def test_thinking_lmgate_signed_is_dropped_before_anthropic(client, claude_up):
    history = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "from qwen", "signature": SIGNATURE}, {"type": "text", "text": "a"}]},
        {"role": "user", "content": "more"},
    ]
    client.messages.create(model="via-anthropic", max_tokens=20, messages=history)  # type: ignore[arg-type]
    assert claude_up.seen[-1].body["messages"][1]["content"] == [{"type": "text", "text": "a"}]


def test_errors_in_anthropic_shape(client, gw, tool_model):
    with pytest.raises(anthropic.NotFoundError) as nf:
        client.messages.create(model="nope", max_tokens=5, messages=HI)
    assert nf.value.body["error"]["type"] == "not_found_error" and "GET /v1/models" in nf.value.message  # type: ignore[index]
    assert nf.value.response.headers["request-id"] == nf.value.body["request_id"] == nf.value.response.headers["x-request-id"]  # type: ignore[index]
    r = httpx.post(gw.url + "/v1/messages", json={"model": "via-openai", "messages": HI}, headers={"anthropic-version": "2023-06-01"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error" and "max_tokens" in r.json()["error"]["message"]
    doc = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}
    with pytest.raises(anthropic.BadRequestError, match="document blocks"):
        client.messages.create(model="via-openai", max_tokens=5, messages=[{"role": "user", "content": [doc]}])  # type: ignore[list-item]
    assert tool_model.seen == []  # refused before anything went upstream
    r = httpx.post(gw.url + "/v1/messages", content=b"{nope", headers={"anthropic-version": "2023-06-01"})
    assert r.status_code == 400 and r.json()["type"] == "error"


def test_document_blocks_pass_to_an_anthropic_upstream(client, claude_up):
    doc = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}
    client.messages.create(model="via-anthropic", max_tokens=5, messages=[{"role": "user", "content": [doc]}])  # type: ignore[list-item]
    assert claude_up.seen[-1].body["messages"][0]["content"][0]["type"] == "document"


def test_overloaded_anthropic_falls_back(client, claude_up, tool_model):
    claude_up.script = [AnthropicBehaviour(kind="status", status=529)]
    msg = client.messages.with_raw_response.create(model="claude-first", max_tokens=20, messages=HI)
    assert msg.parse().content[0].text == "hello from the tool model"  # type: ignore[union-attr]
    assert msg.headers["x-lmgate-route"].startswith("claude-first:529")
    # an `overloaded_error` event before any content still falls over, within the same stream
    claude_up.script = [AnthropicBehaviour(kind="error_event", after_events=1)]
    with client.messages.stream(model="claude-first", max_tokens=20, messages=HI) as stream:
        assert stream.get_final_message().content[0].text == "hello from the tool model"  # type: ignore[union-attr]
    assert claude_up.calls == 2 and len(tool_model.seen) == 2
    claude_up.script = [AnthropicBehaviour(kind="cut", after_events=1)]  # connection reset after message_start
    with client.messages.stream(model="claude-first", max_tokens=20, messages=HI) as stream:
        assert stream.get_final_message().content[0].text == "hello from the tool model"  # type: ignore[union-attr]
    assert len(tool_model.seen) == 3


def test_failure_after_content_ends_with_an_error_event(client, claude_up):
    claude_up.script = [AnthropicBehaviour(kind="error_event", after_events=3)]
    with pytest.raises(anthropic.APIStatusError) as info, client.messages.stream(model="via-anthropic", max_tokens=20, messages=HI) as stream:
        stream.get_final_message()
    assert "Overloaded" in str(info.value)


def test_models_count_tokens_and_auth(tool_model, ollama_up, claude_up, make_gateway):
    gw = make_gateway(config(tool_model, ollama_up, claude_up, "general_settings:\n  master_key: sk-master-1\n"))
    by_key = anthropic.Anthropic(base_url=gw.url, api_key="sk-master-1", max_retries=0)
    by_token = anthropic.Anthropic(base_url=gw.url, auth_token="sk-master-1", max_retries=0)  # ANTHROPIC_AUTH_TOKEN
    models = by_key.models.list()
    assert [m.id for m in models.data][:4] == list(ALIASES) and models.data[0].type == "model"
    assert by_token.models.retrieve("via-ollama").display_name == "via-ollama"
    openai_shape = httpx.get(gw.url + "/v1/models", headers={"Authorization": "Bearer sk-master-1"}).json()
    assert openai_shape["object"] == "list" and openai_shape["data"][0]["object"] == "model"  # no anthropic-version
    count = by_token.messages.count_tokens(model="via-openai", messages=[{"role": "user", "content": "x" * 400}], system="y" * 40)
    assert count.input_tokens == 100 + 10 + 4  # the estimate: 4 characters a token, 4 a message
    native = by_key.messages.count_tokens(model="via-anthropic", messages=HI, tools=[BASH])  # type: ignore[list-item]
    assert native.input_tokens == 42  # Anthropic's own count
    assert claude_up.seen[-1].path == "/v1/messages/count_tokens" and claude_up.seen[-1].body["model"] == "claude-test-1"
    assert "max_tokens" not in claude_up.seen[-1].body
    vllm = by_key.messages.count_tokens(model="via-vllm", messages=HI, system="be brief")
    assert vllm.input_tokens == 77  # vLLM's own /tokenize
    asked = tool_model.seen[-1]
    assert asked.path == "/tokenize" and asked.body["messages"] == [{"role": "system", "content": "be brief"}, *HI]
    with pytest.raises(anthropic.AuthenticationError) as bad:
        anthropic.Anthropic(base_url=gw.url, api_key="wrong", max_retries=0).messages.create(model="via-mock", max_tokens=5, messages=HI)
    assert bad.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]


def test_claude_model_names_map_onto_aliases_by_wildcard(tool_model, ollama_up, claude_up, make_gateway):
    """Claude Code asks for Claude model names; lmgate's wildcard model_group_alias sends them to aliases
    (the more specific pattern first), for messages and count_tokens alike, and lists none of them."""
    extra = 'router_settings:\n  model_group_alias: {"claude-*haiku*": via-ollama, "claude-*": via-openai}\n'
    gw = make_gateway(config(tool_model, ollama_up, claude_up).replace("router_settings: {num_retries: 0}\n", "") + extra)
    client = anthropic.Anthropic(base_url=gw.url, api_key="k", max_retries=0)
    sonnet = client.messages.create(model="claude-sonnet-4-5-20250929", max_tokens=20, messages=HI)
    assert sonnet.content[0].text == expected("via-openai") and sonnet.model == "claude-sonnet-4-5-20250929"
    haiku = client.messages.create(model="claude-3-5-haiku-latest", max_tokens=20, messages=HI)
    assert haiku.content[0].text == expected("via-ollama")
    assert client.messages.count_tokens(model="claude-opus-4-1", messages=HI).input_tokens > 0
    listed = [m.id for m in client.models.list()]
    assert "via-openai" in listed and not [m for m in listed if m.startswith("claude-") and "*" in m]
