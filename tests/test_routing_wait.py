"""router_settings.wait_for_cooldown_s: when every candidate is cooling down, a request waits (bounded)
for the first one to come back instead of failing at once — through the real gateway, whole answers and
streams, cooldowns in memory and in Redis."""

from __future__ import annotations

import time

from tests.redis_server import backend_fixture, redis_server_fixture, redis_session_fixture  # noqa: F401
from tests.routing_kit import MSGS, ROUTE, Tiers, chain_config, chat, hops, sdk, tiers_fixture  # noqa: F401
from tests.servers import Behaviour


def _cool_cloud(tiers: Tiers, gw) -> float:
    """One failure cools cloud-kimi (allowed_fails: 0); returns when its cooldown started."""
    tiers.cloud.script = [Behaviour("status", 500)]
    assert chat(gw).status_code == 500
    return time.monotonic()


def test_request_waits_for_the_cooldown_to_end(tiers: Tiers, make_gateway, backend: str):
    router = f"allowed_fails: 0\n  cooldown_time: 1\n  wait_for_cooldown_s: 5\n  {backend}"
    gw = make_gateway(chain_config(tiers, router=router, litellm=""))
    cooled = _cool_cloud(tiers, gw)
    r = chat(gw)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "from cloud"
    assert time.monotonic() - cooled >= 0.9, "answered only once the 1 s cooldown was over"
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "cooldown"), ("cloud-kimi", "waited"), ("cloud-kimi", "ok")]
    assert tiers.cloud.calls == 2


def test_stream_waits_for_the_cooldown_to_end(tiers: Tiers, make_gateway):
    router = "allowed_fails: 0\n  cooldown_time: 1\n  wait_for_cooldown_s: 5"
    gw = make_gateway(chain_config(tiers, router=router, litellm=""))
    cooled = _cool_cloud(tiers, gw)
    with sdk(gw).chat.completions.with_streaming_response.create(model="cloud-kimi", messages=MSGS, stream=True) as resp:
        route = resp.headers[ROUTE]
        text = "".join(c.choices[0].delta.content or "" for c in resp.parse() if c.choices)
    assert text == "from cloud"
    assert time.monotonic() - cooled >= 0.9
    assert [o for _, o in hops(route)] == ["cooldown", "waited", "ok"]


def test_cooldown_longer_than_the_budget_fails_at_once(tiers: Tiers, make_gateway):
    router = "allowed_fails: 0\n  cooldown_time: 30\n  wait_for_cooldown_s: 2"
    gw = make_gateway(chain_config(tiers, router=router, litellm=""))
    _cool_cloud(tiers, gw)
    started = time.monotonic()
    r = chat(gw)
    assert time.monotonic() - started < 1.5, "no point waiting 2 s for a deployment that is back in 30 s"
    assert r.status_code == 503 and r.json()["error"]["code"] == "no_healthy_deployment"
    assert 25 <= int(r.headers["Retry-After"]) <= 30
    assert tiers.cloud.calls == 1


def test_without_the_key_nothing_waits(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, router="allowed_fails: 0\n  cooldown_time: 3", litellm=""))
    _cool_cloud(tiers, gw)
    started = time.monotonic()
    r = chat(gw)
    assert r.status_code == 503 and time.monotonic() - started < 1.5


def test_first_of_several_cooling_tiers_to_come_back_answers(tiers: Tiers, make_gateway):
    # cloud cools for 30 s, vllm for 1 s (its own 500 after cloud's): the waiting request gets vllm.
    router = "allowed_fails: 0\n  cooldown_time: 1\n  wait_for_cooldown_s: 5"
    litellm = "fallbacks: [{cloud-kimi: [vllm-qwen]}]"
    gw = make_gateway(chain_config(tiers, router=router, litellm=litellm))
    tiers.cloud.script = [Behaviour("status", 503, headers={"Retry-After": "30"})]
    tiers.vllm.script = [Behaviour("status", 500)]
    assert chat(gw).status_code == 500
    r = chat(gw)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "from vllm"
    assert hops(r.headers[ROUTE]) == [
        ("cloud-kimi", "cooldown"),
        ("vllm-qwen", "cooldown"),
        ("vllm-qwen", "waited"),
        ("cloud-kimi", "cooldown"),
        ("vllm-qwen", "ok"),
    ]
    assert tiers.cloud.calls == 1
