"""`lmgate doctor` against loopback Ollama and OpenAI-style servers, healthy and broken."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from lmgate.cli import app
from tests.ops_servers import (
    FakeOllamaInstance,
    FakeOpenAIServer,
    FakeOpenRouter,
    ollama_model,
    openrouter_model,
)
from tests.servers import closed_port

runner = CliRunner()


@pytest.fixture
def ollama() -> Iterator[FakeOllamaInstance]:
    inst = FakeOllamaInstance(
        models=[ollama_model("qwen3:8b"), ollama_model("qwen3:14b"), ollama_model("gpt-oss:120b-cloud", size=384)]
    ).start()
    yield inst
    inst.stop()


@pytest.fixture
def cloud() -> Iterator[FakeOllamaInstance]:
    """Shaped like ollama.com/api/tags: cloud names without the suffix, Bearer key required."""
    inst = FakeOllamaInstance(models=[ollama_model("gpt-oss:120b"), ollama_model("kimi-k2:1t")], api_key="cloud-key").start()
    yield inst
    inst.stop()


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    srv = FakeOpenAIServer(ids=["Qwen/Qwen2.5-7B-Instruct-AWQ", "Qwen/Qwen2.5-14B-Instruct"], api_key="right-key").start()
    yield srv
    srv.stop()


def doctor(tmp_path: Path, yaml_text: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml_text)
    result = runner.invoke(app, ["doctor", "--config", str(cfg), "--json", *args], env=env)
    return result.exit_code, orjson.loads(result.stdout)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["deployment"]: d for d in report["deployments"]}


def failing(dep: dict[str, Any], check: str) -> dict[str, Any]:
    found = [f for f in dep["findings"] if f["check"] == check and f["level"] == "fail"]
    assert found, dep["findings"]
    return found[0]


def entry(alias: str, model: str, base: str, extra: str = "") -> str:
    return f"  - model_name: {alias}\n    litellm_params:\n      model: {model}\n      api_base: {base}\n{extra}"


def test_diagnoses_each_broken_deployment(tmp_path, ollama, cloud, openai_server, monkeypatch):
    monkeypatch.delenv("LMGATE_TEST_UNSET_KEY", raising=False)
    monkeypatch.delenv("LMGATE_TEST_UNSET_BASE", raising=False)
    closed = closed_port()
    plain = openai_server.server.port  # plain HTTP where the config says https
    text = "model_list:\n" + "".join(
        [
            entry("local-ok", "ollama_chat/qwen3:8b", ollama.base),
            entry("local-missing", "ollama_chat/qwen3:32b", ollama.base),
            entry("doubled-api", "ollama_chat/qwen3:8b", ollama.base + "/api/api"),
            entry("openai-on-native", "openai/qwen3:8b", ollama.base + "/api"),
            entry("cloud-suffix", "ollama_chat/gpt-oss:120b-cloud", cloud.base, "      api_key: cloud-key\n"),
            entry("proxied-no-suffix", "ollama_chat/gpt-oss:120b", ollama.base),
            entry("cloud-no-key", "ollama_chat/kimi-k2:1t", cloud.base, "      api_key: os.environ/LMGATE_TEST_UNSET_KEY\n"),
            entry("vllm-bad-key", "hosted_vllm/Qwen/Qwen2.5-7B-Instruct-AWQ", openai_server.base, "      api_key: wrong-key\n"),
            entry("vllm-typo", "hosted_vllm/Qwen/Qwen2.5-7B-Instruct", openai_server.base, "      api_key: right-key\n"),
            entry("dead", "ollama_chat/qwen3:8b", f"http://127.0.0.1:{closed}"),
            entry("tls", "openai/gpt-4o", f"https://127.0.0.1:{plain}/v1", "      api_key: k\n"),
            entry("base-from-env", "ollama_chat/qwen3:8b", "os.environ/LMGATE_TEST_UNSET_BASE"),
        ]
    )
    code, report = doctor(tmp_path, text)
    deps = by_name(report)
    assert deps["local-ok"]["healthy"] is True
    f = failing(deps["local-missing"], "model")
    assert "qwen3:8b" in f["message"] and "qwen3:14b" in f["message"]  # closest names offered
    assert f["fix"].startswith("ollama pull qwen3:32b")
    f = failing(deps["doubled-api"], "path")
    assert f["fix"] == f"api_base: {ollama.base}"
    f = failing(deps["openai-on-native"], "path")
    assert "Ollama instance" in f["message"] and f["fix"].startswith(f"api_base: {ollama.base}/v1")
    assert failing(deps["cloud-suffix"], "model")["fix"] == "model: ollama_chat/gpt-oss:120b"
    assert failing(deps["proxied-no-suffix"], "model")["fix"] == "model: ollama_chat/gpt-oss:120b-cloud"
    assert failing(deps["cloud-no-key"], "env")["fix"].startswith("export LMGATE_TEST_UNSET_KEY=")
    assert failing(deps["cloud-no-key"], "auth")  # and the server refused to list models without it
    assert report["missing_env"] == ["LMGATE_TEST_UNSET_BASE", "LMGATE_TEST_UNSET_KEY"]
    assert failing(deps["base-from-env"], "env")["fix"] == "export LMGATE_TEST_UNSET_BASE=<url>"
    assert [f["check"] for f in deps["base-from-env"]["findings"]] == ["env"]  # no probe of a placeholder URL
    assert "401" in failing(deps["vllm-bad-key"], "auth")["message"]
    f = failing(deps["vllm-typo"], "model")
    assert f["fix"] == "model: hosted_vllm/Qwen/Qwen2.5-7B-Instruct-AWQ"
    f = failing(deps["dead"], "reach")
    assert "connect" in f["message"] and "ollama serve" in f["fix"]
    f = failing(deps["tls"], "reach")
    assert "tls" in f["message"] and f"http://127.0.0.1:{plain}/v1" in f["fix"]
    chains = {c["alias"]: c for c in report["chains"]}
    assert chains["local-ok"]["healthy"] and not chains["dead"]["healthy"]
    assert code == 1 and report["exit_code"] == 1


def test_chain_with_a_healthy_tier_passes_and_deep_times_inference(tmp_path, ollama, openai_server):
    text = (
        "model_list:\n"
        + entry("primary", "ollama_chat/missing:1b", ollama.base)
        + entry("backup", "ollama_chat/qwen3:8b", ollama.base)
        + entry("vllm", "hosted_vllm/Qwen/Qwen2.5-14B-Instruct", openai_server.base, "      api_key: right-key\n")
        + "router_settings:\n  fallbacks:\n    - primary: [backup, vllm]\n"
    )
    code, report = doctor(tmp_path, text, "--model", "primary", "--deep")
    assert code == 0, report
    deps = by_name(report)
    assert set(deps) == {"primary", "backup", "vllm"}
    assert not deps["primary"]["healthy"]
    for name in ("backup", "vllm"):
        assert deps[name]["latency_ms"] is not None and deps[name]["latency_ms"] > 0
        assert any(f["check"] == "inference" and f["level"] == "ok" for f in deps[name]["findings"])
    assert openai_server.chats == 1
    assert report["chains"] == [
        {"alias": "primary", "tiers": ["primary", "backup", "vllm"], "healthy_tiers": ["backup", "vllm"], "healthy": True}
    ]


def test_table_output_shows_fix_lines_and_exit_code(tmp_path, ollama):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("model_list:\n" + entry("gone", "ollama_chat/llama3.2", ollama.base))
    result = runner.invoke(app, ["doctor", "--config", str(cfg)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "fix:" in result.stdout and "ollama pull llama3.2" in result.stdout
    assert "cannot be served" in result.stdout


def test_config_errors_exit_2_with_file_and_line(tmp_path):
    code, report = doctor(tmp_path, "model_list:\n  - model_name: a\n    litellm_params: {model: nosuch/x}\n")
    assert code == 2
    assert any("config.yaml:" in e and "unknown provider" in e for e in report["config_errors"])
    code, report = doctor(tmp_path, "model_list:\n  - model_name: a\n    litellm_params: {model: mock/echo}\n", "--model", "zzz")
    assert code == 2 and "no such model_name" in report["config_errors"][0]


def test_openrouter_key_checked_on_its_key_endpoint(tmp_path):
    router = FakeOpenRouter(models=[openrouter_model("qwen/qwen3-coder:free")]).start()
    try:
        text = "model_list:\n" + "".join(
            [
                entry("or-ok", "openrouter/qwen/qwen3-coder:free", router.base, "      api_key: sk-or-v1-test\n"),
                entry("or-bad-key", "openrouter/qwen/qwen3-coder:free", router.base, "      api_key: sk-or-v1-wrong\n"),
                entry("or-retired", "openrouter/qwen/qwen-2.5-coder-32b-instruct:free", router.base, "      api_key: sk-or-v1-test\n"),
            ]
        )
        code, report = doctor(tmp_path, text)
    finally:
        router.stop()
    deps = by_name(report)
    assert deps["or-ok"]["healthy"]
    assert any(f["check"] == "auth" and "free tier: yes" in f["message"] for f in deps["or-ok"]["findings"])
    assert "No auth credentials found" in failing(deps["or-bad-key"], "auth")["message"]
    assert "lmgate catalog openrouter" in failing(deps["or-retired"], "model")["fix"]
    assert code == 1


def test_real_process_on_the_embedded_config(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LMGATE_CONFIG"}
    run = subprocess.run([sys.executable, "-m", "lmgate", "doctor", "--deep", "--json"], capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 0, run.stderr
    report = orjson.loads(run.stdout)
    assert {d["deployment"] for d in report["deployments"]} == {"mock-chat", "mock-slow", "mock-embed"}
    assert all(d["healthy"] and d["latency_ms"] is not None for d in report["deployments"])
    table = subprocess.run([sys.executable, "-m", "lmgate", "doctor"], capture_output=True, text=True, timeout=60, env=env)
    assert table.returncode == 0 and "every model has at least one healthy tier" in table.stdout
