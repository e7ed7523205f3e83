"""Capability is not health: "this deployment does not serve this endpoint" never cools anything down,
is remembered per (deployment, endpoint) until a reload (or an hour), skipped meanwhile and shown in
GET /health; `model_info.mode` decides which deployments may answer embeddings; a request no candidate
can serve gets a 400 in the client's protocol naming the alias, the endpoint and what would serve it.

The upstream bodies are the real ones (OpenAI, Azure OpenAI, vLLM old and new, Ollama native and its
OpenAI layer, llama.cpp, a FastAPI/Go router without the route).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import ollama
import openai
import pytest

from lmgate.errors import UpstreamStatus
from lmgate.providers.http import error_message
from lmgate.routing.capabilities import CapabilityMemory
from lmgate.routing.outcomes import Verdict, classify
from tests.routing_kit import MASTER, ROUTE, Tiers, chain_config, chat, health, hops, sdk, tiers_fixture
from tests.servers import Behaviour, FakeOpenAIUpstream
from tests.servers_ollama import FakeOllamaUpstream, OllamaBehaviour

__all__ = ["tiers_fixture"]
AUTH = {"Authorization": f"Bearer {MASTER}"}

# (status, raw body) exactly as the upstreams send them for an endpoint or mode they do not serve
UNSUPPORTED: dict[str, tuple[int, Any]] = {
    "openai-completions": (404, {"error": {"message": "This is a chat model and not supported in the v1/completions "
                                           "endpoint. Did you mean to use v1/chat/completions?",
                                           "type": "invalid_request_error", "param": "model", "code": None}}),
    "openai-chat": (404, {"error": {"message": "This is not a chat model and thus not supported in the "
                                    "v1/chat/completions endpoint. Did you mean to use v1/completions?",
                                    "type": "invalid_request_error", "param": "model", "code": None}}),
    "azure": (400, {"error": {"code": "OperationNotSupported", "message": "The embeddings operation does not work "
                              "with the specified model, gpt-35-turbo. Please choose different model and try again."}}),
    "vllm-flat": (400, {"object": "error", "message": "The model does not support Embeddings API",
                        "type": "BadRequestError", "param": None, "code": 400}),
    "vllm-501": (501, {"error": {"message": "The model does not support Completions API", "type": "NotImplementedError",
                                 "param": None, "code": 501}}),
    "vllm-no-route": (404, {"detail": "Not Found"}),
    "vllm-no-template": (400, {"object": "error", "message": "As of transformers v4.44, default chat template is no "
                               "longer allowed, so you must provide a chat template if the tokenizer does not define "
                               "one.", "type": "BadRequestError", "param": None, "code": 400}),
    "ollama-openai-layer": (500, {"error": {"message": "this model does not support embeddings", "type": "api_error",
                                            "param": None, "code": None}}),
    "ollama-generate": (400, {"error": '"nomic-embed-text" does not support generate'}),
    "ollama-chat": (400, {"error": "embedding models do not support chat"}),
    "llama.cpp": (501, {"error": {"code": 501, "message": "This server does not support embeddings. Start it with "
                                  "`--embeddings`", "type": "not_supported_error"}}),
    "go-router": (404, b"404 page not found"),
    "aiohttp-router": (405, b"405: Method Not Allowed"),
}
# the same statuses for things that are health (or the client's fault), which must stay so
NOT_CAPABILITY: dict[str, tuple[int, Any, Verdict]] = {
    "ollama-model-gone": (404, {"error": 'model "qwen3:8b" not found, try pulling it first'}, Verdict.COOL_NOW),
    "openai-model-gone": (404, {"error": {"message": "The model `gpt-9` does not exist or you do not have access to "
                                          "it.", "type": "invalid_request_error", "code": "model_not_found"}},
                          Verdict.COOL_NOW),
    "openrouter-retired": (404, {"error": {"code": 404, "message": "No endpoints found for x/y:free."}},
                           Verdict.COOL_NOW),
    "bad-param": (400, {"error": {"message": "temperature must be at most 2", "type": "invalid_request_error"}},
                  Verdict.FATAL),
    "server-error": (500, {"error": {"message": "CUDA out of memory"}}, Verdict.RETRY),
    "ollama-tools": (400, {"error": "registry.ollama.ai/library/gemma:2b does not support tools"}, Verdict.LACKS),
    "ollama-thinking": (400, {"error": '"llama3.2" does not support thinking'}, Verdict.LACKS),
}


def _raw(body: Any) -> bytes:
    import orjson

    return body if isinstance(body, bytes) else orjson.dumps(body)


def _error(status: int, body: Any) -> UpstreamStatus:
    """The error as providers/http.status_error builds it from the upstream's answer."""
    return UpstreamStatus(status, f"upstream 'x' answered {status}: {error_message(_raw(body))}", deployment="x")


@pytest.mark.parametrize("case", UNSUPPORTED)
def test_unsupported_bodies_are_capability(case: str) -> None:
    assert classify(_error(*UNSUPPORTED[case])) is Verdict.UNSUPPORTED


@pytest.mark.parametrize("case", NOT_CAPABILITY)
def test_health_and_client_errors_stay_what_they_are(case: str) -> None:
    status, body, verdict = NOT_CAPABILITY[case]
    assert classify(_error(status, body)) is verdict


def _behaviour(case: str) -> Behaviour:
    status, body = UNSUPPORTED[case]
    return Behaviour("status", status, body=body)


def _completions(gw: Any, model: str = "cloud-kimi") -> httpx.Response:
    return httpx.post(gw.url + "/v1/completions", json={"model": model, "prompt": "hi"}, headers=AUTH, timeout=15)


@pytest.mark.parametrize("case", ["openai-completions", "vllm-501", "vllm-no-route", "go-router"])
def test_a_chat_only_tier_never_cools_down_for_completions(tiers: Tiers, make_gateway: Any, case: str) -> None:
    """The issue's report: one /v1/completions cooled down gpt-4o and its fallback for cooldown_time."""
    gw = make_gateway(chain_config(tiers, router="allowed_fails: 0"))
    tiers.cloud.script = [_behaviour(case)]
    tiers.vllm.script = [_behaviour(case)]
    r = _completions(gw)
    assert r.status_code == 200, r.text
    # capability refusals are labelled as such (never a status that metrics would count as a failure)
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "unsupported"), ("vllm-qwen", "unsupported"), ("ollama-qwen", "ok")]
    assert r.headers[ROUTE].split(">")[0] != "cloud-kimi:unsupported:0s", "this one was sent and timed"
    rows = health(gw)
    for name in ("cloud-kimi", "vllm-qwen"):
        assert rows[name]["state"] == "healthy"
        assert rows[name]["failures"] == 0 and rows[name]["failures_last_minute"] == 0
        assert "completion" in rows[name]["unsupported"]
    assert "unsupported" not in rows["ollama-qwen"]
    # chat still goes to the first tier
    r = chat(gw)
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "ok")]
    # completions skip the two tiers without sending them anything
    calls = (tiers.cloud.calls, tiers.vllm.calls)
    r = _completions(gw)
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "unsupported"), ("vllm-qwen", "unsupported"), ("ollama-qwen", "ok")]
    assert (tiers.cloud.calls, tiers.vllm.calls) == calls


def test_embeddings_are_never_answered_by_a_chat_fallback(tiers: Tiers, make_gateway: Any) -> None:
    """The issue's report: /v1/embeddings on a chat alias was answered by a chat fallback's embedding endpoint."""
    extra = f"""
  - model_name: embedder
    litellm_params: {{model: openai/bge-m3, api_base: {tiers.cpu.base}}}
    model_info: {{mode: embedding}}
"""
    gw = make_gateway(chain_config(tiers, extra_models=extra))
    tiers.cloud.script = [_behaviour("ollama-openai-layer")]
    with pytest.raises(openai.BadRequestError) as err:
        sdk(gw).embeddings.create(model="cloud-kimi", input="hello")
    message = err.value.body["message"]  # type: ignore[index]
    assert "cloud-kimi" in message and "embeddings" in message and "embedder" in message
    assert "does not support embeddings" in message
    assert err.value.body["code"] == "unsupported_endpoint"  # type: ignore[index]
    assert tiers.vllm.calls == 0 and tiers.cpu.calls == 0, "chat fallbacks must not embed"
    assert health(gw)["cloud-kimi"]["state"] == "healthy"
    # the embedding alias answers
    assert len(sdk(gw).embeddings.create(model="embedder", input="hello").data) == 1


def test_mode_mismatch_is_refused_before_anything_is_sent(upstream: FakeOpenAIUpstream, make_gateway: Any) -> None:
    gw = make_gateway(
        f"""
        model_list:
          - model_name: chatty
            litellm_params: {{model: openai/m, api_base: {upstream.base}}}
            model_info: {{mode: chat}}
          - model_name: vectors
            litellm_params: {{model: openai/e, api_base: {upstream.base}}}
            model_info: {{mode: embedding}}
        """
    )
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError) as err:
        client.embeddings.create(model="chatty", input="x")
    assert "model_info.mode chat" in str(err.value) and "vectors" in str(err.value)
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="vectors", messages=[{"role": "user", "content": "x"}])
    assert "chat completions" in str(err.value) and "chatty" in str(err.value)
    assert upstream.calls == 0
    # Ollama clients get the same refusal in Ollama's shape
    o = ollama.Client(host=gw.url)
    with pytest.raises(ollama.ResponseError) as oerr:
        o.embed(model="chatty", input="x")
    assert oerr.value.status_code == 400 and "embeddings" in oerr.value.error
    assert upstream.calls == 0


def test_embedding_fallbacks_must_be_embedding_deployments(make_gateway: Any) -> None:
    primary, second = FakeOpenAIUpstream().start(), FakeOpenAIUpstream().start()
    try:
        gw = make_gateway(
            f"""
            model_list:
              - model_name: embed-a
                litellm_params: {{model: openai/a, api_base: {primary.base}}}
                model_info: {{mode: embedding}}
              - model_name: chat-b
                litellm_params: {{model: openai/b, api_base: {second.base}}}
              - model_name: embed-c
                litellm_params: {{model: openai/c, api_base: {second.base}}}
                model_info: {{mode: embedding}}
            litellm_settings:
              fallbacks: [{{embed-a: [chat-b, embed-c]}}]
            """
        )
        primary.default = Behaviour("status", 503)
        r = httpx.post(gw.url + "/v1/embeddings", json={"model": "embed-a", "input": "x"}, timeout=10)
        assert r.status_code == 200, r.text
        assert [s.body["model"] for s in second.seen] == ["c"], "only the embedding fallback is asked"
        assert hops(r.headers[ROUTE]) == [("embed-a", "503"), ("embed-c", "ok")]
    finally:
        primary.stop()
        second.stop()


def test_a_model_lacking_tools_falls_through_without_being_remembered(make_gateway: Any) -> None:
    small, big = FakeOllamaUpstream().start(), FakeOllamaUpstream().start()
    try:
        gw = make_gateway(
            f"""
            model_list:
              - model_name: local
                litellm_params: {{model: ollama_chat/gemma:2b, api_base: {small.base}}}
              - model_name: bigger
                litellm_params: {{model: ollama_chat/qwen3:8b, api_base: {big.base}}}
            litellm_settings:
              fallbacks: [{{local: [bigger]}}]
            """
        )
        tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
        small.script = [OllamaBehaviour("status", 400, error="registry.ollama.ai/library/gemma:2b does not support tools")]
        o = ollama.Client(host=gw.url)
        out = o.chat(model="local", messages=[{"role": "user", "content": "x"}], tools=tools, stream=False)
        assert out.message.content == "hello from ollama"
        assert len(big.seen) == 1
        # not remembered: the next chat goes to the first tier again
        o.chat(model="local", messages=[{"role": "user", "content": "x"}], stream=False)
        assert len(small.seen) == 2
        # when nothing has the feature, the model's own words come back as a 400
        small.script = [OllamaBehaviour("status", 400, error="gemma:2b does not support tools")]
        big.script = [OllamaBehaviour("status", 400, error="qwen3:8b does not support tools")]
        with pytest.raises(ollama.ResponseError) as err:
            o.chat(model="local", messages=[{"role": "user", "content": "x"}], tools=tools, stream=False)
        assert err.value.status_code == 400 and "does not support tools" in err.value.error
        rows = {r["deployment"]: r for r in httpx.get(gw.url + "/health").json()["deployments"]}
        assert all(r["state"] == "healthy" and "unsupported" not in r for r in rows.values())
    finally:
        small.stop()
        big.stop()


def test_reload_forgets_what_upstreams_said(tiers: Tiers, make_gateway: Any, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(chain_config(tiers))
    gw = make_gateway(path)
    tiers.cloud.script = [_behaviour("openai-completions")]
    assert _completions(gw).status_code == 200
    assert hops(_completions(gw).headers[ROUTE])[0] == ("cloud-kimi", "unsupported")
    r = httpx.post(gw.url + "/config/reload", headers=AUTH, timeout=10)
    assert r.status_code == 200, r.text
    assert "unsupported" not in health(gw)["cloud-kimi"]
    assert hops(_completions(gw).headers[ROUTE]) == [("cloud-kimi", "ok")]


def test_memory_lasts_an_hour() -> None:
    now = [1000.0]
    memory = CapabilityMemory(clock=lambda: now[0])
    memory.remember("a", "embedding", "does not support embeddings")
    assert memory and memory.unsupported("a", "embedding") is not None
    assert memory.unsupported("a", "chat") is None and memory.unsupported("b", "embedding") is None
    now[0] += 3599
    assert memory.of("a")["embedding"][1] == "does not support embeddings"
    now[0] += 2
    assert memory.unsupported("a", "embedding") is None and memory.of("a") == {} and not memory


@pytest.mark.parametrize(
    ("status", "error"),
    [(501, "This server does not support embeddings. Start it with `--embeddings`"),
     (400, "this model does not support embeddings")],
)
def test_a_native_ollama_chat_model_asked_to_embed(make_gateway: Any, status: int, error: str) -> None:
    """Ollama >= 0.12 answers /api/embed on a generation-only model with llama.cpp's 501; older ones
    with a 400 "this model does not support embeddings". Neither hurts the model's chat."""
    up = FakeOllamaUpstream().start()
    try:
        gw = make_gateway(
            f"""
            model_list:
              - model_name: local
                litellm_params: {{model: ollama_chat/qwen3:8b, api_base: {up.base}}}
            """
        )
        o = ollama.Client(host=gw.url)
        up.script = [OllamaBehaviour("status", status, error=error)]
        with pytest.raises(ollama.ResponseError) as err:
            o.embed(model="local", input="x")
        assert err.value.status_code == 400
        assert "'local'" in err.value.error and "embeddings" in err.value.error and error in err.value.error
        row = httpx.get(gw.url + "/health").json()["deployments"][0]
        assert row["state"] == "healthy" and "embedding" in row["unsupported"]
        seen = len(up.seen)
        with pytest.raises(ollama.ResponseError):
            o.embed(model="local", input="x")  # remembered: nothing sent
        assert len(up.seen) == seen
        assert o.chat(model="local", messages=[{"role": "user", "content": "hi"}], stream=False).message.content
    finally:
        up.stop()
