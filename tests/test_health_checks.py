"""Background health checks (general_settings.background_health_checks, health_check_interval) through
the real gateway: a dead tier is skipped before any request reaches it, its recovery is seen by the same
probes, probes are model listings that never touch quotas, and with Redis the verdict is shared."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.redis_server import RedisServer, backend_fixture, redis_server_fixture, redis_session_fixture  # noqa: F401
from tests.routing_kit import ROUTE, Tiers, chain_config, chat, health, hops, tiers_fixture  # noqa: F401
from tests.servers import Behaviour, FakeOpenAIUpstream, ServerThread, free_port
from tests.servers_ollama import FakeOllamaUpstream

CHECKS = "background_health_checks: true\n  health_check_interval: {interval}"


def _checks(interval: float = 0.3) -> str:
    return CHECKS.format(interval=interval)


def _until(what: str, ok: Callable[[], Any], seconds: float = 8.0) -> Any:
    """Poll `ok()` until it is truthy (and return it), failing after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        found = ok()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _state(gw: ServerThread, name: str) -> tuple[str, str | None]:
    row = health(gw)[name]
    return str(row["state"]), row.get("reason")  # type: ignore[return-value]


def _probe_down(gw: ServerThread, name: str = "cloud-kimi") -> str:
    state, reason = _state(gw, name)
    return reason if state == "cooling_down" and reason and reason.startswith("health-check") else ""


def test_dead_tier_is_skipped_then_recovery_is_seen(tiers: Tiers, make_gateway):
    port = free_port()  # nothing listens here yet: the cloud tier is down
    gw = make_gateway(chain_config(tiers, cloud_base=f"http://127.0.0.1:{port}/v1", general=_checks()))
    assert _until("the probe to mark cloud-kimi down", lambda: _probe_down(gw)) == "health-check unreachable"
    r = chat(gw)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "from vllm"
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "cooldown"), ("vllm-qwen", "ok")], "skipped, never tried"
    row = health(gw)["cloud-kimi"]
    assert row["health_check"]["up"] is False and row["health_check"]["detail"] == "unreachable"
    assert row["failures"] == 0, "a probe is not a request failure"

    cloud = FakeOpenAIUpstream(port=port).start()  # the tier comes back
    cloud.default.content = "from cloud"
    try:
        _until("a probe to see cloud-kimi up", lambda: _state(gw, "cloud-kimi")[0] == "healthy")
        r = chat(gw)
        assert hops(r.headers[ROUTE]) == [("cloud-kimi", "ok")]
        assert r.json()["choices"][0]["message"]["content"] == "from cloud"
        assert health(gw)["cloud-kimi"]["health_check"]["up"] is True
    finally:
        cloud.stop()


def test_listing_5xx_marks_down_and_401_is_up(tiers: Tiers, make_gateway, backend: str):
    gw = make_gateway(chain_config(tiers, router=backend, general=_checks()))
    tiers.cloud.listing_status = 503
    assert _until("a 503 listing to mark it down", lambda: _probe_down(gw)) == "health-check 503"
    tiers.cloud.listing_status = 401  # the host answers: up (a key problem is for requests to find)
    _until("a 401 listing to count as up", lambda: _state(gw, "cloud-kimi")[0] == "healthy")


def test_probes_are_listings_outside_quotas(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, cloud_params="rpm: 1", general=_checks(0.2)))
    _until("several probes of cloud-kimi", lambda: len(tiers.cloud.listings) >= 3)
    assert tiers.cloud.calls == 0, "probes never send a completion"
    row = health(gw)["cloud-kimi"]
    assert row["requests"] == 0 and row["quota"]["rpm"] == [0, 1]
    r = chat(gw)
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "ok")], "the one request a minute is still there"


def test_probes_are_spread_over_the_interval(tiers: Tiers, make_gateway):
    make_gateway(chain_config(tiers, general=_checks(0.6)))  # three targets: one every 0.2 s
    ups = (tiers.cloud, tiers.vllm, tiers.cpu)
    _until("a probe of every tier", lambda: all(up.listings for up in ups))
    first = [up.listings[0] for up in ups]
    assert first[1] - first[0] >= 0.1 and first[2] - first[1] >= 0.1, first


def test_probe_never_ends_a_cooldown_that_failures_started(tiers: Tiers, make_gateway):
    router = "allowed_fails: 0\n  cooldown_time: 30"
    gw = make_gateway(chain_config(tiers, router=router, general=_checks(0.2)))
    tiers.cloud.script = [Behaviour("status", 500)]
    assert chat(gw).status_code == 200  # cloud's 500 cools it down; vllm answers
    seen = len(tiers.cloud.listings)
    _until("two more probes of cloud-kimi", lambda: len(tiers.cloud.listings) >= seen + 2)
    assert _state(gw, "cloud-kimi") == ("cooling_down", "500"), "the listing answers, the 500 still stands"


def test_ollama_instance_is_probed_with_tags_once_for_its_aliases(make_gateway):
    ollama = FakeOllamaUpstream().start()
    try:
        config = f"""
model_list:
  - model_name: qwen
    litellm_params: {{model: ollama_chat/qwen3:8b, api_base: "{ollama.base}"}}
  - model_name: llama
    litellm_params: {{model: ollama_chat/llama3.2, api_base: "{ollama.base}"}}
  - model_name: demo
    litellm_params: {{model: mock/echo}}
general_settings:
  master_key: sk-master-routing-test
  {_checks(0.3)}
"""
        gw = make_gateway(config)
        _until("three probes of the instance", lambda: len(ollama.listings) >= 3)
        rows = health(gw)  # three probes done: both aliases share the instance's
        assert rows["llama"]["health_check"]["up"] is True and rows["qwen"]["health_check"]["up"] is True
        assert rows["demo"]["health_check"] is None, "the built-in mock has nothing to probe"
        assert not ollama.seen, "only GET /api/tags, no inference"
        gaps = [b - a for a, b in zip(ollama.listings, ollama.listings[1:], strict=False)]
        assert min(gaps) >= 0.2, f"one probe per round for both aliases, not one each: {gaps}"
    finally:
        ollama.stop()


def test_probe_verdict_is_shared_through_redis(tiers: Tiers, make_gateway, redis_server: RedisServer):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    router = redis_server.router_settings
    checking = make_gateway(chain_config(tiers, router=router, cloud_base=dead, general=_checks()))
    other = make_gateway(chain_config(tiers, router=router, cloud_base=dead))  # no health checks of its own
    _until("the checking gateway to mark it down", lambda: _probe_down(checking))
    _until("the other gateway to see it", lambda: _probe_down(other))
    r = chat(other)
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "cooldown"), ("vllm-qwen", "ok")]
