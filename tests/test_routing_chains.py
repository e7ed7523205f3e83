"""Fallback chains at load time: validation (unknown aliases, explicit-only targets; cycles accepted), resolution,
`lmgate models`, and the K3s gatekeeper example end to end with each tier killed in turn."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
import yaml

from lmgate.config import compile_config
from lmgate.config.loader import ConfigError
from tests.routing_kit import MASTER, ROUTE, hops
from tests.servers import FakeOpenAIUpstream

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MODELS = """
model_list:
  - model_name: a
    litellm_params: {model: openai/x, api_base: "http://127.0.0.1:9/v1"}
  - model_name: b
    litellm_params: {model: openai/x, api_base: "http://127.0.0.1:9/v1"}
  - model_name: c
    litellm_params: {model: openai/x, api_base: "http://127.0.0.1:9/v1"}
  - model_name: paid
    litellm_params: {model: openai/gpt-4o, api_base: "http://127.0.0.1:9/v1"}
    model_info: {fallback_target: false}
"""


def load(settings: str):
    return compile_config(MODELS + textwrap.dedent(settings), "chains.yaml")


def errors_of(settings: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load(settings)
    return err.value.errors


def test_chain_resolution_is_not_recursive_by_default():
    cfg = load("litellm_settings:\n  fallbacks: [{a: [b]}, {b: [c]}]\n")
    assert cfg.chains["a"].fallbacks == ("b",)
    assert cfg.chains["b"].fallbacks == ("c",)
    assert cfg.chains["c"].fallbacks == ()


def test_recursive_fallbacks_and_max_fallbacks():
    cfg = load(
        "router_settings: {recursive_fallbacks: true}\nlitellm_settings:\n  fallbacks: [{a: [b]}, {b: [c]}]\n"
    )
    assert cfg.chains["a"].fallbacks == ("b", "c")
    capped = load("router_settings: {max_fallbacks: 1}\nlitellm_settings:\n  fallbacks: [{a: [b, c]}]\n")
    assert capped.chains["a"].fallbacks == ("b",)


def test_router_settings_fallbacks_win_over_litellm_settings():
    cfg = load("router_settings:\n  fallbacks: [{a: [c]}]\nlitellm_settings:\n  fallbacks: [{a: [b]}]\n")
    assert cfg.chains["a"].fallbacks == ("c",)


def test_default_fallbacks_apply_to_aliases_without_their_own():
    cfg = load("litellm_settings:\n  fallbacks: [{a: [b]}]\n  default_fallbacks: [c]\n")
    assert cfg.chains["a"].fallbacks == ("b",)
    assert cfg.chains["b"].fallbacks == ("c",) and cfg.chains["b"].from_default
    assert cfg.chains["c"].fallbacks == (), "an alias never falls back to itself"
    assert cfg.chains["paid"].fallbacks == ("c",)


def test_unknown_alias_is_an_error_with_file_and_line():
    errs = errors_of("litellm_settings:\n  fallbacks:\n    - a: [b, nope]\n")
    assert errs == ["chains.yaml:14: litellm_settings.fallbacks[0].a[1]: 'nope' is not a model_name in model_list"]
    assert "'ghost' is not a model_name" in errors_of("litellm_settings:\n  fallbacks: [{ghost: [a]}]\n")[0]


def test_cycles_are_accepted_and_each_chain_lists_an_alias_once():
    cycle = "litellm_settings:\n  fallbacks: [{a: [b]}, {b: [c]}, {c: [a]}]\n"
    cfg = load("router_settings: {recursive_fallbacks: true}\n" + cycle)
    assert cfg.chains["a"].fallbacks == ("b", "c")
    assert cfg.chains["c"].fallbacks == ("a", "b")
    assert load(cycle).chains["c"].fallbacks == ("a",)
    cfg = load("litellm_settings:\n  fallbacks: [{a: [a, b]}]\n  context_window_fallbacks: [{a: [b]}, {b: [a]}]\n")
    assert cfg.chains["a"].fallbacks == ("b",), "a loop of one is dropped"
    assert cfg.chains["b"].context_window == ("a",)


def test_explicit_only_alias_may_not_be_a_target():
    errs = errors_of("litellm_settings:\n  fallbacks: [{a: [paid]}]\n")
    assert "'paid' is explicit-only" in errs[0]
    assert "'paid' is explicit-only" in errors_of("litellm_settings:\n  default_fallbacks: [paid]\n")[0]
    assert "'paid' is explicit-only" in errors_of("router_settings:\n  content_policy_fallbacks: [{a: [paid]}]\n")[0]
    cfg = load("litellm_settings:\n  fallbacks: [{paid: [a]}]\n")  # it may have fallbacks of its own
    assert cfg.chains["paid"].fallbacks == ("a",)


def test_lmgate_models_prints_each_resolved_chain(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        MODELS
        + "litellm_settings:\n  fallbacks: [{a: [b, c]}]\n  context_window_fallbacks: [{a: [c]}]\n"
    )
    res = subprocess.run(
        [sys.executable, "-m", "lmgate", "models", "--config", str(path)],
        capture_output=True, text=True, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert res.returncode == 0, res.stderr
    assert "a -> b -> c; context window: c" in res.stdout
    assert "paid  [explicit-only: never a fallback target]" in res.stdout


K3S_ENV = {
    "OLLAMA_API_KEY": "dummy", "OPENAI_API_KEY": "dummy", "GROQ_API_KEY": "dummy", "GEMINI_API_KEY": "dummy",
    "MISTRAL_API_KEY": "dummy", "REDIS_HOST": "redis", "DATABASE_URL": "postgresql://u:p@db/lmgate",
    "LITELLM_MASTER_KEY": MASTER,
}
CHAIN = ["cloud-kimi", "cloud-minimax", "vllm-qwen", "ollama-qwen"]


def test_k3s_example_chain_with_each_tier_killed_in_turn(make_gateway, monkeypatch):
    for key, value in K3S_ENV.items():
        monkeypatch.setenv(key, value)
    ups = {alias: FakeOpenAIUpstream().start() for alias in CHAIN}
    try:
        data = yaml.safe_load((EXAMPLES / "k3s-gatekeeper.yaml").read_text())
        for entry in data["model_list"]:
            up = ups.get(entry["model_name"])
            if up is not None:  # same alias, served by a loopback OpenAI-compatible fake
                params = entry["litellm_params"]
                params["model"] = "openai/" + params["model"].split("/", 1)[1]
                params["api_base"] = up.base
                up.default.content = f"from {entry['model_name']}"
        gw = make_gateway(yaml.safe_dump(data))
        headers = {"Authorization": f"Bearer {MASTER}"}
        for killed in range(len(CHAIN)):
            r = httpx.post(
                gw.url + "/v1/chat/completions",
                json={"model": "cloud-kimi", "messages": [{"role": "user", "content": "hi"}]},
                headers=headers, timeout=15,
            )
            assert r.status_code == 200, r.text
            assert r.json()["choices"][0]["message"]["content"] == f"from {CHAIN[killed]}"
            assert [name for name, _ in hops(r.headers[ROUTE])][-1] == CHAIN[killed]
            assert hops(r.headers[ROUTE])[-1][1] == "ok"
            ups[CHAIN[killed]].stop()
    finally:
        for up in ups.values():
            up.stop()
