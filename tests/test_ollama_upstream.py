"""The official OpenAI SDK through a real lmgate to a loopback upstream speaking Ollama's native API."""

from __future__ import annotations

import json

import ollama
import openai
import pytest

from lmgate.config import compile_config
from lmgate.providers.ollama import Ollama
from tests.servers import ServerThread
from tests.servers_ollama import PNG_B64, FakeOllamaUpstream, OllamaBehaviour

KEY = "ollama-cloud-key-0123456789"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]
CALL = {"function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}}}


def config(up: FakeOllamaUpstream, remote_images: bool = False) -> str:
    return f"""
model_list:
  - model_name: local-qwen
    litellm_params:
      model: ollama_chat/qwen3:8b
      api_base: {up.base}/api
      keep_alive: 10m
      num_ctx: 8192
  - model_name: cloud-kimi
    litellm_params:
      model: ollama_chat/kimi-k2:1t
      api_base: {up.base}
      api_key: {KEY}
  - model_name: gen
    litellm_params:
      model: ollama/llama3.2
      api_base: {up.base}
  - model_name: embedder
    litellm_params:
      model: ollama/nomic-embed-text
      api_base: {up.base}
    model_info: {{mode: embedding}}
  - model_name: falls-back
    litellm_params:
      model: ollama_chat/missing-model
      api_base: {up.base}
  - model_name: falls-back
    litellm_params:
      model: ollama_chat/present
      api_base: {up.base}
      weight: 0.000001
general_settings:
  allow_remote_images: {str(remote_images).lower()}
"""


@pytest.fixture
def gw(ollama_up, make_gateway) -> ServerThread:
    return make_gateway(config(ollama_up))


def client(gw: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0, timeout=10)


def test_api_base_ending_in_api_is_normalised_with_a_warning(ollama_up):
    cfg = compile_config(config(ollama_up), "c.yaml")
    assert cfg.aliases["local-qwen"][0].api_base == ollama_up.base
    assert any("removed '/api'" in w for w in cfg.warnings)
    assert Ollama().normalise_api_base("ollama_chat", "https://ollama.com/") == ("https://ollama.com", None)


def test_text_non_stream_with_usage_options_and_no_auth_locally(gw, ollama_up):
    out = client(gw).chat.completions.create(
        model="local-qwen",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "say hi"}],
        temperature=0.2,
        max_tokens=50,
        stop="END",
        seed=7,
    )
    assert out.choices[0].message.content == "hello from ollama"
    assert out.choices[0].finish_reason == "stop"
    assert out.usage is not None and out.usage.prompt_tokens == 4 and out.usage.completion_tokens == 3
    seen = ollama_up.seen[-1]
    assert seen.path == "/api/chat"
    assert seen.body["model"] == "qwen3:8b" and seen.body["stream"] is False
    assert seen.body["messages"][0] == {"role": "system", "content": "be brief"}
    assert seen.body["options"] == {"temperature": 0.2, "num_predict": 50, "stop": ["END"], "seed": 7, "num_ctx": 8192}
    assert seen.body["keep_alive"] == "10m"
    assert "Authorization" not in seen.headers


def test_cloud_key_sent_as_bearer(gw, ollama_up):
    client(gw).chat.completions.create(model="cloud-kimi", messages=[{"role": "user", "content": "hi"}])
    assert ollama_up.seen[-1].headers["Authorization"] == f"Bearer {KEY}"
    assert ollama_up.seen[-1].body["model"] == "kimi-k2:1t"


def test_streaming_text_with_usage(gw, ollama_up):
    ollama_up.default = OllamaBehaviour(content="one two three four")
    chunks = list(
        client(gw).chat.completions.create(
            model="local-qwen",
            messages=[{"role": "user", "content": "count"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "one two three four"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert len({c.id for c in chunks}) == 1
    assert ollama_up.seen[-1].body["stream"] is True


def test_streaming_without_usage_request_has_no_usage_chunk(gw, ollama_up):
    chunks = list(client(gw).chat.completions.create(model="local-qwen", messages=[{"role": "user", "content": "x"}], stream=True))
    assert all(c.choices for c in chunks)


def test_image_data_url_becomes_bare_base64(gw, ollama_up):
    out = client(gw).chat.completions.create(
        model="local-qwen",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
                ],
            }
        ],
    )
    assert out.choices[0].message.content == "I see 1 image(s)"
    assert ollama_up.seen[-1].body["messages"] == [{"role": "user", "content": "what is this?", "images": [PNG_B64]}]


def test_remote_image_url_refused_when_not_allowed(gw, ollama_up):
    with pytest.raises(openai.BadRequestError) as exc:
        client(gw).chat.completions.create(
            model="local-qwen",
            messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": ollama_up.base + "/img.png"}}]}],
        )
    assert "allow_remote_images" in exc.value.message
    assert ollama_up.seen == []


def test_remote_image_url_fetched_when_allowed(ollama_up, make_gateway):
    gw = make_gateway(config(ollama_up, remote_images=True))
    out = client(gw).chat.completions.create(
        model="local-qwen",
        messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": ollama_up.base + "/img.png"}}]}],
    )
    assert out.choices[0].message.content == "I see 1 image(s)"
    assert ollama_up.seen[-1].body["messages"][0]["images"] == [PNG_B64]


def test_tools_non_stream(gw, ollama_up):
    ollama_up.default = OllamaBehaviour(kind="tools", tool_calls=[CALL])
    out = client(gw).chat.completions.create(
        model="local-qwen", messages=[{"role": "user", "content": "weather in Paris?"}], tools=TOOLS
    )
    choice = out.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    assert call.id.startswith("call_")
    assert ollama_up.seen[-1].body["tools"] == TOOLS
    # the same answer in another conversation gets its own id: ids are unique per call (issue 15)
    again = client(gw).chat.completions.create(model="local-qwen", messages=[{"role": "user", "content": "w?"}], tools=TOOLS)
    assert again.choices[0].message.tool_calls[0].id != call.id
    assert again.choices[0].message.tool_calls[0].id.startswith("call_")
    # sending the call and its result back: arguments become an object, the result carries tool_name
    ollama_up.default = OllamaBehaviour()
    client(gw).chat.completions.create(
        model="local-qwen",
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
    )
    sent = ollama_up.seen[-1].body["messages"]
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}
    assert sent[2] == {"role": "tool", "content": "sunny", "tool_name": "get_weather", "tool_call_id": call.id}


def test_tools_stream(gw, ollama_up):
    ollama_up.default = OllamaBehaviour(kind="tools", tool_calls=[CALL, {**CALL, "id": "call_given"}])
    chunks = list(
        client(gw).chat.completions.create(
            model="local-qwen", messages=[{"role": "user", "content": "w?"}], tools=TOOLS, stream=True
        )
    )
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert [d.index for d in deltas] == [0, 1]
    assert deltas[1].id == "call_given" and deltas[0].id and deltas[0].id.startswith("call_")
    assert json.loads(deltas[0].function.arguments) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_thinking_is_surfaced_as_reasoning(gw, ollama_up):
    ollama_up.default = OllamaBehaviour(kind="think")
    out = client(gw).chat.completions.create(model="local-qwen", messages=[{"role": "user", "content": "hm"}], reasoning_effort="high")
    assert out.choices[0].message.model_extra["reasoning"] == "let me think"
    assert ollama_up.seen[-1].body["think"] == "high"


def test_json_schema_and_json_object(gw, ollama_up):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    out = client(gw).chat.completions.create(
        model="local-qwen",
        messages=[{"role": "user", "content": "answer"}],
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    )
    assert json.loads(out.choices[0].message.content) == {"answer": "ok"}
    assert ollama_up.seen[-1].body["format"] == schema
    client(gw).chat.completions.create(
        model="local-qwen", messages=[{"role": "user", "content": "json"}], response_format={"type": "json_object"}
    )
    assert ollama_up.seen[-1].body["format"] == "json"


def test_completions_go_to_generate(gw, ollama_up):
    out = client(gw).completions.create(model="gen", prompt="once upon", max_tokens=5)
    assert out.choices[0].text == "hello from ollama"
    assert ollama_up.seen[-1].path == "/api/generate" and ollama_up.seen[-1].body["prompt"] == "once upon"
    chunks = list(client(gw).completions.create(model="gen", prompt="once upon", stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "hello from ollama"


def test_embeddings_batch(gw, ollama_up):
    out = client(gw).embeddings.create(model="embedder", input=["a", "b"])
    assert [d.embedding for d in out.data] == [pytest.approx([0.1, 0.2, 0.3]), pytest.approx([0.2, 0.2, 0.3])]
    assert out.usage.prompt_tokens == 8
    assert ollama_up.seen[-1].path == "/api/embed" and ollama_up.seen[-1].body["input"] == ["a", "b"]
    b64 = client(gw).embeddings.create(model="embedder", input="a")  # the SDK asks for base64 by default
    assert b64.data[0].embedding == pytest.approx([0.1, 0.2, 0.3])


def test_model_not_found_is_404_and_falls_back(gw, ollama_up):
    raw = client(gw).chat.completions.with_raw_response.create(model="falls-back", messages=[{"role": "user", "content": "hi"}])
    assert raw.parse().choices[0].message.content == "hello from ollama"
    assert raw.headers["x-lmgate-deployment"] == "falls-back#2"
    assert [s.body["model"] for s in ollama_up.seen] == ["missing-model", "present"]


def test_ollama_error_statuses_map(gw, ollama_up):
    ollama_up.script = [OllamaBehaviour(kind="status", status=429, error="you have reached your session usage limit")]
    with pytest.raises(openai.RateLimitError) as exc:
        client(gw).chat.completions.create(model="local-qwen", messages=[{"role": "user", "content": "hi"}])
    assert "session usage limit" in exc.value.message
    ollama_up.script = [OllamaBehaviour(kind="status", status=400, error="registry.ollama.ai/x does not support tools")]
    with pytest.raises(openai.BadRequestError):
        client(gw).chat.completions.create(model="local-qwen", messages=[{"role": "user", "content": "hi"}])


def test_error_line_mid_stream_ends_stream_with_error(gw, ollama_up):
    ollama_up.default = OllamaBehaviour(kind="error_line", content="a b c d", after_lines=2, error="llama runner crashed")
    stream = client(gw).chat.completions.create(model="local-qwen", messages=[{"role": "user", "content": "x"}], stream=True)
    with pytest.raises(openai.APIError) as exc:
        list(stream)
    assert "llama runner crashed" in str(exc.value)


def test_error_as_first_line_falls_back_before_any_byte(gw, ollama_up):
    ollama_up.script = [OllamaBehaviour(kind="error_line", after_lines=0, error="model 'x' not found")]
    chunks = list(client(gw).chat.completions.create(model="falls-back", messages=[{"role": "user", "content": "x"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello from ollama"


@pytest.mark.parametrize("kind", ["cut", "no_done"])
def test_stream_cut_off_before_done_is_an_error(gw, ollama_up, kind):
    ollama_up.default = OllamaBehaviour(kind=kind, content="a b c d", after_lines=2)
    stream = client(gw).chat.completions.create(model="local-qwen", messages=[{"role": "user", "content": "x"}], stream=True)
    with pytest.raises(openai.APIError):
        list(stream)


def test_ollama_cloud_key_never_reaches_an_instance_of_ones_own(make_gateway, monkeypatch):
    """OLLAMA_API_KEY fills in a missing api_key only for Ollama Cloud: a local or LAN instance never
    receives it (over plain HTTP, to a host that has no use for it)."""
    monkeypatch.setenv("OLLAMA_API_KEY", "sk-ollama-cloud-secret-1")
    up = FakeOllamaUpstream().start()
    try:
        gw = make_gateway(
            f"""
model_list:
  - model_name: lan
    litellm_params: {{model: ollama_chat/qwen3:8b, api_base: {up.base}}}
  - model_name: cloud
    litellm_params: {{model: ollama_chat/gpt-oss:120b, api_base: https://ollama.com}}
"""
        )
        ollama.Client(host=gw.url, timeout=10).chat(model="lan", messages=[{"role": "user", "content": "hi"}], stream=False)
        assert "Authorization" not in up.seen[-1].headers and "authorization" not in up.seen[-1].headers
        cfg = compile_config("model_list:\n  - model_name: c\n    litellm_params: {model: ollama_chat/x, api_base: https://ollama.com}\n", "t")
        assert cfg.deployments[0].headers["Authorization"] == "Bearer sk-ollama-cloud-secret-1"
    finally:
        up.stop()
