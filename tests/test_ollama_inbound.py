"""The official `ollama` Python client (sync and async) against a real lmgate on loopback, with aliases
backed by an OpenAI-compatible upstream, an Ollama upstream and the built-in mock."""

from __future__ import annotations

import httpx
import ollama
import orjson
import pytest

from tests.servers import Behaviour, FakeOpenAIUpstream, ServerThread
from tests.servers_ollama import PNG_B64, FakeOllamaUpstream, OllamaBehaviour

ALIASES = ("via-openai", "via-ollama", "via-mock")
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]


@pytest.fixture
def gw(upstream: FakeOpenAIUpstream, ollama_up: FakeOllamaUpstream, make_gateway) -> ServerThread:
    return make_gateway(
        f"""
model_list:
  - model_name: via-openai
    litellm_params: {{model: openai/served-model, api_base: {upstream.base}}}
  - model_name: via-ollama
    litellm_params: {{model: ollama_chat/qwen3:8b, api_base: {ollama_up.base}, keep_alive: 1h}}
  - model_name: via-mock
    litellm_params: {{model: mock/echo, mock_response: hello from mock}}
  - model_name: emb-openai
    litellm_params: {{model: openai/text-embed, api_base: {upstream.base}}}
    model_info: {{mode: embedding}}
  - model_name: emb-ollama
    litellm_params: {{model: ollama/nomic-embed-text, api_base: {ollama_up.base}}}
    model_info: {{mode: embedding}}
  - model_name: emb-mock
    litellm_params: {{model: mock/embed, mock_dimensions: 4}}
    model_info: {{mode: embedding, max_input_tokens: 512}}
"""
    )


@pytest.fixture(autouse=True)
def same_words(upstream: FakeOpenAIUpstream, ollama_up: FakeOllamaUpstream) -> None:
    upstream.default = Behaviour(content="hello from upstream")
    ollama_up.default = OllamaBehaviour(content="hello from upstream")


def expected(alias: str) -> str:
    return "hello from mock" if alias == "via-mock" else "hello from upstream"


def client(gw: ServerThread) -> ollama.Client:
    return ollama.Client(host=gw.url, timeout=10)


@pytest.mark.parametrize("alias", ALIASES)
def test_chat_non_stream(gw, alias):
    out = client(gw).chat(model=alias, messages=[{"role": "user", "content": "say hi"}], stream=False)
    assert out.message.role == "assistant" and out.message.content == expected(alias)
    assert out.done is True and out.done_reason == "stop"
    assert out.eval_count and out.eval_count > 0 and out.prompt_eval_count is not None
    assert out.total_duration is not None and out.total_duration >= 0


@pytest.mark.parametrize("alias", ALIASES)
def test_chat_stream_is_ndjson_with_final_stats(gw, alias):
    parts = list(client(gw).chat(model=alias, messages=[{"role": "user", "content": "say hi"}], stream=True))
    assert "".join(p.message.content or "" for p in parts) == expected(alias)
    assert [p.done for p in parts][-1] is True and not any(p.done for p in parts[:-1])
    final = parts[-1]
    assert final.done_reason == "stop" and final.message.content == ""
    assert final.eval_count and final.eval_count > 0
    assert final.total_duration is not None and final.eval_duration is not None


def test_stream_is_the_default_and_framed_as_ndjson(gw):
    resp = httpx.post(gw.url + "/api/chat", json={"model": "via-openai", "messages": [{"role": "user", "content": "x"}]})
    assert resp.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in resp.text.splitlines()]
    assert len(lines) >= 2 and lines[-1]["done"] is True
    assert isinstance(lines[-1]["total_duration"], int) and lines[-1]["prompt_eval_count"] == 5


@pytest.mark.parametrize("alias", ALIASES)
def test_generate_stream_and_not(gw, alias):
    out = client(gw).generate(model=alias, prompt="say hi", system="be brief", stream=False)
    assert out.response == expected(alias) and out.done is True
    parts = list(client(gw).generate(model=alias, prompt="say hi", stream=True))
    assert "".join(p.response or "" for p in parts) == expected(alias) and parts[-1].done is True


def test_generate_on_openai_upstream_is_a_chat_turn(gw, upstream):
    client(gw).generate(model="via-openai", prompt="the prompt", system="sys", stream=False, options={"temperature": 0.1, "num_predict": 9})
    body = upstream.seen[-1].body
    assert upstream.seen[-1].path == "/v1/chat/completions"
    assert body["messages"] == [{"role": "system", "content": "sys"}, {"role": "user", "content": "the prompt"}]
    assert body["temperature"] == 0.1 and body["max_tokens"] == 9 and body["model"] == "served-model"


def test_ollama_to_ollama_passes_through_with_model_rewritten(gw, ollama_up):
    msgs = [{"role": "user", "content": "hi", "images": [PNG_B64]}]
    out = client(gw).chat(model="via-ollama", messages=msgs, stream=False, options={"num_ctx": 4096}, think=False)
    assert out.message.content == "I see 1 image(s)"
    seen = ollama_up.seen[-1]
    assert seen.path == "/api/chat"
    assert seen.body["model"] == "qwen3:8b" and seen.body["messages"] == msgs
    assert seen.body["options"] == {"num_ctx": 4096} and seen.body["think"] is False
    assert seen.body["keep_alive"] == "1h"  # the deployment's default, since the client sent none
    client(gw).generate(model="via-ollama", prompt="p", stream=False)
    assert ollama_up.seen[-1].path == "/api/generate" and ollama_up.seen[-1].body["prompt"] == "p"


def test_images_and_tools_reach_an_openai_upstream(gw, upstream):
    client(gw).chat(
        model="via-openai",
        stream=False,
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "look", "images": [PNG_B64]},
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
            {"role": "tool", "content": "cold", "tool_name": "get_weather"},
        ],
    )
    sent = upstream.seen[-1].body["messages"]
    assert sent[0]["content"][1] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}
    call = sent[1]["tool_calls"][0]
    assert orjson.loads(call["function"]["arguments"]) == {"city": "Oslo"}
    assert sent[2] == {"role": "tool", "tool_call_id": call["id"], "content": "cold"}
    assert upstream.seen[-1].body["tools"][0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize("alias", ["emb-openai", "emb-ollama", "emb-mock"])
def test_embed_and_legacy_embeddings(gw, alias):
    out = client(gw).embed(model=alias, input=["a", "b"])
    assert len(out.embeddings) == 2 and all(len(v) >= 3 for v in out.embeddings)
    legacy = client(gw).embeddings(model=alias, prompt="a")
    if alias == "emb-ollama":  # passed through to the instance's own legacy endpoint
        assert legacy.embedding == [0.5, 0.25, 0.125]
    else:
        assert legacy.embedding == out.embeddings[0]


def test_list_show_ps_version_root(gw):
    names = [m.model for m in client(gw).list().models]
    assert names[:3] == list(ALIASES)
    shown = client(gw).show("emb-mock")
    assert shown.capabilities == ["embedding"] and shown.modelinfo["lmgate.context_length"] == 512
    assert client(gw).show("via-openai:latest").capabilities == ["completion", "tools"]
    assert client(gw).ps().models == []
    assert httpx.get(gw.url + "/api/version").json()["version"]
    root = httpx.get(gw.url + "/")
    assert root.status_code == 200 and root.text == "Ollama is running"
    assert httpx.head(gw.url + "/").status_code == 200
    assert httpx.get(gw.url + "/v1/models").json()["object"] == "list"  # "/" does not swallow OpenAI paths


def test_errors_are_ollama_shaped(gw, ollama_up):
    with pytest.raises(ollama.ResponseError) as exc:
        client(gw).chat(model="nope", messages=[{"role": "user", "content": "x"}])
    assert exc.value.status_code == 404 and "nope" in exc.value.error
    with pytest.raises(ollama.ResponseError) as exc:
        client(gw).pull("llama3.2")
    assert exc.value.status_code == 501 and "instance" in exc.value.error
    resp = httpx.request("DELETE", gw.url + "/api/delete", json={"model": "x"})
    assert resp.status_code == 501 and "error" in resp.json()
    assert httpx.get(gw.url + "/api/nothing-here").json().keys() == {"error"}
    ollama_up.default = OllamaBehaviour(kind="error_line", content="a b c d", after_lines=2, error="runner crashed")
    with pytest.raises(ollama.ResponseError) as exc:
        list(client(gw).chat(model="via-ollama", messages=[{"role": "user", "content": "x"}], stream=True))
    assert "runner crashed" in exc.value.error


def test_empty_chat_loads(gw):
    out = client(gw).chat(model="via-openai", messages=[], stream=False)
    assert out.done and out.done_reason == "load"


async def test_async_client_chat_generate_embed(gw):
    aclient = ollama.AsyncClient(host=gw.url, timeout=10)
    for alias in ALIASES:
        out = await aclient.chat(model=alias, messages=[{"role": "user", "content": "hi"}])
        assert out.message.content == expected(alias)
        text = ""
        async for part in await aclient.generate(model=alias, prompt="hi", stream=True):
            text += part.response or ""
        assert text == expected(alias)
    emb = await aclient.embed(model="emb-ollama", input="x")
    assert emb.embeddings == [[0.1, 0.2, 0.3]]
