"""The official OpenAI SDK against a real lmgate on loopback, in front of a real loopback upstream."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.servers import Behaviour, FakeOpenAIUpstream, ServerThread

SECRET = "sk-upstream-secret-0123456789"


def config_for(upstream: FakeOpenAIUpstream, extra: str = "") -> str:
    return f"""
model_list:
  - model_name: gpt-local
    litellm_params:
      model: openai/served-model
      api_base: {upstream.base}
      api_key: {SECRET}
      timeout: 5
  - model_name: groq/llama-3.3-70b
    litellm_params:
      model: hosted_vllm/Qwen/Qwen2.5-7B-Instruct-AWQ
      api_base: {upstream.base}
  - model_name: embedder
    litellm_params:
      model: openai/text-embed
      api_base: {upstream.base}
    model_info: {{mode: embedding}}
{extra}
"""


@pytest.fixture
def gw(upstream: FakeOpenAIUpstream, make_gateway) -> ServerThread:
    return make_gateway(config_for(upstream))


def client(gw: ServerThread, key: str = "anything") -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=10)


def test_chat_non_stream_rewrites_model_and_reports_deployment(gw, upstream):
    raw = client(gw).chat.completions.with_raw_response.create(
        model="gpt-local", messages=[{"role": "user", "content": "hi"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "hello from upstream"
    assert completion.usage is not None and completion.usage.total_tokens == 9
    assert raw.headers["x-lmgate-deployment"] == "gpt-local"
    seen = upstream.seen[-1]
    assert seen.body["model"] == "served-model"
    assert seen.headers["Authorization"] == f"Bearer {SECRET}"


def test_alias_and_upstream_model_with_slashes(gw, upstream):
    out = client(gw).chat.completions.create(
        model="groq/llama-3.3-70b", messages=[{"role": "user", "content": "hi"}]
    )
    assert out.choices[0].message.content == "hello from upstream"
    assert upstream.seen[-1].body["model"] == "Qwen/Qwen2.5-7B-Instruct-AWQ"
    assert "Authorization" not in upstream.seen[-1].headers


def test_stream_relays_text_and_strips_unrequested_usage(gw, upstream):
    upstream.default = Behaviour(content="one two three four")
    chunks = list(
        client(gw).chat.completions.create(
            model="gpt-local", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    assert all(c.choices for c in chunks), "usage-only chunk must be stripped when not requested"
    assert upstream.seen[-1].body["stream_options"] == {"include_usage": True}


def test_stream_keeps_usage_when_client_asks(gw, upstream):
    upstream.default = Behaviour(content="a b c")
    chunks = list(
        client(gw).chat.completions.create(
            model="gpt-local",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


async def test_async_client_chat_stream_and_not(gw, upstream):
    upstream.default = Behaviour(content="async works fine")
    aclient = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0)
    out = await aclient.chat.completions.create(model="gpt-local", messages=[{"role": "user", "content": "hi"}])
    assert out.choices[0].message.content == "async works fine"
    stream = await aclient.chat.completions.create(
        model="gpt-local", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert "".join(parts) == "async works fine"
    await aclient.close()


def test_completions_stream_and_not(gw, upstream):
    upstream.default = Behaviour(content="legacy text")
    c = client(gw)
    out = c.completions.create(model="gpt-local", prompt="say it")
    assert out.choices[0].text == "legacy text"
    assert upstream.seen[-1].path == "/v1/completions"
    parts = [ch.choices[0].text for ch in c.completions.create(model="gpt-local", prompt="x", stream=True) if ch.choices]
    assert "".join(parts) == "legacy text"


def test_embeddings_batch(gw, upstream):
    out = client(gw).embeddings.create(model="embedder", input=["a", "b"])
    assert [d.index for d in out.data] == [0, 1]
    assert out.data[1].embedding[0] == pytest.approx(0.2)
    assert upstream.seen[-1].body["model"] == "text-embed"


def test_models_list_and_retrieve_without_secrets(gw, upstream):
    c = client(gw)
    ids = [m.id for m in c.models.list()]
    assert ids == ["gpt-local", "groq/llama-3.3-70b", "embedder"]
    assert c.models.retrieve("groq/llama-3.3-70b").id == "groq/llama-3.3-70b"
    raw = httpx.get(gw.url + "/v1/models").text
    assert SECRET not in raw and "127.0.0.1" not in raw
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("missing")


def test_paths_without_v1_prefix(gw):
    r = httpx.post(gw.url + "/chat/completions", json={"model": "gpt-local", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 200 and r.json()["object"] == "chat.completion"
    assert httpx.get(gw.url + "/models").json()["object"] == "list"


def test_unknown_model_is_404_naming_it(gw):
    with pytest.raises(openai.NotFoundError) as err:
        client(gw).chat.completions.create(model="nope-model", messages=[{"role": "user", "content": "x"}])
    assert "nope-model" in str(err.value) and "/v1/models" in str(err.value)
    assert err.value.code == "model_not_found"


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "empty"),
        (b"[1,2]", 400, "JSON object"),
        (b'{"messages": [{"role":"user","content":"x"}]}', 400, "'model' is required"),
        (b'{"model": "gpt-local", "messages": []}', 400, "messages"),
    ],
)
def test_malformed_requests_get_openai_errors(gw, body, status, fragment):
    r = httpx.post(gw.url + "/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    err = r.json()["error"]
    assert fragment in err["message"] and err["type"] == "invalid_request_error"


def test_body_over_limit_is_413(upstream, make_gateway):
    gw = make_gateway(config_for(upstream, "general_settings:\n  max_request_body_mb: 0.01\n"))
    big = "x" * 20000
    with pytest.raises(openai.APIStatusError) as err:
        client(gw).chat.completions.create(model="gpt-local", messages=[{"role": "user", "content": big}])
    assert err.value.status_code == 413
    assert "max_request_body_mb" in str(err.value)


def test_master_key_required_when_set(upstream, make_gateway):
    gw = make_gateway(config_for(upstream, "general_settings:\n  master_key: sk-master-1\n"))
    msgs = [{"role": "user", "content": "x"}]
    with pytest.raises(openai.AuthenticationError):
        client(gw, "wrong").chat.completions.create(model="gpt-local", messages=msgs)
    assert httpx.get(gw.url + "/v1/models").status_code == 401
    assert client(gw, "sk-master-1").chat.completions.create(model="gpt-local", messages=msgs).choices
    assert httpx.get(gw.url + "/v1/models", headers={"x-api-key": "sk-master-1"}).status_code == 200
    assert httpx.get(gw.url + "/health/liveliness").status_code == 200


def test_health_probes(gw):
    assert httpx.get(gw.url + "/health/liveliness").status_code == 200
    ready = httpx.get(gw.url + "/health/readiness").json()
    assert ready["status"] == "healthy" and ready["models"] == 3

