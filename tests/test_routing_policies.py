"""LiteLLM routing keys that used to be accepted silently: a cyclic fallback graph that terminates,
max_parallel_requests (per process, and exact across replicas with Redis), drop_params /
additional_drop_params, retry_policy and allowed_fails_policy."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest

from lmgate.config import ConfigError, compile_config
from tests.redis_server import RedisServer, backend_fixture, redis_server_fixture, redis_session_fixture  # noqa: F401
from tests.routing_kit import MASTER, ROUTE, Tiers, chain_config, chat, health, hops, tiers_fixture  # noqa: F401
from tests.servers import Behaviour, FakeOpenAIUpstream


def wait_for(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.mark.parametrize("recursive", [True, False])
def test_a_cyclic_chain_tries_each_alias_once_and_ends(tiers: Tiers, make_gateway, recursive: bool):
    for up in (tiers.cloud, tiers.vllm, tiers.cpu):
        up.default = Behaviour("status", 503)
    gw = make_gateway(chain_config(
        tiers,
        router=f"recursive_fallbacks: {str(recursive).lower()}\n  disable_cooldowns: true",
        litellm="fallbacks: [{cloud-kimi: [vllm-qwen]}, {vllm-qwen: [ollama-qwen, cloud-kimi]}, {ollama-qwen: [cloud-kimi]}]",
    ))
    r = chat(gw)
    assert r.status_code == 503, r.text
    expected = ["cloud-kimi", "vllm-qwen", "ollama-qwen"] if recursive else ["cloud-kimi", "vllm-qwen"]
    assert [name for name, _ in hops(r.headers[ROUTE])] == expected
    assert (tiers.cloud.calls, tiers.vllm.calls) == (1, 1)


def test_max_fallbacks_bounds_a_cycle(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(
        tiers,
        router="recursive_fallbacks: true\n  max_fallbacks: 1",
        litellm="fallbacks: [{cloud-kimi: [vllm-qwen]}, {vllm-qwen: [ollama-qwen]}, {ollama-qwen: [cloud-kimi]}]",
    ))
    tiers.cloud.default = Behaviour("status", 500)
    tiers.vllm.default = Behaviour("status", 500)
    assert [n for n, _ in hops(chat(gw).headers[ROUTE])] == ["cloud-kimi", "vllm-qwen"]


def _in_flight(gw, model: str = "cloud-kimi") -> tuple[threading.Thread, list[httpx.Response]]:
    out: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: out.append(chat(gw, model)))
    thread.start()
    return thread, out


def test_a_full_deployment_is_skipped_like_one_over_quota(tiers: Tiers, make_gateway, backend: str):
    """`backend` is "" (in memory: one process) or a Redis's settings (two replicas, one exact count)."""
    config = chain_config(tiers, router="default_max_parallel_requests: 1\n  " + backend, cloud_params="max_parallel_requests: 1")
    first, second = make_gateway(config), make_gateway(config)
    tiers.cloud.script = [Behaviour("slow", delay=1.0, content="from cloud")]
    thread, out = _in_flight(first)
    wait_for(lambda: tiers.cloud.calls == 1)
    gw = second if backend else first
    assert health(gw)["cloud-kimi"]["max_parallel_requests"] == 1
    r = chat(gw)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "from vllm"
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "busy"), ("vllm-qwen", "ok")]
    thread.join(10)
    assert out[0].status_code == 200 and out[0].json()["choices"][0]["message"]["content"] == "from cloud"
    after = chat(gw)
    assert hops(after.headers[ROUTE]) == [("cloud-kimi", "ok")], "the slot is given back when the answer is done"


def test_every_deployment_full_is_a_429_naming_the_limit(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, cloud_params="max_parallel_requests: 1", litellm="num_retries: 0"))
    tiers.cloud.script = [Behaviour("slow", delay=1.0, content="from cloud")]
    thread, out = _in_flight(gw)
    wait_for(lambda: tiers.cloud.calls == 1)
    r = chat(gw)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert r.json()["error"]["code"] == "max_parallel_requests" and "max_parallel_requests" in r.json()["error"]["message"]
    thread.join(10)
    assert tiers.cloud.calls == 1, "nothing was sent for the refused request"


def test_a_stream_holds_its_slot_until_it_ends(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, cloud_params="max_parallel_requests: 1"))
    tiers.cloud.script = [Behaviour("slow_stream", delay=0.3, content="a b c")]
    headers = {"Authorization": f"Bearer {MASTER}"}
    body = {"model": "cloud-kimi", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.stream("POST", gw.url + "/v1/chat/completions", json=body, headers=headers, timeout=10) as stream:
        assert stream.status_code == 200
        busy = chat(gw)
        assert hops(busy.headers[ROUTE])[0] == ("cloud-kimi", "busy")
        stream.read()
    assert hops(chat(gw).headers[ROUTE]) == [("cloud-kimi", "ok")]


def test_drop_params_removes_what_the_upstream_rejects(make_gateway):
    up = FakeOpenAIUpstream().start()
    try:
        gw = make_gateway(f"""
model_list:
  - model_name: fast
    litellm_params: {{model: groq/llama-3.1-8b-instant, api_base: "{up.base}", api_key: gsk-x}}
  - model_name: strict
    litellm_params: {{model: openai/x, api_base: "{up.base}", additional_drop_params: [user, seed], drop_params: false}}
litellm_settings:
  drop_params: true
""")
        sent = {"messages": [{"role": "user", "content": "hi"}], "logit_bias": {"1": 2}, "logprobs": True,
                "top_logprobs": 2, "user": "u1", "seed": 7, "temperature": 0.5}
        for model, gone in (("fast", {"logit_bias", "logprobs", "top_logprobs"}), ("strict", {"user", "seed"})):
            r = httpx.post(gw.url + "/v1/chat/completions", json={"model": model, **sent}, timeout=10)
            assert r.status_code == 200, r.text
            got = up.seen[-1].body
            assert not gone & got.keys(), model
            assert got["temperature"] == 0.5
            assert (set(sent) - gone - {"messages"}) <= got.keys()
    finally:
        up.stop()


def test_retry_policy_retries_per_error_class(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, router="retry_policy: {RateLimitErrorRetries: 2, InternalServerErrorRetries: 0}"))
    tiers.cloud.script = [Behaviour("status", 429), Behaviour("status", 429)]
    r = chat(gw)
    assert r.json()["choices"][0]["message"]["content"] == "from cloud"
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "429"), ("cloud-kimi", "429"), ("cloud-kimi", "ok")]
    tiers.cloud.script = [Behaviour("status", 500)]
    assert hops(chat(gw).headers[ROUTE]) == [("cloud-kimi", "500"), ("vllm-qwen", "ok")]


def test_allowed_fails_policy_sets_the_cooldown_threshold_per_class(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(
        tiers, router="allowed_fails_policy: {InternalServerErrorAllowedFails: 0, AuthenticationErrorAllowedFails: 2}"
    ))
    tiers.cloud.script = [Behaviour("status", 401), Behaviour("status", 401)]
    chat(gw)
    chat(gw)
    assert health(gw)["cloud-kimi"]["state"] == "healthy", "two 401s are allowed before a cooldown"
    tiers.vllm.script = [Behaviour("status", 500)]
    tiers.cloud.default = Behaviour("status", 503)
    chat(gw)
    assert health(gw)["vllm-qwen"]["state"] == "cooling_down", "no 5xx is allowed"


def test_class_policies_with_unknown_names_are_load_errors():
    with pytest.raises(ConfigError) as err:
        compile_config(
            "model_list: []\nrouter_settings:\n  retry_policy: {TimeoutRetries: 1}\n"
            "  allowed_fails_policy: {RateLimitErrorAllowedFails: -1}\n",
            "p.yaml",
        )
    assert err.value.errors[0].startswith("p.yaml:3: router_settings.retry_policy.TimeoutRetries: unknown key (known: ")
    assert err.value.errors[1] == "p.yaml:4: router_settings.allowed_fails_policy.RateLimitErrorAllowedFails: must be a whole number >= 0"
