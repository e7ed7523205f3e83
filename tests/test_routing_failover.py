"""Fallback chains, retries and cooldowns through the real gateway, with the official openai SDK and
loopback upstreams that fail on purpose."""

from __future__ import annotations

import socket
import time

import openai
import pytest

from tests.redis_server import backend_fixture, redis_server_fixture, redis_session_fixture  # noqa: F401
from tests.routing_kit import ROUTE, Tiers, chain_config, chat, health, hops, sdk, tiers_fixture  # noqa: F401
from tests.servers import Behaviour, closed_base
from tests.wait import wait_for


def test_chain_order_cloud_then_vllm_then_cpu(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers))
    tiers.cloud.script = [Behaviour("status", 503)]
    tiers.vllm.script = [Behaviour("status", 500)]
    raw = sdk(gw).chat.completions.with_raw_response.create(model="cloud-kimi", messages=[{"role": "user", "content": "x"}])
    assert raw.parse().choices[0].message.content == "from cpu"
    assert raw.headers["x-lmgate-deployment"] == "ollama-qwen"
    assert hops(raw.headers[ROUTE]) == [("cloud-kimi", "503"), ("vllm-qwen", "500"), ("ollama-qwen", "ok")]
    assert (tiers.cloud.calls, tiers.vllm.calls, tiers.cpu.calls) == (1, 1, 1)
    assert tiers.cpu.seen[0].body["model"] == "qwen2.5:3b"


def test_healthy_first_tier_answers_alone(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers))
    raw = sdk(gw).chat.completions.with_raw_response.create(model="cloud-kimi", messages=[{"role": "user", "content": "x"}])
    assert raw.parse().choices[0].message.content == "from cloud"
    assert hops(raw.headers[ROUTE]) == [("cloud-kimi", "ok")]
    assert (tiers.vllm.calls, tiers.cpu.calls) == (0, 0)


def test_fallbacks_are_not_followed_recursively(tiers: Tiers, make_gateway):
    # cloud -> vllm only; vllm -> cpu exists but is not followed for a cloud request.
    gw = make_gateway(chain_config(tiers, litellm="fallbacks: [{cloud-kimi: [vllm-qwen]}, {vllm-qwen: [ollama-qwen]}]"))
    tiers.cloud.script = [Behaviour("status", 503)]
    tiers.vllm.script = [Behaviour("status", 503)]
    r = chat(gw)
    assert r.status_code == 503
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "503"), ("vllm-qwen", "503")]
    assert tiers.cpu.calls == 0


def test_recursive_fallbacks_when_configured(tiers: Tiers, make_gateway):
    gw = make_gateway(
        chain_config(
            tiers,
            router="recursive_fallbacks: true",
            litellm="fallbacks: [{cloud-kimi: [vllm-qwen]}, {vllm-qwen: [ollama-qwen]}]",
        )
    )
    tiers.cloud.script = [Behaviour("status", 503)]
    tiers.vllm.script = [Behaviour("status", 503)]
    r = chat(gw)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "from cpu"


def test_dead_first_tier_fails_over_fast(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, cloud_base=closed_base()))
    started = time.monotonic()
    out = sdk(gw).chat.completions.create(model="cloud-kimi", messages=[{"role": "user", "content": "x"}])
    assert out.choices[0].message.content == "from vllm"
    assert time.monotonic() - started < 5, "a closed port must fail over well within 5 s"


def test_retries_with_backoff_then_fallback(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, router="num_retries: 2"))
    tiers.cloud.default = Behaviour("status", 503)
    r = chat(gw)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "from vllm"
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "503")] * 3 + [("vllm-qwen", "ok")]
    assert tiers.cloud.calls == 3


def test_deployment_max_retries_overrides_num_retries(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, router="num_retries: 3", cloud_params="max_retries: 1"))
    tiers.cloud.default = Behaviour("status", 502)
    assert chat(gw).status_code == 200
    assert tiers.cloud.calls == 2


def test_retry_succeeds_on_same_deployment_after_retry_after(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, router="num_retries: 1"))
    tiers.cloud.script = [Behaviour("status", 429, headers={"retry-after-ms": "400"})]
    started = time.monotonic()
    r = chat(gw)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "from cloud"
    assert time.monotonic() - started >= 0.35, "the retry must wait for the upstream's Retry-After"
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "429"), ("cloud-kimi", "ok")]
    assert tiers.vllm.calls == 0


def test_long_retry_after_moves_on_and_cools_down(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, router="num_retries: 2\n  retry_backoff_max: 1"))
    tiers.cloud.script = [Behaviour("status", 429, headers={"Retry-After": "30"})]
    r = chat(gw)
    assert r.json()["choices"][0]["message"]["content"] == "from vllm"
    assert tiers.cloud.calls == 1, "no retry inside the request when Retry-After is longer than the backoff cap"
    r2 = chat(gw)
    assert hops(r2.headers[ROUTE]) == [("cloud-kimi", "cooldown"), ("vllm-qwen", "ok")]
    assert tiers.cloud.calls == 1, "nothing is sent before the upstream's Retry-After has passed"
    row = health(gw)["cloud-kimi"]
    assert row["state"] == "cooling_down" and 25 < row["cooldown_remaining_s"] <= 30


def test_no_fallback_and_no_retry_on_client_400(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, router="num_retries: 3"))
    bad = {"error": {"message": "temperature must be <= 2", "type": "invalid_request_error"}}
    tiers.cloud.script = [Behaviour("status", 400, body=bad)]
    with pytest.raises(openai.BadRequestError) as err:
        sdk(gw).chat.completions.create(model="cloud-kimi", messages=[{"role": "user", "content": "x"}], temperature=5)
    assert "temperature must be <= 2" in str(err.value)
    assert hops(err.value.response.headers[ROUTE]) == [("cloud-kimi", "400")]
    assert (tiers.cloud.calls, tiers.vllm.calls, tiers.cpu.calls) == (1, 0, 0)


CONTEXT_400 = {
    "error": {
        "message": "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.",
        "type": "invalid_request_error",
        "code": "context_length_exceeded",
    }
}
BIG = """
  - model_name: big-context
    litellm_params:
      model: openai/qwen-128k
      api_base: {base}
"""


def test_context_window_fallback(tiers: Tiers, make_gateway):
    gw = make_gateway(
        chain_config(
            tiers,
            litellm="fallbacks: [{cloud-kimi: [vllm-qwen]}]\n  context_window_fallbacks: [{cloud-kimi: [big-context]}]",
            extra_models=BIG.format(base=tiers.cpu.base),
        )
    )
    tiers.cloud.script = [Behaviour("status", 400, body=CONTEXT_400)]
    r = chat(gw)
    assert r.status_code == 200, r.text
    assert r.headers["x-lmgate-deployment"] == "big-context"
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "400"), ("big-context", "ok")]
    assert tiers.cpu.seen[-1].body["model"] == "qwen-128k"
    assert tiers.vllm.calls == 0, "a context-length error does not use the general fallbacks"


def test_context_error_without_context_fallbacks_is_returned(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers))
    tiers.cloud.script = [Behaviour("status", 400, body=CONTEXT_400)]
    with pytest.raises(openai.BadRequestError) as err:
        sdk(gw).chat.completions.create(model="cloud-kimi", messages=[{"role": "user", "content": "x"}])
    assert "maximum context length" in str(err.value)
    assert tiers.vllm.calls == 0


def test_content_policy_fallback(tiers: Tiers, make_gateway):
    gw = make_gateway(
        chain_config(tiers, litellm="content_policy_fallbacks: [{cloud-kimi: [ollama-qwen]}]")
    )
    refusal = {"error": {"message": "Your request was rejected by our content policy", "code": "content_policy_violation"}}
    tiers.cloud.script = [Behaviour("status", 400, body=refusal)]
    r = chat(gw)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "from cpu"
    assert tiers.vllm.calls == 0


def test_default_fallbacks_for_aliases_without_their_own(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, litellm="default_fallbacks: [ollama-qwen]"))
    tiers.vllm.script = [Behaviour("status", 503)]
    r = chat(gw, model="vllm-qwen")
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "from cpu"


def test_auth_failure_cools_down_at_once(tiers: Tiers, make_gateway, backend: str):
    gw = make_gateway(chain_config(tiers, router=backend))
    tiers.cloud.script = [Behaviour("status", 401, body={"error": {"message": "bad key sk-abcdefghijklmnop"}})]
    assert chat(gw).json()["choices"][0]["message"]["content"] == "from vllm"
    r = chat(gw)
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "cooldown"), ("vllm-qwen", "ok")]
    assert tiers.cloud.calls == 1
    row = health(gw)["cloud-kimi"]
    assert row["state"] == "cooling_down" and row["reason"] == "401"
    assert "sk-abcdefghijklmnop" not in str(row["last_error"])


def test_model_not_found_cools_down_at_once(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers))
    tiers.cloud.script = [Behaviour("status", 404, body={"error": {"message": "model 'kimi-k2.5' not found"}})]
    assert chat(gw).status_code == 200
    assert hops(chat(gw).headers[ROUTE])[0] == ("cloud-kimi", "cooldown")


def test_cooldown_after_allowed_fails_then_recovery(tiers: Tiers, make_gateway, backend: str):
    gw = make_gateway(chain_config(tiers, router=f"allowed_fails: 1\n  cooldown_time: 1\n  {backend}"))
    tiers.cloud.script = [Behaviour("status", 503), Behaviour("status", 503)]
    assert chat(gw).status_code == 200  # fail 1: within the allowance
    assert health(gw)["cloud-kimi"]["state"] == "healthy"
    assert chat(gw).status_code == 200  # fail 2: more than allowed_fails -> cooldown
    assert health(gw)["cloud-kimi"]["state"] == "cooling_down"
    r = chat(gw)
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "cooldown"), ("vllm-qwen", "ok")]
    assert tiers.cloud.calls == 2, "a cooling deployment gets no request"
    wait_for(lambda: health(gw)["cloud-kimi"]["state"] == "healthy", "cooldown_time: 1 to end", 5)
    r = chat(gw)
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "ok")]
    assert r.json()["choices"][0]["message"]["content"] == "from cloud"


def test_everything_cooling_down_is_503_with_retry_after(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, router="allowed_fails: 0\n  cooldown_time: 20", litellm=""))
    tiers.cloud.script = [Behaviour("status", 500)]
    assert chat(gw).status_code == 500
    r = chat(gw)
    assert r.status_code == 503 and r.json()["error"]["code"] == "no_healthy_deployment"
    assert 1 <= int(r.headers["Retry-After"]) <= 20
    assert tiers.cloud.calls == 1


def test_disable_cooldowns(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, router="allowed_fails: 0\n  disable_cooldowns: true"))
    tiers.cloud.script = [Behaviour("status", 401), Behaviour("status", 500)]
    chat(gw)
    chat(gw)
    chat(gw)
    assert tiers.cloud.calls == 3


def test_host_that_never_accepts_fails_over_after_connect_timeout_without_retries(tiers: Tiers, make_gateway):
    # A listener whose accept queue is full: the kernel drops further SYNs, like a dead host.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(listener.getsockname())
            fillers.append(s)
        base = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        gw = make_gateway(chain_config(tiers, router="num_retries: 3", cloud_base=base, cloud_params="connect_timeout: 0.3"))
        started = time.monotonic()
        r = chat(gw)
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "from vllm"
        assert hops(r.headers[ROUTE]) == [("cloud-kimi", "unreachable"), ("vllm-qwen", "ok")]
        assert time.monotonic() - started < 3, "a dead host costs one connect timeout, not one per retry"
    finally:
        for s in fillers:
            s.close()
        listener.close()
