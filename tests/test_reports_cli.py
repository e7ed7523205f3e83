"""`lmgate usage` and `lmgate logs tail` over a request log written by a real gateway."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openai
import orjson
import pytest

from tests.servers import FakeOpenAIUpstream

LMGATE = [sys.executable, "-m", "lmgate"]


@pytest.fixture
def logged(tmp_path: Path, upstream: FakeOpenAIUpstream, make_gateway) -> Path:
    """A config file, and a request log holding a known set of requests made through the gateway."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"""
model_list:
  - model_name: paid
    litellm_params: {{model: openai/gpt-4o, api_base: "{upstream.base}", api_key: sk-test}}
  - model_name: local
    litellm_params: {{model: mock/echo}}
router_settings: {{num_retries: 0}}
general_settings:
  request_log_path: {tmp_path / "logs" / "requests.jsonl"}
""")
    from lmgate.config import load_config
    from lmgate.server.app import create_app
    from tests.servers import ServerThread

    config = load_config(cfg)
    gw = ServerThread(lambda: create_app(config)).start()
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0)
    for _ in range(4):
        client.chat.completions.create(model="paid", messages=[{"role": "user", "content": "hi"}])
    for _ in range(2):
        client.chat.completions.create(model="local", messages=[{"role": "user", "content": "a b c"}])
    from tests.servers import Behaviour

    upstream.script = [Behaviour("status", 500)]
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="paid", messages=[{"role": "user", "content": "hi"}])
    gw.stop()
    return cfg


def lmgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LMGATE, *args], capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})


def test_usage_by_provider_json(logged):
    res = lmgate("usage", "--config", str(logged), "--last", "1h", "--by", "provider", "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["group"]: r for r in orjson.loads(res.stdout)["rows"]}
    assert rows["openai"]["requests"] == 5 and rows["openai"]["errors"] == 1
    assert rows["openai"]["prompt_tokens"] == 20 and rows["openai"]["completion_tokens"] == 16
    # gpt-4o list price: $2.50 / 1M input, $10 / 1M output
    assert rows["openai"]["cost_usd"] == pytest.approx(20 * 2.5e-6 + 16 * 10e-6)
    assert rows["mock"]["requests"] == 2 and rows["mock"]["cost_usd"] == 0


def test_usage_table_by_model(logged):
    res = lmgate("usage", "--config", str(logged), "--last", "24h", "--by", "model")
    assert res.returncode == 0
    assert "paid" in res.stdout and "local" in res.stdout and "p95 ms" in res.stdout


def test_usage_rejects_bad_window(logged):
    res = lmgate("usage", "--config", str(logged), "--last", "yesterday")
    assert res.returncode == 2 and "15m, 1h" in res.stderr


def test_logs_tail_filters(logged):
    res = lmgate("logs", "tail", "--config", str(logged), "--status", "5xx", "--json")
    lines = [orjson.loads(x) for x in res.stdout.splitlines()]
    assert len(lines) == 1 and lines[0]["status"] == 500 and lines[0]["requested_model"] == "paid"
    res = lmgate("logs", "tail", "--config", str(logged), "--model", "local", "-n", "5")
    assert res.returncode == 0 and res.stdout.count("local -> local") == 2
