"""Issue 14's small ones, through the real CLI (subprocess) and the real gateway: audit's literal
secrets, doctor on an upstream 5xx, `--base host:port`, drill on an unknown alias, cooldown skips as
their own metric, and /health's failure count right after the failure that started a cooldown."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import orjson
from aiohttp import web

from tests.ops_servers import FakeOllamaInstance, ollama_model
from tests.processes import LMGATE
from tests.routing_kit import Tiers, chain_config, chat, health, hops, tiers_fixture  # noqa: F401
from tests.servers import Behaviour, ServerThread
from tests.test_metrics import scrape, value
from tests.test_reload import wait_for


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LMGATE, *args], capture_output=True, text=True, timeout=60, env=dict(os.environ))


def test_audit_flags_short_literals_example_keys_and_url_passwords(tmp_path: Path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "model_list:\n"
        "  - {model_name: a, litellm_params: {model: openai/x, api_key: sk-abc}}\n"
        "  - {model_name: b, litellm_params: {model: openai/y, api_key: os.environ/B_KEY}}\n"
        "router_settings: {redis_password: pw, redis_url: 'redis://:s3cret@redis:6379'}\n"
        "general_settings:\n"
        "  master_key: sk-1234\n"
        "  database_url: postgresql://llm:hunter2@db:5432/litellm\n"
        "  alerting_url: postgresql://llm:${DB_PASSWORD}@db/x\n"
        "  max_tokens: 100\n"
    )
    cfg.chmod(0o600)
    res = run("audit", "--config", str(cfg), "--json")
    assert res.returncode == 1
    found = {(f["line"], f["kind"]) for f in orjson.loads(res.stdout)["findings"]}
    assert found == {
        (2, "LiteLLM's documented example key"),
        (4, "literal value in 'redis_password'"),
        (4, "password in a database/Redis URL"),
        (6, "LiteLLM's documented example key"),
        (7, "password in a database/Redis URL"),
    }
    assert "hunter2" not in res.stdout and "s3cret" not in res.stdout and "sk-1234" not in res.stdout


def test_doctor_calls_an_upstream_5xx_a_failing_server_not_a_wrong_base(tmp_path: Path):
    async def models(_request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "database is down"}}, status=500)

    def make_app() -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/models", models)
        return app

    srv = ServerThread(make_app).start()
    try:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(f"model_list: [{{model_name: a, litellm_params: {{model: openai/x, api_base: '{srv.url}/v1', api_key: k}}}}]\n")
        res = run("doctor", "--config", str(cfg), "--json")
    finally:
        srv.stop()
    assert res.returncode == 1
    findings = orjson.loads(res.stdout)["deployments"][0]["findings"]
    failed = [f for f in findings if f["level"] == "fail"]
    assert len(failed) == 1 and "answered 500: database is down" in failed[0]["message"]
    assert "failing (HTTP 500)" in failed[0]["fix"] and "api_base looks right" in failed[0]["fix"]


def test_catalog_ollama_takes_host_port_as_ollama_does():
    inst = FakeOllamaInstance(models=[ollama_model("qwen3:8b")]).start()
    try:
        host_port = inst.server.url.removeprefix("http://")
        res = run("catalog", "ollama", "--base", host_port, "--json")
    finally:
        inst.stop()
    assert res.returncode == 0, res.stderr
    out = orjson.loads(res.stdout)
    assert out["base"] == f"http://{host_port}" and [m["name"] for m in out["models"]] == ["qwen3:8b"]


def test_drill_on_an_unknown_alias_is_a_usage_error_naming_the_known_ones(tmp_path: Path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model_list: [{model_name: real, litellm_params: {model: mock/a}}]\n")
    res = run("drill", "nosuch", "--config", str(cfg))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "no model_name 'nosuch'" in lines[0] and "known: real" in lines[0]
    as_json = run("drill", "nosuch", "--config", str(cfg), "--json")
    assert as_json.returncode == 2 and orjson.loads(as_json.stdout)["ok"] is False


def test_a_cooldown_skip_is_its_own_metric_and_health_counts_the_failure_that_started_it(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, router="allowed_fails: 0\n  num_retries: 0\n  cooldown_time: 30"))
    tiers.cloud.script = [Behaviour("status", 503)]
    first = chat(gw)
    assert first.status_code == 200 and hops(first.headers["x-lmgate-route"])[0] == ("cloud-kimi", "503")
    row = health(gw)["cloud-kimi"]
    assert row["state"] == "cooling_down"
    assert row["failures_last_minute"] == 1, "the failure that started the cooldown must be counted"
    second = chat(gw)
    assert hops(second.headers["x-lmgate-route"]) == [("cloud-kimi", "cooldown"), ("vllm-qwen", "ok")]
    wait_for(lambda: value(scrape(gw), "lmgate_deployment_skips_total", deployment="cloud-kimi", reason="cooldown") == 1,
             "the cooldown skip in lmgate_deployment_skips_total")
    m = scrape(gw)
    assert value(m, "lmgate_upstream_failures_total", deployment="cloud-kimi", outcome="503") == 1
    assert value(m, "lmgate_upstream_failures_total", outcome="cooldown") == 0, "a skip is not an upstream failure"
