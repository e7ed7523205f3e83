"""Upstream quotas (rpm/tpm/rpd) are skipped before sending; routing strategies spread load as documented."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from lmgate.limits import MemoryQuotas, Quota, QuotaStore, QuotaUsage
from tests.processes import serving
from tests.redis_server import RedisServer, backend_fixture, redis_server_fixture, redis_session_fixture  # noqa: F401
from tests.routing_kit import MASTER, ROUTE, Tiers, chain_config, chat, health, hops, tiers_fixture  # noqa: F401
from tests.servers import Behaviour, FakeOpenAIUpstream


def test_rpm_quota_skips_before_sending(tiers: Tiers, make_gateway, backend: str):
    gw = make_gateway(chain_config(tiers, router=backend, cloud_params="rpm: 2"))
    for _ in range(2):
        assert chat(gw).json()["choices"][0]["message"]["content"] == "from cloud"
    r = chat(gw)
    assert r.json()["choices"][0]["message"]["content"] == "from vllm"
    assert hops(r.headers[ROUTE]) == [("cloud-kimi", "quota-rpm"), ("vllm-qwen", "ok")]
    assert tiers.cloud.calls == 2, "the exhausted upstream must not see a third request"
    row = health(gw)["cloud-kimi"]
    assert row["state"] == "over_quota" and row["reason"] == "rpm 2/2"
    assert row["quota"]["rpm"] == [2, 2]


def test_rpd_quota_like_openrouter_free_tier(tiers: Tiers, make_gateway, backend: str):
    gw = make_gateway(chain_config(tiers, router=backend, cloud_params="rpm: 20\n      rpd: 1"))
    assert chat(gw).json()["choices"][0]["message"]["content"] == "from cloud"
    for _ in range(3):
        r = chat(gw)
        assert r.json()["choices"][0]["message"]["content"] == "from vllm"
        assert hops(r.headers[ROUTE])[0] == ("cloud-kimi", "quota-rpd")
    assert tiers.cloud.calls == 1
    assert health(gw)["cloud-kimi"]["reason"] == "rpd 1/1"


def test_tpm_quota_counts_answered_tokens(tiers: Tiers, make_gateway, backend: str):
    gw = make_gateway(chain_config(tiers, router=backend, cloud_params="tpm: 5"))
    assert chat(gw).json()["choices"][0]["message"]["content"] == "from cloud"  # uses 9 tokens
    r = chat(gw)
    assert hops(r.headers[ROUTE])[0] == ("cloud-kimi", "quota-tpm")
    assert tiers.cloud.calls == 1


def test_every_candidate_over_quota_is_429_and_nothing_is_sent(tiers: Tiers, make_gateway, backend: str):
    gw = make_gateway(chain_config(tiers, router=backend, cloud_params="rpm: 1", litellm=""))
    assert chat(gw).status_code == 200
    r = chat(gw)
    assert r.status_code == 429 and r.json()["error"]["code"] == "upstream_quota_exceeded"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert tiers.cloud.calls == 1


def _two_deployments(a: FakeOpenAIUpstream, b: FakeOpenAIUpstream, strategy: str, params: str = "") -> str:
    return f"""
model_list:
  - model_name: pool
    litellm_params: {{model: openai/m, api_base: {a.base}, {params}}}
    model_info: {{id: pool-a}}
  - model_name: pool
    litellm_params: {{model: openai/m, api_base: {b.base}, {params}}}
    model_info: {{id: pool-b}}
router_settings:
  routing_strategy: {strategy}
general_settings:
  master_key: {MASTER}
"""


def test_simple_shuffle_follows_rpm_weights(tiers: Tiers, make_gateway):
    gw = make_gateway(
        f"""
model_list:
  - model_name: pool
    litellm_params: {{model: openai/m, api_base: {tiers.cloud.base}, rpm: 10000}}
  - model_name: pool
    litellm_params: {{model: openai/m, api_base: {tiers.vllm.base}, rpm: 1}}
general_settings:
  master_key: {MASTER}
"""
    )
    for _ in range(30):
        assert chat(gw, model="pool").status_code == 200
    assert tiers.cloud.calls >= 27, (tiers.cloud.calls, tiers.vllm.calls)


def test_least_busy_sends_to_the_idle_deployment(tiers: Tiers, make_gateway):
    gw = make_gateway(_two_deployments(tiers.cloud, tiers.vllm, "least-busy"))
    tiers.cloud.default = Behaviour("ok", delay=0.5)
    tiers.vllm.default = Behaviour("ok", delay=0.5)
    codes: list[int] = []
    threads = [threading.Thread(target=lambda: codes.append(chat(gw, model="pool").status_code)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 4
    assert (tiers.cloud.calls, tiers.vllm.calls) == (2, 2)


def test_latency_based_prefers_the_fast_deployment(tiers: Tiers, make_gateway):
    gw = make_gateway(_two_deployments(tiers.cloud, tiers.vllm, "latency-based-routing"))
    tiers.cloud.default = Behaviour("ok", delay=0.3)
    for _ in range(8):
        assert chat(gw, model="pool").status_code == 200
    assert tiers.cloud.calls <= 1 and tiers.vllm.calls >= 7
    assert health(gw)["pool-a"]["latency_ms"] is None or health(gw)["pool-a"]["latency_ms"] >= 250


def test_usage_based_balances_tokens(tiers: Tiers, make_gateway):
    gw = make_gateway(_two_deployments(tiers.cloud, tiers.vllm, "usage-based-routing-v2", "tpm: 100000"))
    for _ in range(6):
        assert chat(gw, model="pool").status_code == 200
    assert (tiers.cloud.calls, tiers.vllm.calls) == (3, 3)


def test_health_needs_the_master_key(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers))
    assert httpx.get(gw.url + "/health", timeout=5).status_code == 401
    r = httpx.get(gw.url + "/health", headers={"Authorization": f"Bearer {MASTER}"}, timeout=5)
    body = r.json()
    assert body["healthy_count"] == 3 and body["unhealthy_count"] == 0
    assert body["chains"]["cloud-kimi"] == "cloud-kimi -> vllm-qwen -> ollama-qwen"
    rows = {row["deployment"]: row for row in body["deployments"]}
    assert set(rows) == {"cloud-kimi", "vllm-qwen", "ollama-qwen"}
    assert rows["vllm-qwen"]["model"] == "hosted_vllm/Qwen/Qwen2.5-7B" and rows["vllm-qwen"]["state"] == "healthy"


@pytest.fixture(params=["memory", "redis"])
async def clocked_quotas(request: pytest.FixtureRequest) -> AsyncIterator[tuple[QuotaStore, list[float]]]:
    """A quota store on a clock the test moves: MemoryQuotas, or RedisQuotas against a real Redis."""
    now = [1000.0]
    if request.param == "memory":
        yield MemoryQuotas(clock=lambda: now[0]), now
        return
    from lmgate.limits.redis import RedisQuotas
    from lmgate.redis_link import RedisLink

    server: RedisServer = request.getfixturevalue("redis_server")
    link = RedisLink({"host": "127.0.0.1", "port": server.port})
    await link.open()
    assert link.ok, link.error
    yield RedisQuotas(link, clock=lambda: now[0]), now
    await link.close()


async def test_quota_windows_slide(clocked_quotas: tuple[QuotaStore, list[float]]):
    quotas, now = clocked_quotas
    q = Quota(rpm=2, rpd=3)
    assert await quotas.acquire("d", q) is None
    now[0] += 30
    assert await quotas.acquire("d", q) is None
    denial = await quotas.acquire("d", q)
    assert denial is not None and denial.limit == "rpm" and denial.retry_after == pytest.approx(30)
    now[0] += 30  # the first request has left the minute
    assert await quotas.acquire("d", q) is None
    now[0] += 60
    denial = await quotas.acquire("d", q)
    assert denial is not None and denial.limit == "rpd"
    assert denial.retry_after == pytest.approx(86400 - 120)
    assert (await quotas.usage("d")).requests_day == 3


async def test_token_window_slides(clocked_quotas: tuple[QuotaStore, list[float]]):
    quotas, now = clocked_quotas
    q = Quota(tpm=100)
    assert await quotas.usage("t") == QuotaUsage()
    assert await quotas.acquire("t", q) is None
    await quotas.add_tokens("t", 60)
    now[0] += 20
    assert await quotas.acquire("t", q) is None
    await quotas.add_tokens("t", 50)  # 110 tokens in the minute: over
    assert await quotas.usage("t") == QuotaUsage(2, 110, 0)
    now[0] += 10
    denial = await quotas.acquire("t", q)
    assert denial is not None and denial.limit == "tpm" and denial.retry_after == pytest.approx(30)
    now[0] += 30  # the 60 tokens have left the minute: 50 remain
    assert await quotas.acquire("t", q) is None
    assert await quotas.usage("t") == QuotaUsage(2, 50, 0)
    now[0] += 61
    assert await quotas.usage("t") == QuotaUsage(0, 0, 0)


def test_workers_split_an_upstream_quota(tiers: Tiers, tmp_path):
    # Each worker counts in its own memory, so each may use 1/N of the quota: together they stay inside it.
    path = tmp_path / "config.yaml"
    path.write_text(chain_config(tiers, cloud_params="rpm: 4"))
    with serving("--config", str(path), "--workers", "2") as url:
        time.sleep(0.5)  # let the second worker bind too
        for _ in range(20):
            r = httpx.post(
                url + "/v1/chat/completions",
                json={"model": "cloud-kimi", "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": f"Bearer {MASTER}", "Connection": "close"}, timeout=15,
            )
            assert r.status_code == 200
        assert 1 <= tiers.cloud.calls <= 4, tiers.cloud.calls
        assert tiers.vllm.calls == 20 - tiers.cloud.calls
