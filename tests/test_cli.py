"""The `lmgate` command as a user runs it: real processes, real ports."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import openai

from tests.processes import LMGATE, serving
from tests.servers import free_port

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LMGATE, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})



def test_validate_exit_codes(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("model_list:\n  - model_name: a\n    litellm_params: {model: mock/echo}\n")
    ok = run("validate", "--config", str(good))
    assert ok.returncode == 0 and "valid" in ok.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_key: os.environ/LMGATE_TEST_UNSET_VAR\n")
    env = {k: v for k, v in os.environ.items() if k != "LMGATE_TEST_UNSET_VAR"}
    res = subprocess.run([*LMGATE, "validate", "--config", str(bad)], capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 1
    assert f"{bad}:5" in res.stderr and "LMGATE_TEST_UNSET_VAR" in res.stderr
    assert "Traceback" not in res.stderr


def test_validate_reads_lmgate_config_env(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model_list: [{model_name: x, litellm_params: {model: mock/echo}}]\n")
    res = run("validate", env={"LMGATE_CONFIG": str(cfg)})
    assert res.returncode == 0 and "1 models" in res.stdout


def test_models_table_shows_routes_but_no_keys(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "model_list:\n"
        "  - model_name: vllm-qwen\n"
        "    litellm_params: {model: hosted_vllm/Qwen/Qwen2.5-7B, api_base: 'http://gpu:8000/v1', api_key: sk-topsecret-1234567, timeout: 30}\n"
    )
    res = subprocess.run([*LMGATE, "models", "--config", str(cfg)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "COLUMNS": "200"})
    assert res.returncode == 0
    assert "vllm-qwen" in res.stdout and "hosted_vllm/Qwen/Qwen2.5-7B" in res.stdout and "gpu:8000" in res.stdout
    assert "sk-topsecret" not in res.stdout


def test_example_mock_config_validates():
    assert run("validate", "--config", str(EXAMPLES / "mock-only.yaml")).returncode == 0


def test_serve_embedded_default_answers_the_openai_sdk():
    with serving() as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
        out = client.chat.completions.create(model="mock-chat", messages=[{"role": "user", "content": "ping pong"}])
        assert out.choices[0].message.content == "echo: ping pong"
        assert out.usage is not None and out.usage.completion_tokens == 3
        stream = client.chat.completions.create(
            model="mock-chat", messages=[{"role": "user", "content": "a b"}], stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: a b"
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 5
        emb = client.embeddings.create(model="mock-embed", input="hello")
        assert len(emb.data[0].embedding) == 16
        assert [m.id for m in client.models.list()] == ["mock-chat", "mock-slow", "mock-embed"]


def test_serve_with_workers_and_master_key():
    cfg = str(EXAMPLES / "mock-only.yaml")
    with serving("--config", cfg, "--workers", "2") as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="sk-demo", max_retries=0)
        for _ in range(6):
            out = client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "x"}], max_tokens=1)
            assert out.choices[0].finish_reason == "length"
        assert httpx.get(url + "/v1/models").status_code == 401


def test_serve_refuses_an_invalid_config(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_list: [{model_name: a, litellm_params: {model: nosuch/x}}]\n")
    res = run("serve", "--config", str(bad), "--port", str(free_port()))
    assert res.returncode == 2 and "unknown provider" in res.stderr  # 2: a config the command cannot use


K3S_ENV = {
    "OLLAMA_API_KEY": "dummy", "OPENAI_API_KEY": "dummy", "GROQ_API_KEY": "dummy", "GEMINI_API_KEY": "dummy",
    "MISTRAL_API_KEY": "dummy", "REDIS_HOST": "redis", "DATABASE_URL": "postgresql://u:p@db/lmgate",
    "LITELLM_MASTER_KEY": "sk-dummy",
}


def test_k3s_gatekeeper_example_validates_with_dummy_env():
    res = run("validate", "--config", str(EXAMPLES / "k3s-gatekeeper.yaml"), env=K3S_ENV)
    assert res.returncode == 0, res.stderr
    assert "13 models, 13 deployments" in res.stdout


def test_k3s_gatekeeper_example_names_its_missing_variables():
    env = {k: v for k, v in os.environ.items() if k not in K3S_ENV}
    res = subprocess.run([*LMGATE, "validate", "--config", str(EXAMPLES / "k3s-gatekeeper.yaml")],
                         capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 1
    assert "OLLAMA_API_KEY" in res.stderr and "(cloud-kimi)" in res.stderr


def test_sigterm_flushes_the_request_log(tmp_path):
    cfg = tmp_path / "c.yaml"
    log = tmp_path / "requests.jsonl"
    cfg.write_text(
        "model_list: [{model_name: demo, litellm_params: {model: mock/echo}}]\n"
        f"general_settings: {{request_log_path: '{log}', request_log_flush_seconds: 60}}\n"
    )
    with serving("--config", str(cfg), "--workers", "2") as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
        for _ in range(7):
            client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "x"}])
    # Nothing is flushed before 60 s: only the shutdown flush (serving() sends SIGTERM) can have written these.
    lines = [ln for f in tmp_path.glob("requests*.jsonl") for ln in f.read_text().splitlines()]
    assert len(lines) == 7
    # each worker writes its own file, named by the WorkerIdentity serve hands it
    assert {f.name for f in tmp_path.glob("requests*.jsonl")} <= {"requests.w1.jsonl", "requests.w2.jsonl"}


def test_repeated_stop_signals_do_not_cut_the_shutdown_flush(tmp_path):
    """Ctrl-C reaches every process of the group and the parent forwards SIGTERM as well, so a worker
    sees several stop signals; one arriving while the request log flushes must not abort the flush."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "model_list: [{model_name: demo, litellm_params: {model: mock/echo}}]\n"
        f"general_settings: {{request_log_path: '{tmp_path / 'requests.jsonl'}', request_log_flush_seconds: 60}}\n"
    )
    port = free_port()
    proc = subprocess.Popen([*LMGATE, "serve", "--port", str(port), "--config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=5)
        for _ in range(40):
            client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "x"}])
    finally:
        for _ in range(2000):  # a burst of stop signals across the whole shutdown
            if proc.poll() is not None:
                break
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.0002)
        out, _ = proc.communicate(timeout=15)
    lines = (tmp_path / "requests.jsonl").read_text().splitlines() if (tmp_path / "requests.jsonl").exists() else []
    assert len(lines) == 40, out
