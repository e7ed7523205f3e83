"""`lmgate ollama ps|pull|rm` against a loopback server speaking Ollama's model-management API."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from typer.testing import CliRunner

from lmgate.cli import app
from tests.ops_servers import FakeOllamaInstance, ollama_model
from tests.servers import free_port

runner = CliRunner()


@pytest.fixture
def inst() -> Iterator[FakeOllamaInstance]:
    i = FakeOllamaInstance(
        models=[ollama_model("qwen3:8b"), ollama_model("llava:7b", size=4_700_000_000)],
        loaded=["qwen3:8b"],
        pullable={"gemma3:4b": 3_338_801_804},
    ).start()
    yield i
    i.stop()


def test_ps_by_url_and_by_config_alias(tmp_path, inst):
    result = runner.invoke(app, ["ollama", "ps", "--instance", inst.base + "/api", "--json"])
    assert result.exit_code == 0, result.stderr
    data = orjson.loads(result.stdout)
    assert data["instance"] == inst.base
    assert [m["name"] for m in data["models"]] == ["qwen3:8b"]
    assert data["models"][0]["context_length"] == 4096 and data["models"][0]["size_vram"] > 0
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"model_list:\n  - model_name: reasoning\n    litellm_params: {{model: ollama_chat/qwen3:8b, api_base: {inst.base}}}\n")
    table = runner.invoke(app, ["ollama", "ps", "-i", "reasoning", "--config", str(cfg)], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "qwen3:8b" in table.stdout and "4096" in table.stdout
    unknown = runner.invoke(app, ["ollama", "ps", "-i", "voice", "--config", str(cfg)])
    assert unknown.exit_code == 2 and f"known instances: {inst.base} (reasoning)" in unknown.stderr


def test_pull_streams_progress_until_success(inst):
    result = runner.invoke(app, ["ollama", "pull", "--instance", inst.base, "gemma3:4b"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert "pulling manifest" in result.stdout and "writing manifest" in result.stdout
    assert "pulled gemma3:4b" in result.stdout
    assert "gemma3:4b" in inst.names()
    again = runner.invoke(app, ["ollama", "pull", "-i", inst.base, "gemma3:4b", "--json"])
    assert orjson.loads(again.stdout)["status"] == "success"


def test_pull_failures_say_what_to_do(inst):
    bad = runner.invoke(app, ["ollama", "pull", "-i", inst.base, "no-such-model:1b"])
    assert bad.exit_code == 3
    assert "file does not exist" in bad.stderr and "check the name" in bad.stderr  # error line in a 200 stream
    inst.pull_status_error = True
    bad = runner.invoke(app, ["ollama", "pull", "-i", inst.base, "no-such-model:1b"])
    assert bad.exit_code == 3 and "HTTP 500" in bad.stderr
    dead = runner.invoke(app, ["ollama", "pull", "-i", f"127.0.0.1:{free_port()}", "qwen3:8b"])
    assert dead.exit_code == 3 and "connect failure" in dead.stderr and "ollama serve" in dead.stderr


def test_rm_deletes_and_reports_missing(inst):
    result = runner.invoke(app, ["ollama", "rm", "-i", inst.base, "llava:7b", "--json"])
    assert result.exit_code == 0 and orjson.loads(result.stdout)["deleted"] is True
    assert "llava:7b" not in inst.names()
    assert ("DELETE", "/api/delete") in inst.seen
    again = runner.invoke(app, ["ollama", "rm", "-i", inst.base, "llava:7b"])
    assert again.exit_code == 3 and "is not on" in again.stderr and "lmgate catalog ollama" in again.stderr


def test_key_from_config_is_sent(tmp_path):
    cloud = FakeOllamaInstance(models=[ollama_model("gpt-oss:120b")], loaded=["gpt-oss:120b"], api_key="k-123").start()
    try:
        assert runner.invoke(app, ["ollama", "ps", "-i", cloud.base]).exit_code == 3  # no key: 401
        cfg = tmp_path / "config.yaml"
        cfg.write_text(f"model_list:\n  - model_name: cloud\n    litellm_params: {{model: ollama_chat/gpt-oss:120b, api_base: {cloud.base}, api_key: k-123}}\n")
        ok = runner.invoke(app, ["ollama", "ps", "-i", "cloud", "--config", str(cfg), "--json"])
        assert ok.exit_code == 0 and orjson.loads(ok.stdout)["models"][0]["name"] == "gpt-oss:120b"
    finally:
        cloud.stop()


def test_broken_config_is_reported_not_misread(tmp_path, inst):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("model_list:\n  - model_name: reasoning\n    litellm_params: {model: nosuch/qwen3:8b}\n")
    result = runner.invoke(app, ["ollama", "ps", "-i", "reasoning", "--config", str(cfg)])
    assert result.exit_code == 2 and "unknown provider 'nosuch'" in result.stderr
