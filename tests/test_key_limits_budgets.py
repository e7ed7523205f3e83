"""Budgets and the Redis fallback through the real gateway: a soft_budget crossing is logged once and
sets its metric; a team budget shared by two keys is never overspent by more than one reservation under
concurrency; Redis going away mid-run gives one warning per outage (not per request), moves the fallback
metric and never a 5xx."""

from __future__ import annotations

import concurrent.futures
import logging
import re

import httpx
import pytest

from tests.keys_kit import MASTER, admin, new_key, within
from tests.limits_kit import COST, ask, limits_config
from tests.redis_server import RedisServer, redis_server_fixture, redis_session_fixture  # noqa: F401
from tests.servers import Behaviour


def _start(make_gateway, upstream, tmp_path, router: str = "") -> str:
    config = limits_config(upstream.base, f"sqlite:///{tmp_path / 'keys.db'}", str(tmp_path / "requests.jsonl"), router)
    return str(make_gateway(config).url)


@pytest.fixture(params=["memory", "redis"])
def url(request, make_gateway, upstream, tmp_path) -> str:
    router = request.getfixturevalue("redis_server").router_settings if request.param == "redis" else ""
    return _start(make_gateway, upstream, tmp_path, router)


def _metrics(url: str) -> str:
    return httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {MASTER}"}, timeout=10).text


def _sample(text: str, name: str, labels: str) -> float:
    found = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def _shared(url: str) -> dict:
    return dict(httpx.get(url + "/health/readiness", timeout=5).json()["shared_state"])


def _lines(caplog: pytest.LogCaptureFixture, logger: str, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and text in r.getMessage()]


def test_soft_budget_crossing_is_logged_once_and_sets_its_metric(url, caplog):
    caplog.set_level(logging.WARNING, logger="lmgate.limits")
    team = admin(url, "/team/new", {"team_id": "crew", "team_alias": "crew", "soft_budget": 2.5 * COST}).json()["team_id"]
    key = new_key(url, key_alias="thrifty", team_id=team, max_budget=1.0, soft_budget=1.5 * COST)["key"]
    assert ask(url, key)[0] == 200
    metrics = _metrics(url)
    assert _sample(metrics, "lmgate_soft_budget_crossed", 'name="thrifty",scope="key"') == 0.0
    assert not _lines(caplog, "lmgate.limits", "soft budget crossed")
    for _ in range(4):  # the key crosses at the 2nd request, the team at the 3rd; both keep spending
        assert ask(url, key)[0] == 200
    crossed = _lines(caplog, "lmgate.limits", "soft budget crossed")
    assert len([m for m in crossed if "key 'thrifty'" in m]) == 1, crossed
    assert len([m for m in crossed if "team 'crew'" in m]) == 1, crossed
    assert key not in " ".join(crossed)
    metrics = _metrics(url)
    assert _sample(metrics, "lmgate_soft_budget_crossed", 'name="thrifty",scope="key"') == 1.0
    assert _sample(metrics, "lmgate_soft_budget_crossed", 'name="crew",scope="team"') == 1.0
    assert ask(url, key, "free")[0] == 200  # a zero-cost request settles nothing: still one line each
    assert len(_lines(caplog, "lmgate.limits", "soft budget crossed")) == 2


def test_a_team_budget_shared_by_two_keys_is_never_overspent(url, upstream):
    upstream.default = Behaviour(delay=0.2)  # every request is in flight while the others are admitted
    team = admin(url, "/team/new", {"team_id": "pool", "team_alias": "pool", "max_budget": 5 * COST}).json()["team_id"]
    keys = [new_key(url, key_alias=alias, team_id=team)["key"] for alias in ("left", "right")]
    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(lambda i: ask(url, keys[i % 2]), range(40)))
    statuses = [status for status, _, _ in answers]
    assert statuses.count(200) + statuses.count(402) == 40
    assert 5 <= statuses.count(200) <= 6  # the budget fits 5; at most one reservation more
    assert upstream.chats == statuses.count(200)  # the refused ones never reached the paid upstream
    refused = next(body for status, body, _ in answers if status == 402)
    assert refused["error"]["code"] == "budget_exceeded" and "team 'pool'" in refused["error"]["message"]

    def team_spend() -> float:
        return float(admin(url, "/team/info", team_id=team).json()["team_info"]["spend"])

    within(10, lambda: team_spend() >= 5 * COST - 1e-9)  # the spend log settles it behind the requests
    assert team_spend() <= 6 * COST + 1e-9
    assert {ask(url, k, "free")[0] for k in keys} == {200}  # zero-cost models still serve both keys


def _outage(url: str, keys: tuple[str, str]) -> list[tuple[str, int, str]]:
    """Six requests while Redis is down: (model, status, error code)."""
    wallet, limited = keys
    out = []
    for model, key in [("paid", wallet), ("free", wallet), ("free", limited)] * 2:
        status, body, _ = ask(url, key, model)
        out.append((model, status, (body.get("error") or {}).get("code") or ""))
    return out


def test_redis_going_away_warns_once_per_outage_moves_the_fallback_metric_and_never_fails(
    make_gateway, upstream, tmp_path, redis_server: RedisServer, caplog
):
    caplog.set_level(logging.WARNING, logger="lmgate.limits")
    url = _start(make_gateway, upstream, tmp_path, redis_server.router_settings)
    keys = (new_key(url, key_alias="wallet", max_budget=10.0)["key"], new_key(url, key_alias="limited", rpm_limit=100)["key"])
    assert ask(url, keys[0])[0] == 200 and ask(url, keys[1], "free")[0] == 200
    fallback = 'lmgate_key_limits_fallback_total'
    assert _sample(_metrics(url), fallback, 'backend="memory"') == 0.0

    redis_server.kill()
    seen = _outage(url, keys)
    assert all(status < 500 for _, status, _ in seen), seen
    assert {(m, s, c) for m, s, c in seen if m == "paid"} == {("paid", 429, "budget_unavailable")}
    assert {s for m, s, _ in seen if m == "free"} == {200}
    assert len(_lines(caplog, "lmgate.limits", "Redis is unreachable")) == 1  # not one per request
    assert _sample(_metrics(url), fallback, 'backend="memory"') == 6.0  # every admission during it

    redis_server.start()  # back, and then gone again: a second outage, a second warning
    within(10, lambda: _shared(url)["connected"] is True, step=0.05)
    assert ask(url, keys[0])[0] == 200  # shared again: the budget answers from Redis
    assert len(_lines(caplog, "lmgate.limits", "Redis is unreachable")) == 1
    before = _sample(_metrics(url), fallback, 'backend="memory"')
    redis_server.kill()
    seen = _outage(url, keys)
    assert all(status < 500 for _, status, _ in seen), seen
    assert len(_lines(caplog, "lmgate.limits", "Redis is unreachable")) == 2
    assert _sample(_metrics(url), fallback, 'backend="memory"') == before + 6


def test_a_hung_redis_costs_a_request_at_most_the_timeout(make_gateway, upstream, tmp_path, redis_server: RedisServer):
    import os
    import signal
    import time

    from lmgate.redis_link import TIMEOUT_S

    url = _start(make_gateway, upstream, tmp_path, redis_server.router_settings)
    limited = new_key(url, key_alias="limited", rpm_limit=100)["key"]
    assert ask(url, limited, "free")[0] == 200
    assert redis_server.proc is not None
    os.kill(redis_server.proc.pid, signal.SIGSTOP)  # up but answering nothing
    try:
        started = time.monotonic()
        status, _, _ = ask(url, limited, "free")
        took = time.monotonic() - started
        assert status == 200 and took < TIMEOUT_S + 1.0, took  # the script connection's watchdog gave up
        assert _shared(url)["connected"] is False
        started = time.monotonic()
        assert ask(url, limited, "free")[0] == 200
        assert time.monotonic() - started < TIMEOUT_S  # while it is down, nothing waits on Redis
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
