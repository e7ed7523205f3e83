"""The official `openai` and `ollama` clients against a real lmgate whose alias is served by an
Anthropic Messages upstream (a loopback fake): translation both ways, stream and not, tools, system,
images, usage with cache tokens, and fallback on 429/529."""

from __future__ import annotations

import json

import ollama
import openai
import orjson
import pytest
from typer.testing import CliRunner

from lmgate.cli import app
from tests.servers import ServerThread
from tests.servers_anthropic import AnthropicBehaviour
from tests.servers_ollama import PNG_B64

TOOLS = [{"type": "function", "function": {"name": "Bash", "description": "run", "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}}]


@pytest.fixture
def gw(claude_up, tool_model, make_gateway) -> ServerThread:
    return make_gateway(
        f"""
model_list:
  - model_name: claude
    litellm_params: {{model: anthropic/claude-test-1, api_base: {claude_up.base}/v1, api_key: sk-ant-upstream, max_tokens: 1000}}
  - model_name: backup
    litellm_params: {{model: openai/tool-model, api_base: {tool_model.base}}}
router_settings: {{num_retries: 0}}
litellm_settings:
  fallbacks: [{{claude: [backup]}}]
"""
    )


@pytest.fixture
def oai(gw: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="k", max_retries=0)


def test_openai_client_non_stream_and_stream(oai, claude_up):
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "what is this"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}]}]  # fmt: skip
    out = oai.chat.completions.create(model="claude", messages=messages, temperature=1.5, stop=["END"])  # type: ignore[arg-type]
    assert out.choices[0].message.content == "hello from claude" and out.choices[0].finish_reason == "stop"
    assert out.usage is not None and (out.usage.prompt_tokens, out.usage.completion_tokens) == (21, 5)  # 11 + 7 read + 3 written
    sent = claude_up.seen[-1]
    assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == "sk-ant-upstream" and sent.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in sent.headers
    body = sent.body
    assert body["system"] == [{"type": "text", "text": "be brief"}] and body["max_tokens"] == 1000  # the deployment's default
    assert body["messages"][0]["content"][1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}
    assert (body["temperature"], body["stop_sequences"]) == (1.0, ["END"])
    stream = oai.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello from claude"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 21
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 7  # type: ignore[union-attr]


@pytest.mark.parametrize("stream", [False, True])
def test_openai_client_tool_round_trip(oai, claude_up, stream):
    messages: list = [{"role": "user", "content": "list files"}]
    if stream:
        calls: dict[int, dict[str, str]] = {}
        for c in oai.chat.completions.create(model="claude", messages=messages, tools=TOOLS, stream=True):  # type: ignore[arg-type]
            for d in (c.choices[0].delta.tool_calls or []) if c.choices else []:
                slot = calls.setdefault(d.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] = d.id or slot["id"]
                slot["name"] += (d.function.name or "") if d.function else ""
                slot["arguments"] += (d.function.arguments or "") if d.function else ""
        call = calls[0]
    else:
        first = oai.chat.completions.create(model="claude", messages=messages, tools=TOOLS, parallel_tool_calls=False)  # type: ignore[arg-type]
        assert first.choices[0].finish_reason == "tool_calls" and first.choices[0].message.content == "calling a tool"
        tc = first.choices[0].message.tool_calls[0]  # type: ignore[index]
        call = {"id": tc.id, "name": tc.function.name, "arguments": tc.function.arguments}  # type: ignore[union-attr]
        assert claude_up.seen[-1].body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert call["id"] == "toolu_01FakeCall9" and call["name"] == "Bash" and json.loads(call["arguments"]) == {"command": "echo lmgate"}
    assert claude_up.seen[-1].body["tools"][0]["input_schema"]["required"] == ["command"]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [{"id": call["id"], "type": "function", "function": {"name": "Bash", "arguments": call["arguments"]}}]},
        {"role": "tool", "tool_call_id": call["id"], "content": "README.md"},
    ]
    second = oai.chat.completions.create(model="claude", messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    assert second.choices[0].message.content == "the tool said: README.md"
    turns = claude_up.seen[-1].body["messages"]
    assert turns[1]["content"][0] == {"type": "tool_use", "id": "toolu_01FakeCall9", "name": "Bash", "input": {"command": "echo lmgate"}}
    assert turns[2] == {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01FakeCall9", "content": "README.md"}]}


def test_ollama_client_against_anthropic(gw, claude_up):
    client = ollama.Client(host=gw.url)
    reply = client.chat(model="claude", messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}], stream=False)
    assert reply.message.content == "hello from claude" and reply.done and reply.prompt_eval_count == 21
    assert claude_up.seen[-1].body["system"] == [{"type": "text", "text": "sys"}]
    parts = [p.message.content for p in client.chat(model="claude", messages=[{"role": "user", "content": "hi"}], stream=True)]
    assert "".join(parts) == "hello from claude"
    tools = client.chat(model="claude", messages=[{"role": "user", "content": "ls"}], tools=TOOLS, stream=False)
    assert tools.message.tool_calls and tools.message.tool_calls[0].function.name == "Bash"
    assert tools.message.tool_calls[0].function.arguments == {"command": "echo lmgate"}


@pytest.mark.parametrize("status", [429, 529])
def test_rate_limited_or_overloaded_falls_back(oai, claude_up, tool_model, status):
    claude_up.script = [AnthropicBehaviour(kind="status", status=status, headers={"retry-after": "30"})]
    raw = oai.chat.completions.with_raw_response.create(model="claude", messages=[{"role": "user", "content": "hi"}])
    assert raw.parse().choices[0].message.content == "hello from the tool model"
    assert raw.headers["x-lmgate-route"].startswith(f"claude:{status}") and len(tool_model.seen) == 1


def test_upstream_refusal_is_the_clients_400(oai, claude_up, tool_model):
    claude_up.script = [AnthropicBehaviour(kind="status", status=400)]
    with pytest.raises(openai.BadRequestError, match="upstream says 400"):
        oai.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
    assert tool_model.seen == []  # a client's 400 does not fall back
    with pytest.raises(openai.BadRequestError, match="chat"):
        oai.embeddings.create(model="claude", input="x")
    with pytest.raises(openai.BadRequestError, match="'n': 2"):
        oai.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}], n=2)
    assert claude_up.calls == 1  # neither went upstream


def test_doctor_checks_an_anthropic_deployment(tmp_path, claude_up):
    claude_up.api_key = "sk-ant-right"
    entries = [("ok", "claude-test-1", "sk-ant-right"), ("bad-key", "claude-test-1", "sk-ant-wrong"), ("gone", "claude-test-0", "sk-ant-right")]
    cfg = tmp_path / "config.yaml"
    cfg.write_text("model_list:\n" + "".join(
        f"  - model_name: {name}\n    litellm_params: {{model: anthropic/{model}, api_base: {claude_up.base}, api_key: {key}}}\n"
        for name, model, key in entries
    ))  # fmt: skip
    result = CliRunner().invoke(app, ["doctor", "--config", str(cfg), "--json"])
    deps = {d["deployment"]: d for d in orjson.loads(result.stdout)["deployments"]}
    assert deps["ok"]["healthy"] and result.exit_code == 1
    assert any(f["check"] == "model" and f["level"] == "ok" for f in deps["ok"]["findings"])
    assert any(f["check"] == "auth" and f["level"] == "fail" and "invalid x-api-key" in f["message"] for f in deps["bad-key"]["findings"])
    assert any(f["check"] == "model" and f["level"] == "fail" and "claude-test-1" in f["message"] for f in deps["gone"]["findings"])
