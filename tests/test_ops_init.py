"""`lmgate init` against loopback fakes of Ollama (several instances, one with a vision model), Ollama
Cloud, OpenRouter and OpenAI-compatible servers: each of the four seed topologies of ARCHITECTURE.md §1
yields a config that `lmgate validate` accepts and that serves a chat through its chain (the openai SDK,
upstreams stopped one by one). The K3s topology runs `lmgate serve` as a process; the others run the
same app in-process (`make_gateway`), which starts in a fraction of the time."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
import yaml
from typer.testing import CliRunner

from lmgate.cli import app
from lmgate.ops.init import short_name
from tests.ops_servers import (
    FakeOllamaInstance,
    FakeOpenAIServer,
    FakeOpenRouter,
    ollama_model,
    openrouter_model,
)
from tests.processes import LMGATE, serving
from tests.servers import FakeServer, ServerThread, closed_base
from tests.servers_anthropic import FakeAnthropicUpstream

Gateway = Callable[[str | Path], ServerThread]

runner = CliRunner()
KEY_VARS = ("OLLAMA_API_KEY", "OPENROUTER_API_KEY", "OPENAI_API_KEY", "GROQ_API_KEY", "GEMINI_API_KEY", "MISTRAL_API_KEY",
            "ANTHROPIC_API_KEY", "HOSTED_VLLM_API_KEY")
CLOUD_KEY, ROUTER_KEY, PAID_KEY = "ollama-cloud-secret-1", "sk-or-v1-test", "sk-paid-secret-2"
HI = [{"role": "user", "content": "hi"}]


def init_env(**keys: str) -> dict[str, str | None]:
    """Only the given provider keys are set: a developer's real keys never send a probe anywhere."""
    return {**{k: None for k in KEY_VARS}, **keys}


def run_init(*args: str, **keys: str) -> Any:
    return runner.invoke(app, ["init", *args], env=init_env(**keys))


@pytest.fixture
def started() -> Iterator[list[FakeServer]]:
    servers: list[FakeServer] = []
    yield servers
    for s in servers:
        s.stop()


def start(servers: list[FakeServer], server: Any) -> Any:
    servers.append(server.start())
    return server


def chat(url: str, alias: str) -> tuple[str, str, str]:
    """(answer text, deployment that answered, route) for one chat through the gateway."""
    client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model=alias, messages=HI)  # type: ignore[arg-type]
    return raw.parse().choices[0].message.content or "", raw.headers["x-lmgate-deployment"], raw.headers["x-lmgate-route"]


def written(tmp_path: Path, *args: str, **keys: str) -> tuple[Path, dict[str, Any], str]:
    """Run init with --yes --json into tmp_path; (path, the JSON summary, the config text)."""
    path = tmp_path / "config.yaml"
    result = run_init("--yes", "--json", "--output", str(path), *args, **keys)
    assert result.exit_code == 0, result.output
    text = path.read_text()
    for secret in (CLOUD_KEY, ROUTER_KEY, PAID_KEY):
        assert secret not in text  # keys only as os.environ/ references
    valid = runner.invoke(app, ["validate", "--config", str(path)], env=init_env(**keys))
    assert valid.exit_code == 0, valid.output
    return path, orjson.loads(result.stdout), text


def entries(text: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in yaml.safe_load(text)["model_list"]:
        out.setdefault(e["model_name"], []).append(e)
    return out


def fallbacks(text: str) -> dict[str, list[str]]:
    return {k: v for item in yaml.safe_load(text)["router_settings"]["fallbacks"] for k, v in item.items()}


# --- naming ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "short"),
    [("kimi-k2:1t", "kimi"), ("minimax-m2", "minimax"), ("qwen3-coder:480b", "qwen-coder"), ("qwen3:8b", "qwen"),
     ("Qwen/Qwen2.5-7B-Instruct-AWQ", "qwen"), ("gpt-oss:120b-cloud", "gpt-oss"), ("nomic-embed-text:latest", "nomic-embed"),
     ("deepseek/deepseek-r1:free", "deepseek-r1"), ("llama3.2-vision:11b", "llama-vision")],
)
def test_aliases_are_named_like_the_seeds(model: str, short: str):
    assert short_name(model) == short


# --- seed 1: K3s gatekeeper ----------------------------------------------------------------------------


def test_k3s_gatekeeper_cloud_then_vllm_then_cpu_ollama_paid_explicit_only(tmp_path: Path, started: list[FakeServer]):
    cloud = start(started, FakeOllamaInstance(models=[ollama_model("kimi-k2:1t"), ollama_model("minimax-m2"), ollama_model("qwen3-coder:480b")], api_key=CLOUD_KEY, context_length=262144))
    vllm = start(started, FakeOpenAIServer(ids=["Qwen/Qwen2.5-7B-Instruct-AWQ"], max_model_len=32768))
    cpu = start(started, FakeOllamaInstance(models=[ollama_model("qwen3:8b")], loaded=["qwen3:8b"], gpu=False))
    paid = start(started, FakeOpenAIServer(ids=["gpt-4o", "llama-3.3-70b-versatile", "gemini-2.5-flash", "mistral-large-latest"], api_key=PAID_KEY))
    claude = start(started, FakeAnthropicUpstream())
    claude.api_key, claude.model_ids = PAID_KEY, ["claude-sonnet-4-5", "claude-haiku-4-5"]
    keys = {"OLLAMA_API_KEY": CLOUD_KEY, "OPENAI_API_KEY": PAID_KEY, "GROQ_API_KEY": PAID_KEY, "GEMINI_API_KEY": PAID_KEY, "MISTRAL_API_KEY": PAID_KEY,
            "ANTHROPIC_API_KEY": PAID_KEY}
    path, summary, text = written(
        tmp_path, "--local-ollama", "none", "--ollama", cpu.base, "--openai-compatible", vllm.server.url,
        "--ollama-cloud-url", cloud.base, "--openai-url", paid.base, "--groq-url", paid.base, "--gemini-url", paid.base,
        "--mistral-url", paid.base, "--anthropic-url", claude.server.url, **keys,
    )
    assert summary["chains"]["chat"] == ["cloud-kimi", "cloud-minimax", "vllm-qwen", "ollama-qwen"]
    assert summary["chains"]["coder"][0] == "cloud-qwen-coder" and summary["chains"]["coder"][-2:] == ["vllm-qwen", "ollama-qwen"]
    assert summary["default_chat"] == "cloud-kimi" and summary["written"] is True
    by_name = entries(text)
    kimi = by_name["cloud-kimi"][0]
    assert kimi["litellm_params"] == {"model": "ollama_chat/kimi-k2:1t", "api_base": cloud.base, "api_key": "os.environ/OLLAMA_API_KEY", "timeout": 60}
    assert kimi["model_info"] == {"max_input_tokens": 262144}  # Ollama Cloud is not free: no zero costs
    assert by_name["vllm-qwen"][0]["model_info"] == {"max_input_tokens": 32768, "input_cost_per_token": 0, "output_cost_per_token": 0}
    assert by_name["ollama-qwen"][0]["litellm_params"] == {"model": "ollama_chat/qwen3:8b", "api_base": cpu.base}
    for alias, model in (("openai-gpt4o", "openai/gpt-4o"), ("groq-llama", "groq/llama-3.3-70b-versatile"),
                         ("gemini-flash", "gemini/gemini-2.5-flash"), ("mistral-large", "mistral/mistral-large-latest"),
                         ("anthropic-claude", "anthropic/claude-sonnet-4-5")):
        entry = by_name[alias][0]
        assert entry["litellm_params"]["model"] == model
        assert entry["model_info"] == {"fallback_target": False}
        assert entry["litellm_params"]["api_key"].startswith("os.environ/")
    chains = fallbacks(text)
    assert not {"openai-gpt4o", "groq-llama", "gemini-flash", "mistral-large"} & {t for ts in chains.values() for t in ts}
    assert text.startswith("# lmgate config written by `lmgate init`")
    assert "# ---- paid APIs: explicit-only" in text

    with serving("--config", str(path), env={k: v for k, v in keys.items()}) as url:
        assert chat(url, "cloud-kimi")[1] == "cloud-kimi"
        cloud.stop()
        answer, deployment, route = chat(url, "cloud-kimi")
        assert (answer, deployment) == ("hello from upstream", "vllm-qwen") and route.startswith("cloud-kimi:")
        vllm.stop()
        assert chat(url, "cloud-kimi")[1] == "ollama-qwen"
        assert chat(url, "openai-gpt4o")[1] == "openai-gpt4o"  # explicit-only: reached by name
        assert chat(url, "anthropic-claude")[:2] == ("hello from claude", "anthropic-claude")  # through the anthropic/ adapter


# --- seed 2: a Mac mini with three Ollama instances, one per purpose --------------------------------------


def test_mac_mini_three_instances_vision_and_embeddings(tmp_path: Path, started: list[FakeServer], make_gateway: Gateway):
    voice = start(started, FakeOllamaInstance(models=[ollama_model("qwen3:8b"), ollama_model("nomic-embed-text:latest", family="nomic-bert")],
                                              capabilities={"nomic-embed-text:latest": ["embedding"]}, loaded=["qwen3:8b"], gpu=False))
    reasoning = start(started, FakeOllamaInstance(models=[ollama_model("deepseek-r1:14b", family="qwen2")], gpu=False))
    vision = start(started, FakeOllamaInstance(models=[ollama_model("qwen2.5vl:7b", family="qwen25vl"), ollama_model("llava:7b", family="llama")],
                                               capabilities={"qwen2.5vl:7b": ["completion", "vision"], "llava:7b": ["completion", "vision"]}, gpu=False))
    path, summary, text = written(tmp_path, "--local-ollama", voice.base, "--ollama", reasoning.base + "/api", "--ollama", vision.server.url.replace("http://", ""))
    assert summary["chains"]["chat"] == ["ollama-qwen", "ollama-deepseek-r1"]  # the warm model first, then another instance
    assert summary["chains"]["vision"] == ["ollama-llava", "ollama-qwen-vision"]  # qwen3 and qwen2.5vl told apart by purpose
    assert summary["chains"]["embeddings"] == ["ollama-nomic-embed"]
    by_name = entries(text)
    assert by_name["ollama-llava"][0]["model_info"]["supports_vision"] is True
    assert by_name["ollama-nomic-embed"][0]["model_info"]["mode"] == "embedding"
    assert "ollama-nomic-embed" not in fallbacks(text)  # embeddings never fall back to another model
    assert {s["url"] for s in summary["sources"] if s["kind"] == "ollama"} == {voice.base, reasoning.base, vision.base}

    url = make_gateway(path).url
    assert chat(url, "ollama-qwen")[1] == "ollama-qwen"
    client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
    assert client.embeddings.create(model="ollama-nomic-embed", input="hi").data  # the embed route of that instance
    voice.stop()
    answer, deployment, _ = chat(url, "ollama-qwen")
    assert (answer, deployment) == ("hello from ollama", "ollama-deepseek-r1")
    assert chat(url, "ollama-llava")[1] == "ollama-llava"


# --- seed 3: one GPU node, one warm model, OpenRouter free models ---------------------------------------


def test_gpu_node_with_openrouter_free_models_and_their_data_policy(
    tmp_path: Path, started: list[FakeServer], make_gateway: Gateway, monkeypatch: pytest.MonkeyPatch
):
    gpu = start(started, FakeOllamaInstance(models=[ollama_model("qwen3:14b"), ollama_model("qwen3:8b")], loaded=["qwen3:14b"]))
    router = start(started, FakeOpenRouter(models=[
        openrouter_model("deepseek/deepseek-chat-v3:free", context_length=163840),
        openrouter_model("qwen/qwen3-coder:free", context_length=262144),
        openrouter_model("google/gemma-3-27b-it:free", images=True),
        openrouter_model("meta-llama/llama-4-maverick:free", expiration_date="2026-12-31"),
        openrouter_model("openai/gpt-4o", prompt="0.0000025", completion="0.00001"),
    ]))
    path, summary, text = written(tmp_path, "--local-ollama", gpu.base, "--openrouter-url", router.base, OPENROUTER_API_KEY=ROUTER_KEY)
    names = {a["alias"] for a in summary["aliases"]}
    assert names == {"openrouter-deepseek", "openrouter-qwen-coder", "openrouter-gemma", "ollama-qwen-14b", "ollama-qwen-8b"}
    assert summary["chains"]["chat"] == ["openrouter-deepseek", "ollama-qwen-14b"]  # cloud, then the warm GPU model
    assert summary["chains"]["vision"] == ["openrouter-gemma"]
    assert next(s for s in summary["sources"] if s["kind"] == "ollama")["tier"] == "gpu"
    entry = entries(text)["openrouter-deepseek"][0]
    assert entry["litellm_params"] == {"model": "openrouter/deepseek/deepseek-chat-v3:free", "api_base": router.base,
                                       "api_key": "os.environ/OPENROUTER_API_KEY"}
    assert entry["model_info"]["input_cost_per_token"] == 0
    before = text.split("model_name: openrouter-deepseek")[0].splitlines()
    assert "free endpoints may log prompts or train on them" in "\n".join(before[-3:])  # the data policy, right above it

    monkeypatch.setenv("OPENROUTER_API_KEY", ROUTER_KEY)
    url = make_gateway(path).url
    assert chat(url, "openrouter-deepseek")[:2] == ("ok from openrouter", "openrouter-deepseek")
    router.stop()
    assert chat(url, "openrouter-deepseek")[1] == "ollama-qwen-14b"


# --- seed 4: a workstation with Ollama Cloud models through the local daemon, and vLLM ---------------------


def test_workstation_cloud_models_through_the_local_daemon(tmp_path: Path, started: list[FakeServer], make_gateway: Gateway):
    local = start(started, FakeOllamaInstance(models=[ollama_model("gpt-oss:120b-cloud", size=384), ollama_model("qwen3-coder:480b-cloud", size=382), ollama_model("qwen3:8b")]))
    vllm = start(started, FakeOpenAIServer(ids=["Qwen/Qwen2.5-Coder-7B-Instruct"], max_model_len=32768))
    path, summary, text = written(tmp_path, "--local-ollama", local.base, "--openai-compatible", vllm.base)
    assert summary["chains"]["chat"] == ["cloud-gpt-oss", "vllm-qwen-coder", "ollama-qwen"]
    assert summary["chains"]["coder"] == ["cloud-qwen-coder", "vllm-qwen-coder", "ollama-qwen"]
    gpt = entries(text)["cloud-gpt-oss"][0]
    assert gpt["litellm_params"] == {"model": "ollama_chat/gpt-oss:120b-cloud", "api_base": local.base, "timeout": 60}
    assert "input_cost_per_token" not in gpt["model_info"]  # billed by Ollama Cloud, though the daemon is local

    url = make_gateway(path).url
    assert chat(url, "cloud-gpt-oss")[1] == "cloud-gpt-oss"
    local.models[:] = [m for m in local.models if m["name"] != "gpt-oss:120b-cloud"]  # signed out: 404
    assert chat(url, "cloud-gpt-oss")[1] == "vllm-qwen-coder"


# --- options, refusals, output ---------------------------------------------------------------------------


@pytest.fixture
def one_ollama(started: list[FakeServer]) -> FakeOllamaInstance:
    return start(started, FakeOllamaInstance(models=[ollama_model("qwen3:8b"), ollama_model("llama3.2:3b", family="llama")], loaded=["qwen3:8b"]))


def test_refuses_to_overwrite_without_force(tmp_path: Path, one_ollama: FakeOllamaInstance):
    path = tmp_path / "config.yaml"
    path.write_text("keep me\n")
    refused = run_init("--yes", "--output", str(path), "--local-ollama", one_ollama.base)
    assert refused.exit_code == 2
    assert "--force" in refused.stderr and "Traceback" not in refused.output
    assert path.read_text() == "keep me\n"
    forced = run_init("--yes", "--force", "--output", str(path), "--local-ollama", one_ollama.base)
    assert forced.exit_code == 0, forced.output
    assert "model_name: ollama-qwen" in path.read_text() and f"wrote {path}" in forced.stdout
    nowhere = run_init("--yes", "--output", str(tmp_path / "no" / "such" / "c.yaml"), "--local-ollama", one_ollama.base)
    assert nowhere.exit_code == 2 and "is not a directory" in nowhere.stderr


def test_dry_run_prints_the_config_and_writes_nothing(tmp_path: Path, one_ollama: FakeOllamaInstance):
    path = tmp_path / "config.yaml"
    result = run_init("--dry-run", "--output", str(path), "--local-ollama", one_ollama.base)
    assert result.exit_code == 0, result.output
    assert not path.exists()
    config = yaml.safe_load(result.stdout)  # stdout is the YAML alone; the summary is on stderr
    assert {e["model_name"] for e in config["model_list"]} == {"ollama-qwen", "ollama-llama"}
    assert "chat chain: ollama-qwen -> ollama-llama" in result.stderr
    as_json = orjson.loads(run_init("--dry-run", "--json", "--local-ollama", one_ollama.base).stdout)
    assert as_json["written"] is False and as_json["validated"] is True and "model_list:" in as_json["config"]


def test_default_chat_and_drop_options(tmp_path: Path, one_ollama: FakeOllamaInstance):
    result = run_init("--dry-run", "--json", "--local-ollama", one_ollama.base, "--default-chat", "ollama-llama")
    data = orjson.loads(result.stdout)
    assert data["default_chat"] == "ollama-llama" and data["chains"]["chat"] == ["ollama-llama", "ollama-qwen"]
    assert data["config"].index("model_name: ollama-llama") < data["config"].index("model_name: ollama-qwen")
    dropped = orjson.loads(run_init("--dry-run", "--json", "--local-ollama", one_ollama.base, "--drop", "ollama-llama").stdout)
    assert [a["alias"] for a in dropped["aliases"]] == ["ollama-qwen"]
    unknown = run_init("--dry-run", "--local-ollama", one_ollama.base, "--drop", "nope")
    assert unknown.exit_code == 2 and "no alias named 'nope'" in unknown.stderr


def test_nothing_found_is_one_line_and_exit_3(tmp_path: Path):
    result = run_init("--yes", "--output", str(tmp_path / "c.yaml"), "--local-ollama", closed_base())
    assert result.exit_code == 3
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: nothing found to configure") and "connection refused" in lines[0]
    assert not (tmp_path / "c.yaml").exists()


def test_a_refused_key_and_an_unreachable_instance_are_reported_not_fatal(tmp_path: Path, one_ollama: FakeOllamaInstance, started: list[FakeServer]):
    paid = start(started, FakeOpenAIServer(ids=["gpt-4o"], api_key="the-right-key"))
    result = run_init("--dry-run", "--json", "--local-ollama", one_ollama.base, "--ollama", closed_base(), "--openai-url", paid.base, OPENAI_API_KEY="wrong")
    data = orjson.loads(result.stdout)
    status = {s["kind"] + ":" + s["status"] for s in data["sources"]}
    assert {"ollama:ok", "ollama:unreachable", "openai:refused", "cloud:skipped", "openrouter:skipped"} <= status
    openai_alias = next(a for a in data["aliases"] if a["alias"] == "openai-gpt4o")
    assert openai_alias["explicit_only"] and "not verified" in openai_alias["notes"][0]
    assert "wrong" not in result.stdout


# --- interactive, in a pty ---------------------------------------------------------------------------------


class Terminal:
    """lmgate on a pty: wait for a prompt (polled with a deadline), answer it."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([*LMGATE, *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} in:\n{self.seen}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536).decode(errors="replace")
                except OSError:
                    raise AssertionError(f"the terminal closed before {text!r}:\n{self.seen}") from None

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def close(self) -> int:
        code = self.proc.wait(30)
        os.close(self.master)
        return code


def test_interactive_pick_default_and_drop_in_a_terminal(tmp_path: Path, started: list[FakeServer]):
    inst = start(started, FakeOllamaInstance(models=[ollama_model("qwen3:8b"), ollama_model("llama3.2:3b", family="llama"), ollama_model("mistral:7b", family="llama")], loaded=["qwen3:8b"]))
    path = tmp_path / "config.yaml"
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS} | {"TERM": "xterm-256color", "COLUMNS": "160"}
    term = Terminal("init", "--output", str(path), "--local-ollama", inst.base, env=env)
    term.expect("Default chat alias")
    assert "ollama-qwen (default chat)" in term.seen  # the summary table came first
    names = term.seen.split("Aliases that chat: ")[1].splitlines()[0]
    number = {pair.split("=")[1]: pair.split("=")[0] for pair in names.split(", ")}
    term.send("ollama-nomic")  # not an alias that chats: asked again
    term.expect("not one of the aliases that chat")
    term.send(number["ollama-mistral"])
    term.expect("Drop aliases")
    term.send("nope")
    term.expect("not listed: nope")
    term.send("ollama-llama")
    term.expect(f"Write {path}?")
    term.send("y")
    term.expect("wrote")
    assert term.close() == 0
    config = yaml.safe_load(path.read_text())
    assert [e["model_name"] for e in config["model_list"]] == ["ollama-mistral", "ollama-qwen"]
    assert fallbacks(path.read_text()) == {"ollama-mistral": ["ollama-qwen"]}
