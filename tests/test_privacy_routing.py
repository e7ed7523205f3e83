"""Data-policy routing, provider-wide free quotas and Ollama Cloud usage limits, through the real server
with loopback fakes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai
import orjson
import pytest
from typer.testing import CliRunner

from lmgate.cli import app
from tests.keys_kit import lmgate
from tests.ops_servers import FakeOpenRouter
from tests.routing_kit import MASTER, MSGS, Tiers, chat, health, hops, remote_deployments, sdk, tiers_fixture
from tests.servers import Behaviour, ServerThread
from tests.wait import wait_for

__all__ = ["tiers_fixture"]
Gateway = Callable[[str], ServerThread]
STRICT = {"x-lmgate-privacy": "strict"}


def policy_config(t: Tiers, router: str = "") -> str:
    """cloud-kimi (trains) -> remote-qwen (an OpenRouter deployment without a policy: unknown) -> ollama-qwen (local)."""
    return f"""
model_list:{remote_deployments(t)}
  - model_name: ollama-qwen
    litellm_params: {{model: openai/qwen2.5:3b, api_base: {t.cpu.base}}}
router_settings:
  retry_backoff_base: 0.01
  {router}
  fallbacks: [{{cloud-kimi: [remote-qwen, ollama-qwen]}}, {{remote-qwen: [cloud-kimi]}}]
general_settings:
  master_key: {MASTER}
"""


def test_strict_header_never_reaches_a_keeping_deployment_even_by_fallback(tiers: Tiers, make_gateway: Gateway) -> None:
    gw = make_gateway(policy_config(tiers))
    r = httpx.post(
        gw.url + "/v1/chat/completions", json={"model": "cloud-kimi", "messages": MSGS},
        headers={"Authorization": f"Bearer {MASTER}", **STRICT}, timeout=15,
    )
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "from cpu"
    assert hops(r.headers["x-lmgate-route"]) == [("cloud-kimi", "policy-trains"), ("remote-qwen", "policy-unknown"), ("ollama-qwen", "ok")]
    assert tiers.cloud.calls == 0 and tiers.vllm.calls == 0
    # without the header the chain's head answers
    assert chat(gw).json()["choices"][0]["message"]["content"] == "from cloud"
    rows = health(gw)
    assert (rows["cloud-kimi"]["data_policy"], rows["remote-qwen"]["data_policy"], rows["ollama-qwen"]["data_policy"]) == ("trains", "unknown", "none")


def test_nothing_left_is_a_403_in_the_clients_protocol(tiers: Tiers, make_gateway: Gateway) -> None:
    gw = make_gateway(policy_config(tiers))
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=MASTER, max_retries=0, timeout=15, default_headers=STRICT)
    with pytest.raises(openai.PermissionDeniedError) as err:
        client.chat.completions.create(model="remote-qwen", messages=MSGS)  # type: ignore[arg-type]
    assert "strict data privacy" in str(err.value) and "remote-qwen (unknown)" in str(err.value)
    ollama = httpx.post(gw.url + "/api/chat", json={"model": "remote-qwen", "messages": MSGS, "stream": False},
                        headers={"Authorization": f"Bearer {MASTER}", **STRICT}, timeout=15)
    assert ollama.status_code == 403 and "strict data privacy" in ollama.json()["error"]
    assert tiers.cloud.calls == 0 and tiers.vllm.calls == 0
    assert health(gw)["remote-qwen"]["state"] == "healthy"  # a policy refusal is never the upstream's failure
    bad = httpx.post(gw.url + "/v1/chat/completions", json={"model": "remote-qwen", "messages": MSGS},
                     headers={"Authorization": f"Bearer {MASTER}", "x-lmgate-privacy": "maybe"}, timeout=15)
    assert bad.status_code == 400 and tiers.vllm.calls == 0


def test_strict_alias_with_its_only_private_tier_cooling_down_waits_never_leaks(tiers: Tiers, make_gateway: Gateway) -> None:
    gw = make_gateway(policy_config(tiers, "strict_aliases: [cloud-kimi]\n  cooldown_time: 30\n  allowed_fails: 0"))
    tiers.cpu.script = [Behaviour(kind="status", status=503)]
    r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "cloud-kimi", "messages": MSGS},
                   headers={"Authorization": f"Bearer {MASTER}"}, timeout=15)
    assert r.status_code == 503  # the private tier failed; nothing else may take it
    r = chat(gw)
    assert r.status_code == 503 and "cooling down" in r.text
    assert ("ollama-qwen", "cooldown") in hops(r.headers["x-lmgate-route"])
    assert tiers.cloud.calls == 0 and tiers.vllm.calls == 0
    assert chat(gw, model="remote-qwen").status_code == 200  # not a strict alias: its chain is open


def test_strict_requests_to_openrouter_deny_data_collection(tiers: Tiers, make_gateway: Gateway) -> None:
    cfg = policy_config(tiers).replace("api_key: k}", "api_key: k}\n    model_info: {data_policy: none}")
    gw = make_gateway(cfg)
    r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "remote-qwen", "messages": MSGS},
                   headers={"Authorization": f"Bearer {MASTER}", **STRICT}, timeout=15)
    assert r.status_code == 200, r.text
    assert tiers.vllm.seen[-1].body["provider"] == {"data_collection": "deny"}
    assert chat(gw, model="remote-qwen").status_code == 200
    assert "provider" not in tiers.vllm.seen[-1].body


def test_openrouter_free_quota_is_account_wide_and_skipped_before_sending(make_gateway: Gateway) -> None:
    fake = FakeOpenRouter().start()
    try:
        cfg = f"""
model_list:
  - model_name: free-a
    litellm_params: {{model: openrouter/a/one:free, api_base: {fake.base}, api_key: {fake.api_key}}}
  - model_name: free-b
    litellm_params: {{model: openrouter/b/two:free, api_base: {fake.base}, api_key: {fake.api_key}}}
router_settings:
  openrouter_free_limits: {{rpm: 20, rpd: 1000, rpd_free_tier: 3}}
general_settings:
  master_key: {MASTER}
"""
        gw = make_gateway(cfg)
        wait_for(lambda: health(gw)["free-a"]["free_quota"]["limits_from"] == "key check", "the key check")
        assert health(gw)["free-a"]["free_quota"]["is_free_tier"] is True
        for model in ("free-a", "free-b", "free-a"):
            assert chat(gw, model=model).status_code == 200
        r = chat(gw, model="free-b")
        assert r.status_code == 429 and fake.chats == 3  # skipped before sending
        assert hops(r.headers["x-lmgate-route"]) == [("free-b", "quota-free-rpd")]
        row = health(gw)["free-a"]
        assert row["state"] == "over_quota" and row["free_quota"]["rpd"] == [3, 3]
        assert fake.api_key not in str(health(gw))
    finally:
        fake.stop()


def test_ollama_cloud_session_limit_cools_for_the_configured_time(tiers: Tiers, make_gateway: Gateway) -> None:
    gw = make_gateway(policy_config(tiers, "ollama_cloud_cooldowns: {session: 120, weekly: 600}"))
    body = {"error": {"message": "you (bob) have reached your session usage limit, upgrade for higher limits"}}
    tiers.cloud.script = [Behaviour(kind="status", status=429, body=body)]
    assert sdk(gw).chat.completions.create(model="cloud-kimi", messages=MSGS).choices[0].message.content == "from vllm"  # type: ignore[arg-type]
    row = health(gw)["cloud-kimi"]
    assert row["state"] == "cooling_down" and row["usage_limit"] == "session"
    assert 100 < row["cooldown_remaining_s"] <= 120
    assert tiers.cloud.calls == 1


def test_a_strict_key_and_a_strict_team_never_reach_a_trains_deployment(tiers: Tiers, make_gateway: Gateway, tmp_path) -> None:
    from tests.keys_kit import admin

    def new_key(url: str, **fields: object) -> dict[str, str]:
        res = admin(url, "/key/generate", fields, as_key=MASTER)
        assert res.status_code == 200, res.text
        return dict(res.json())

    cfg = policy_config(tiers).replace(
        f"  master_key: {MASTER}", f"  master_key: {MASTER}\n  database_url: sqlite:///{tmp_path / 'keys.db'}"
    )
    gw = make_gateway(cfg)
    strict = new_key(gw.url, metadata={"privacy": "strict"}, **{"key_alias": "private-app"})["key"]
    team = admin(gw.url, "/team/new", {"team_alias": "legal", "metadata": {"privacy": "strict"}}, as_key=MASTER).json()["team_id"]
    member = new_key(gw.url, team_id=team)["key"]
    open_key = new_key(gw.url)["key"]
    for key, expected in ((strict, "from cpu"), (member, "from cpu"), (open_key, "from cloud")):
        r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "cloud-kimi", "messages": MSGS},
                       headers={"Authorization": f"Bearer {key}", "x-lmgate-privacy": "standard"}, timeout=15)
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == expected  # a header never loosens a key
    assert tiers.cloud.calls == 1 and tiers.vllm.calls == 0


def test_lmgate_models_shows_the_data_policy_the_server_routes_by(tiers: Tiers, make_gateway: Gateway, tmp_path) -> None:
    cfg = tmp_path / "gate.yaml"
    cfg.write_text(policy_config(tiers).replace("model_list:\n", f"""model_list:
  - model_name: cloud-oss
    litellm_params: {{model: ollama_chat/gpt-oss:120b-cloud, api_base: {tiers.cpu.base}}}
  - model_name: kept
    litellm_params: {{model: openai/kept, api_base: {tiers.cpu.base}}}
    model_info: {{data_policy: retains}}
""", 1))
    ran = lmgate("models", "--config", str(cfg), "--json")
    assert ran.returncode == 0, ran.stderr
    shown = {r["deployment"]: r["data_policy"] for r in orjson.loads(ran.stdout)["models"]}
    gw = make_gateway(cfg)
    served = {name: row["data_policy"] for name, row in health(gw).items()}
    assert shown == served
    assert sorted(set(shown.values())) == ["none", "retains", "trains", "unknown"]
    by_alias = {r["alias"]: r["data_policy"] for r in orjson.loads(ran.stdout)["models"]}
    # a loopback Ollama's -cloud model is relayed to Ollama Cloud; OpenRouter without a policy: unknown
    assert by_alias == {"cloud-oss": "unknown", "kept": "retains", "cloud-kimi": "trains", "remote-qwen": "unknown",
                        "ollama-qwen": "none"}
    table = CliRunner().invoke(app, ["models", "--config", str(cfg)], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "data policy" in table.stdout
    rows = {cells[1]: cells[-2] for line in table.stdout.splitlines()
            if len(cells := [c.strip() for c in line.split("│")]) > 3}
    assert {alias: rows[alias] for alias in by_alias} == by_alias
