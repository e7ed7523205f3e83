"""Virtual keys' rate limits and money budgets through the real gateway, with the official clients:
429s in each client's protocol with Retry-After and x-ratelimit-*, team and per-model limits, budgets
that skip paid tiers and keep free ones, spend settled from the spend log, LiteLLM's spend endpoints,
budget periods and the Prometheus gauges."""

from __future__ import annotations

import concurrent.futures
import math
from datetime import UTC, datetime, timedelta

import anthropic
import httpx
import ollama
import pytest

from tests.keys_kit import MASTER, admin, new_key, ok_json, within
from tests.limits_kit import COST, ask, limits_config
from tests.redis_server import RedisServer, redis_server_fixture, redis_session_fixture  # noqa: F401


@pytest.fixture
def gateway(make_gateway, upstream, tmp_path):
    def start(router: str = "") -> str:
        config = limits_config(upstream.base, f"sqlite:///{tmp_path / 'keys.db'}", str(tmp_path / "requests.jsonl"), router)
        (tmp_path / "gate.yaml").write_text(config)  # for the command line
        return str(make_gateway(config).url)

    return start


@pytest.fixture(params=["memory", "redis"])
def url(request, gateway):
    if request.param == "memory":
        return gateway()
    redis = request.getfixturevalue("redis_server")
    return gateway(redis.router_settings)


def test_rpm_limit_answers_429_with_retry_after_and_ratelimit_headers(url):
    key = new_key(url, key_alias="rpm3", rpm_limit=3)["key"]
    answers = [ask(url, key, "free") for _ in range(3)]
    assert [a[0] for a in answers] == [200, 200, 200]
    assert [a[2]["x-ratelimit-remaining-requests"] for a in answers] == ["2", "1", "0"]
    assert answers[0][2]["x-ratelimit-limit-requests"] == "3"
    status, body, headers = ask(url, key, "free")
    assert status == 429
    assert body["error"]["code"] == "rate_limit_exceeded"
    assert "key 'rpm3'" in body["error"]["message"] and "rpm_limit" in body["error"]["message"]
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-remaining-requests"] == "0" and headers["x-ratelimit-limit-requests"] == "3"
    assert key not in body["error"]["message"]
    other = new_key(url, key_alias="other")["key"]  # another key is not affected
    assert ask(url, other, "free")[0] == 200


def test_429_renders_in_the_anthropic_and_ollama_protocols(url):
    key = new_key(url, key_alias="one", rpm_limit=1)["key"]
    assert ask(url, key, "free")[0] == 200
    claude = anthropic.Anthropic(base_url=url, api_key=key, max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as caught:
        claude.messages.create(model="free", max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.response.headers["retry-after"]
    assert caught.value.body["type"] == "error" and caught.value.body["error"]["type"] == "rate_limit_error"
    client = ollama.Client(host=url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    with pytest.raises(ollama.ResponseError) as refused:
        client.chat(model="free", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 429 and "rpm_limit" in refused.value.error


def test_tpm_limit_counts_the_answers_tokens(url):
    key = new_key(url, key_alias="tpm", tpm_limit=15)["key"]
    assert ask(url, key)[0] == 200  # 9 tokens (5 in, 4 out)
    status, _, headers = ask(url, key)
    assert status == 200 and headers["x-ratelimit-remaining-tokens"] == "6"  # 15 - 9, before this one's
    status, body, _ = ask(url, key)
    assert status == 429 and "tpm_limit" in body["error"]["message"]


def test_max_parallel_requests_and_team_and_per_model_limits(url):
    team = admin(url, "/team/new", {"team_id": "ops", "team_alias": "ops", "rpm_limit": 3}).json()["team_id"]
    a = new_key(url, key_alias="a", team_id=team, max_parallel_requests=1)["key"]
    b = new_key(url, key_alias="b", team_id=team, model_rpm_limit={"free": 1})["key"]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        statuses = sorted(s for s, _, _ in pool.map(lambda _: ask(url, a, "free-slow"), range(3)))
    assert statuses == [200, 429, 429]  # one at a time
    assert ask(url, b, "free")[0] == 200
    status, body, _ = ask(url, b, "free")
    assert status == 429 and "key 'b' on model 'free'" in body["error"]["message"]
    # refused requests counted nowhere: the team has 2 of its 3; another model is not limited for b
    assert ask(url, b, "tiered")[0] == 200
    status, body, _ = ask(url, b, "tiered")
    assert status == 429 and "team 'ops'" in body["error"]["message"]


def test_budget_skips_paid_tiers_and_keeps_free_ones(url):
    key = new_key(url, key_alias="wallet", max_budget=2 * COST)["key"]
    assert [ask(url, key)[0] for _ in range(2)] == [200, 200]
    status, body, headers = ask(url, key)
    assert status == 402 and body["error"]["code"] == "budget_exceeded"
    assert "key 'wallet'" in body["error"]["message"] and "zero-cost" in body["error"]["message"]
    assert "over_budget" in headers["x-lmgate-route"]
    status, body, headers = ask(url, key, "tiered")  # paid -> free chain: the free tier answers
    assert status == 200 and headers["x-lmgate-deployment"].startswith("free")
    assert headers["x-lmgate-route"].startswith("tiered") and ":over_budget:" in headers["x-lmgate-route"]
    assert ask(url, key, "free")[0] == 200  # zero-cost models never count against the budget


def test_concurrent_requests_never_pass_the_budget(url, upstream):
    from tests.servers import Behaviour

    upstream.default = Behaviour(delay=0.2)  # every request is in flight while the others are admitted
    key = new_key(url, key_alias="burst", max_budget=5 * COST)["key"]
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(lambda _: ask(url, key)[0], range(20)))
    assert statuses.count(200) == 5 and statuses.count(402) == 15
    within(5, lambda: math.isclose(_info(url, key)["spend"], 5 * COST, rel_tol=1e-6))


def _info(url: str, key: str) -> dict:
    return admin(url, "/key/info", key=key).json()["info"]


def test_spend_is_settled_and_reported(gateway, tmp_path):
    url = gateway()
    team = admin(url, "/team/new", {"team_id": "t1", "team_alias": "writers", "max_budget": 1.0}).json()["team_id"]
    key = new_key(url, key_alias="author", team_id=team, max_budget=1.0, soft_budget=2.5 * COST)["key"]
    for _ in range(3):
        assert ask(url, key)[0] == 200
    assert ask(url, key, "free")[0] == 200
    within(5, lambda: math.isclose(_info(url, key)["spend"], 3 * COST, rel_tol=1e-6))
    assert _info(url, key)["model_spend"] == {"paid": pytest.approx(3 * COST)}
    team_row = admin(url, "/team/info", team_id=team).json()["team_info"]
    assert team_row["spend"] == pytest.approx(3 * COST)

    def spend_logs() -> list[dict]:
        return admin(url, "/spend/logs", api_key=key).json()

    within(5, lambda: len(spend_logs()) == 4)  # the spend log is written behind, in batches
    logs = spend_logs()
    assert {r["api_key"] for r in logs} == {new_key_hash(key)}
    assert sorted(r["spend"] for r in logs) == pytest.approx([0.0, COST, COST, COST])
    assert {r["team_id"] for r in logs} == {"t1"} and logs[-1]["total_tokens"] == 9 and logs[0]["model_group"] == "free"
    models = {r["model_group"]: r["model"] for r in logs}
    assert models["paid"] == "gpt-4o" and {r["call_type"] for r in logs} == {"acompletion"}
    assert {r["messages"] == {} and r["response"] == {} and r["api_base"] == "" for r in logs} == {True}
    report = admin(url, "/global/spend/report").json()
    assert len(report) == 1 and report[0]["group_by_day"].endswith("T00:00:00+00:00")
    (writers,) = report[0]["teams"]
    assert writers["team_name"] == "writers" and writers["total_spend"] == pytest.approx(3 * COST)
    assert {m["model"] for m in writers["metadata"]} == set(models.values())  # LiteLLM's: the upstream model
    assert {m["api_key"] for m in writers["metadata"]} == {new_key_hash(key)}
    by_key = admin(url, "/global/spend/report", group_by="api_key").json()  # LiteLLM's per-key shape, most spent first
    assert by_key[0]["api_key"] == new_key_hash(key) and by_key[0]["key_alias"] == "author"
    assert by_key[0]["total_cost"] == pytest.approx(3 * COST) and by_key[0]["total_output_tokens"] == sum(r["completion_tokens"] for r in logs)
    assert {d["model"]: d["total_cost"] for d in by_key[0]["model_details"]}["gpt-4o"] == pytest.approx(3 * COST)
    (one,) = admin(url, "/global/spend/report", api_key=key).json()  # ?api_key=: the same shape for one key
    assert one == by_key[0]
    today = datetime.now(UTC).date()
    start, end = today.isoformat(), (today + timedelta(days=1)).isoformat()
    summary = admin(url, "/spend/logs", api_key=key, start_date=start, end_date=end).json()  # LiteLLM's default
    assert [d["startTime"] for d in summary] == [start, end] and summary[1]["spend"] == 0
    assert summary[0]["spend"] == pytest.approx(3 * COST) and summary[0][new_key_hash(key)] == pytest.approx(3 * COST)
    assert summary[0]["models"]["gpt-4o"] == pytest.approx(3 * COST)
    rows = admin(url, "/spend/logs", api_key=key, start_date=start, end_date=end, summarize="false").json()
    assert len(rows) == 4 and {r["api_key"] for r in rows} == {new_key_hash(key)}
    assert admin(url, "/spend/logs", as_key=key).status_code == 403  # master key only
    (row,) = ok_json("usage", "--by", "key", "--config", str(tmp_path / "gate.yaml"))["rows"]
    assert row["group"] == "author" and row["requests"] == 4 and row["cost_usd"] == pytest.approx(3 * COST)
    assert row["period_spend_usd"] == pytest.approx(3 * COST) and row["max_budget_usd"] == 1.0
    (team_row,) = ok_json("usage", "--by", "team", "--config", str(tmp_path / "gate.yaml"))["rows"]
    assert team_row["group"] == "writers" and team_row["max_budget_usd"] == 1.0

    metrics = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {MASTER}"}).text
    assert f'lmgate_key_remaining_budget_usd{{key_alias="author"}} {1.0 - 3 * COST}' in metrics
    assert 'lmgate_team_spend_usd{team="writers"}' in metrics
    assert 'lmgate_soft_budget_crossed{name="author",scope="key"} 1.0' in metrics
    assert key not in metrics and new_key_hash(key) not in metrics

    assert ask(url, MASTER, "free")[0] == 200  # a request without a team: LiteLLM's "Unassigned Team"
    within(5, lambda: len(admin(url, "/global/spend/report").json()[0]["teams"]) == 2)
    assert {t["team_name"] for t in admin(url, "/global/spend/report").json()[0]["teams"]} == {"writers", "Unassigned Team"}


def new_key_hash(key: str) -> str:
    from lmgate.keys.model import hash_key

    return hash_key(key)


def test_budget_period_resets(gateway):
    url = gateway()
    key = new_key(url, key_alias="hourly", max_budget=COST, budget_duration="2s")["key"]
    assert ask(url, key)[0] == 200
    status, body, headers = ask(url, key)
    assert status == 402 and "resets in" in body["error"]["message"] and int(headers["retry-after"]) <= 2
    within(4, lambda: ask(url, key)[0] == 200)  # a new period starts from zero


def test_bad_budget_fields_are_refused(gateway):
    url = gateway()
    res = admin(url, "/key/generate", {"budget_duration": "soon"})
    assert res.status_code == 400 and res.json()["error"]["param"] == "budget_duration"
    res = admin(url, "/key/generate", {"model_max_budget": {"paid": "lots"}})
    assert res.status_code == 400 and res.json()["error"]["param"] == "model_max_budget"


def test_model_max_budget(url):
    key = new_key(url, key_alias="per-model", model_max_budget={"paid": {"budget_limit": COST, "time_period": "1d"}})["key"]
    assert ask(url, key)[0] == 200
    status, body, _ = ask(url, key)
    assert status == 402 and "key 'per-model' on model 'paid'" in body["error"]["message"]
    assert ask(url, key, "tiered")[0] == 200  # another alias: no budget there


def test_redis_down_refuses_paid_tiers_and_serves_free_ones(gateway, redis_server: RedisServer):
    url = gateway(redis_server.router_settings)
    wallet = new_key(url, key_alias="wallet", max_budget=10.0)["key"]
    limited = new_key(url, key_alias="limited", rpm_limit=2)["key"]
    assert ask(url, wallet)[0] == 200
    redis_server.kill()
    status, body, headers = ask(url, wallet)
    assert status == 429 and body["error"]["code"] == "budget_unavailable" and headers["retry-after"]
    assert ask(url, wallet, "tiered")[0] == 200  # falls to the free tier
    assert ask(url, wallet, "free")[0] == 200
    assert [ask(url, limited, "free")[0] for _ in range(3)] == [200, 200, 429]  # counted in this process
    metrics = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {MASTER}"}).text
    assert "lmgate_key_limits_fallback_total" in metrics
