"""Upstream quotas and cooldowns shared through a real Redis: two gateway replicas (two apps, each on its
own port) and `lmgate serve --workers 2`, with Redis killed and brought back under load."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis

from lmgate.config import load_config
from lmgate.routing.cooldowns_redis import REFRESH_S
from lmgate.server.app import create_app
from tests.processes import serving, worker_request_counts
from tests.redis_server import RedisServer, redis_server_fixture, redis_session_fixture  # noqa: F401
from tests.routing_kit import MASTER, ROUTE, Tiers, chain_config, chat, health, hops, tiers_fixture  # noqa: F401
from tests.servers import Behaviour, ServerThread
from tests.wait import wait_for


def readiness(gw: ServerThread | str) -> dict[str, object]:
    url = gw if isinstance(gw, str) else gw.url
    r = httpx.get(url + "/health/readiness", timeout=5)
    assert r.status_code == 200, "readiness stays 200 whether or not Redis answers"
    shared = r.json()["shared_state"]
    assert isinstance(shared, dict)
    return shared


def content(r: httpx.Response) -> str:
    assert r.status_code == 200, r.text
    return str(r.json()["choices"][0]["message"]["content"])


def test_two_replicas_never_exceed_an_upstream_rpm_together(tiers: Tiers, make_gateway, redis_server: RedisServer):
    config = chain_config(tiers, router=redis_server.router_settings, cloud_params="rpm: 3\n      tpm: 100000")
    a, b = make_gateway(config), make_gateway(config)
    assert readiness(a)["connected"] is True and readiness(b)["backend"] == "redis"
    with ThreadPoolExecutor(8) as pool:  # concurrent, to both replicas: the check-and-count must be atomic
        answers = list(pool.map(lambda i: content(chat(a if i % 2 else b)), range(24)))
    assert answers.count("from cloud") == 3 and answers.count("from vllm") == 21
    assert tiers.cloud.calls == 3, "two replicas with rpm: 3 each must send 3 in total, not 6"
    for gw in (a, b):
        row = health(gw)["cloud-kimi"]
        assert row["state"] == "over_quota" and row["quota"]["rpm"] == [3, 3]
    # Nothing grows forever: every key lmgate wrote has a TTL.
    with redis.Redis(port=redis_server.port) as client:
        keys = client.keys("lmgate:*")
        assert {k.decode().rsplit(":", 1)[-1] for k in keys} >= {"rpm", "tpm", "n"}
        assert all(0 < client.ttl(k) <= 86460 for k in keys), {k: client.ttl(k) for k in keys}


def _wait_state(gw: ServerThread, name: str, state: str, within: float) -> None:
    wait_for(lambda: health(gw)[name]["state"] == state, f"{name} to become {state}", within)


def test_second_replica_skips_a_deployment_the_first_cooled_down(tiers: Tiers, make_gateway, redis_server: RedisServer):
    config = chain_config(tiers, router=redis_server.router_settings)
    a, b = make_gateway(config), make_gateway(config)
    tiers.cloud.script = [Behaviour("status", 401)]
    assert content(chat(a)) == "from vllm"  # 401: cloud-kimi cools down at once, in Redis
    # The documented staleness bound (REFRESH_S), plus slack for a loaded CI machine.
    _wait_state(b, "cloud-kimi", "cooling_down", within=REFRESH_S + 1.0)
    r = chat(b)
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "cooldown"), ("vllm-qwen", "ok")]
    assert tiers.cloud.calls == 1, "replica b must not send to a deployment replica a put in cooldown"
    assert health(b)["cloud-kimi"]["reason"] == "401"


def test_failures_are_counted_across_replicas(tiers: Tiers, make_gateway, redis_server: RedisServer):

    config = chain_config(tiers, router=f"allowed_fails: 1\n  num_retries: 0\n  {redis_server.router_settings}")
    a, b = make_gateway(config), make_gateway(config)
    tiers.cloud.script = [Behaviour("status", 503), Behaviour("status", 503)]
    assert content(chat(a)) == "from vllm"  # failure 1 (of the shared minute): allowed
    assert health(a)["cloud-kimi"]["state"] == "healthy"
    assert content(chat(b)) == "from vllm"  # failure 2, on the other replica: over allowed_fails
    assert health(b)["cloud-kimi"]["state"] == "cooling_down", "the failure count must be shared"
    _wait_state(a, "cloud-kimi", "cooling_down", within=REFRESH_S + 1.0)
    assert hops(chat(a).headers[ROUTE])[0] == ("cloud-kimi", "cooldown")
    assert tiers.cloud.calls == 2


def test_workers_share_one_exact_quota(tiers: Tiers, tmp_path, redis_server: RedisServer):
    # In memory each of 2 workers would get rpm 5 // 2 = 2 (4 in total); through Redis they share all 5.
    path = tmp_path / "config.yaml"
    path.write_text(chain_config(tiers, router=redis_server.router_settings, cloud_params="rpm: 5"))
    with serving("--config", str(path), "--workers", "2", env={"LMGATE_STATE_DIR": str(tmp_path)}) as url:
        assert readiness(url)["connected"] is True
        with httpx.Client(headers={"Authorization": f"Bearer {MASTER}", "Connection": "close"}, timeout=15) as client:
            for _ in range(40):  # a new connection each: the kernel spreads them over both workers
                r = client.post(url + "/v1/chat/completions", json={"model": "cloud-kimi", "messages": [{"role": "user", "content": "hi"}]})
                assert r.status_code == 200, r.text
    assert tiers.cloud.calls == 5, tiers.cloud.calls
    assert tiers.vllm.calls == 35
    per_worker = worker_request_counts(tmp_path)
    assert len(per_worker) == 2 and all(per_worker.values()), f"both workers must have served: {per_worker}"
    assert sum(per_worker.values()) == 40


def test_redis_down_falls_back_locally_then_shares_again(
    tiers: Tiers, make_gateway, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="lmgate.redis")
    config = chain_config(tiers, router=redis_server.router_settings, cloud_params="rpm: 5")
    a, b = make_gateway(config), make_gateway(config)
    for gw in (a, b, a):
        assert content(chat(gw)) == "from cloud"

    # Load on both replicas while Redis is killed: no request may fail.
    codes: list[int] = []
    stop = threading.Event()

    def load(gw: ServerThread) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {MASTER}"}, timeout=15) as client:
            while not stop.is_set() and len(codes) < 400:
                body = {"model": "cloud-kimi", "messages": [{"role": "user", "content": "hi"}]}
                codes.append(client.post(gw.url + "/v1/chat/completions", json=body).status_code)

    threads = [threading.Thread(target=load, args=(gw,)) for gw in (a, b, a, b)]
    for t in threads:
        t.start()
    wait_for(lambda: len(codes) >= 20, "load to run with Redis up")
    redis_server.kill()
    at_kill = len(codes)
    wait_for(lambda: len(codes) >= at_kill + 40, "load to run with Redis down")
    stop.set()
    for t in threads:
        t.join(20)
    assert codes and set(codes) == {200}, sorted(set(codes))
    for gw in (a, b):
        shared = readiness(gw)
        assert shared["connected"] is False and shared["fallback"] and shared["error"] and shared["down_since"]
        # Each replica now counts alone (with its whole rpm: it is one process), so cloud-kimi has
        # answered more than the shared 5 in total.
    assert tiers.cloud.calls > 5

    # Redis back (empty: it keeps nothing): both replicas find it again and share one window again.
    redis_server.start()
    wait_for(lambda: readiness(a)["connected"] and readiness(b)["connected"], "the replicas to reconnect to Redis", 5)
    assert readiness(a)["error"] is None
    lines = [r.getMessage() for r in caplog.records if r.name == "lmgate.redis"]
    assert sum("is unreachable" in m for m in lines) == 2, "one error per replica, not one per request"
    assert sum("reachable again" in m for m in lines) == 2
    before = tiers.cloud.calls
    answers = [content(chat(gw)) for gw in (a, b, a, b, a, b, a, b)]
    assert answers[:5] == ["from cloud"] * 5 and answers[5:] == ["from vllm"] * 3
    assert tiers.cloud.calls - before == 5


def test_redis_absent_at_start_up_is_not_fatal(tiers: Tiers, make_gateway, redis_server: RedisServer):
    redis_server.kill()
    gw = make_gateway(chain_config(tiers, router=redis_server.router_settings, cloud_params="rpm: 1"))
    shared = readiness(gw)
    assert shared["backend"] == "redis" and shared["connected"] is False and shared["error"]
    assert [content(chat(gw)) for _ in range(2)] == ["from cloud", "from vllm"]  # local counters meanwhile
    redis_server.start()
    wait_for(lambda: readiness(gw)["connected"], "the gateway to connect when Redis came up", 5)
    assert content(chat(gw)) == "from cloud"  # Redis's (empty) window now counts
    with redis.Redis(port=redis_server.port) as client:
        assert client.zcard("lmgate:quota:cloud-kimi:rpm") == 1


def test_shared_state_survives_a_config_reload(tiers: Tiers, make_gateway, redis_server: RedisServer, tmp_path):
    text = chain_config(tiers, router=redis_server.router_settings, cloud_params="rpm: 3")
    path = tmp_path / "config.yaml"
    path.write_text(text)
    cfg = load_config(path)
    a = ServerThread(lambda: create_app(cfg)).start()
    try:
        b = make_gateway(text)
        assert [content(chat(a)) for _ in range(2)] == ["from cloud"] * 2
        path.write_text(text.replace("timeout: 5", "timeout: 6"))
        r = httpx.post(a.url + "/config/reload", headers={"Authorization": f"Bearer {MASTER}"}, timeout=15)
        assert r.status_code == 200, r.text
        assert readiness(a)["connected"] is True
        assert content(chat(a)) == "from cloud"  # the third of rpm 3, counted in Redis after the reload
        r = chat(b)
        assert hops(r.headers[ROUTE])[0] == ("cloud-kimi", "quota-rpm") and tiers.cloud.calls == 3
        tiers.cloud.script = [Behaviour("status", 401)]
        path.write_text(text.replace("rpm: 3", "rpm: 100"))
        assert httpx.post(a.url + "/config/reload", headers={"Authorization": f"Bearer {MASTER}"}, timeout=15).status_code == 200
        assert content(chat(a)) == "from vllm"  # 401 -> cooldown, shared
        _wait_state(b, "cloud-kimi", "cooling_down", within=REFRESH_S + 1.0)
    finally:
        a.stop()
