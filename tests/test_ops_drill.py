"""`lmgate drill`: the real gateway in-process, tiers broken in turn, real upstreams on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from typer.testing import CliRunner

from lmgate.cli import app
from tests.ops_servers import FakeOllamaInstance, FakeOpenAIServer, ollama_model

runner = CliRunner()


@pytest.fixture
def vllm() -> Iterator[FakeOpenAIServer]:
    srv = FakeOpenAIServer(ids=["qwen"], api_key="vllm-secret").start()
    yield srv
    srv.stop()


@pytest.fixture
def ollama() -> Iterator[FakeOllamaInstance]:
    inst = FakeOllamaInstance(models=[ollama_model("qwen3:8b")]).start()
    yield inst
    inst.stop()


def chain_config(tmp_path, vllm: FakeOpenAIServer, ollama: FakeOllamaInstance, extra: str = "", settings: str = "") -> str:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"""\
model_list:
  - model_name: cloud-kimi
    litellm_params: {{model: openai/kimi, api_base: {vllm.base}, api_key: vllm-secret{extra}}}
  - model_name: vllm-qwen
    litellm_params: {{model: hosted_vllm/qwen, api_base: {vllm.base}, api_key: vllm-secret}}
  - model_name: ollama-qwen
    litellm_params: {{model: ollama_chat/qwen3:8b, api_base: {ollama.base}}}
general_settings:
  master_key: sk-drill-master
router_settings:
  fallbacks: [{{cloud-kimi: [vllm-qwen, ollama-qwen]}}]
{settings}"""
    )
    return str(cfg)


@pytest.mark.parametrize("failure", ["refused", "error"])
def test_each_tier_answers_in_turn(tmp_path, vllm, ollama, failure):
    cfg = chain_config(tmp_path, vllm, ollama)
    result = runner.invoke(app, ["drill", "cloud-kimi", "--config", cfg, "--failure", failure, "--json"])
    data = orjson.loads(result.stdout)
    assert result.exit_code == 0, data
    assert data["tiers"] == ["cloud-kimi", "vllm-qwen", "ollama-qwen"]
    rounds = data["rounds"]
    assert [r["broken"] for r in rounds] == [[], ["cloud-kimi"], ["cloud-kimi", "vllm-qwen"]]
    assert [r["answered_alias"] for r in rounds] == ["cloud-kimi", "vllm-qwen", "ollama-qwen"]
    assert all(r["status"] == 200 and r["ok"] and r["seconds"] < 5 for r in rounds)
    route = rounds[2]["route"]
    assert route.startswith("cloud-kimi:") and "vllm-qwen:" in route and "ollama-qwen:ok" in route
    # vLLM got exactly two requests (round 0 as cloud-kimi, round 1 as vllm-qwen): broken tiers never reach it
    assert vllm.chats == 2


def test_over_target_fails_with_advice(tmp_path, vllm, ollama):
    cfg = chain_config(tmp_path, vllm, ollama, extra=", timeout: 1.5", settings="  timeout: 0.5\n")
    result = runner.invoke(
        app, ["drill", "cloud-kimi", "--config", cfg, "--failure", "hang", "--target-seconds", "1", "--json"]
    )
    data = orjson.loads(result.stdout)
    assert result.exit_code == 1
    slow = data["rounds"][1]  # cloud-kimi hangs for its own timeout (1.5 s), then vllm-qwen answers
    assert slow["answered_alias"] == "vllm-qwen" and slow["seconds"] >= 1.4
    assert "over the 1 s target" in slow["problem"] and "timeout" in slow["problem"]
    fast = data["rounds"][2]  # vllm-qwen inherits router_settings.timeout 0.5 s: 1.5 + 0.5 s
    assert fast["answered_alias"] == "ollama-qwen" and 1.9 <= fast["seconds"] < 5
    assert data["rounds"][0]["ok"] is True


def test_wrong_tier_and_broken_backup_are_reported(tmp_path, vllm, ollama):
    ollama.models.clear()  # the last tier really is broken: its model is missing
    cfg = chain_config(tmp_path, vllm, ollama)
    result = runner.invoke(app, ["drill", "cloud-kimi", "--config", cfg], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "does not hold" in result.stdout
    assert "the gateway answered 404" in result.stdout and "lmgate doctor --model cloud-kimi" in result.stdout


def test_alias_without_chain_or_unknown(tmp_path, vllm, ollama):
    cfg = chain_config(tmp_path, vllm, ollama)
    lone = runner.invoke(app, ["drill", "ollama-qwen", "--config", cfg, "--json"])
    assert lone.exit_code == 2 and "no fallback chain" in orjson.loads(lone.stdout)["problem"]
    unknown = runner.invoke(app, ["drill", "nope", "--config", cfg, "--json"])
    assert unknown.exit_code == 2 and "known: cloud-kimi" in orjson.loads(unknown.stdout)["problem"]
