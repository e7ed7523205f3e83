"""`lmgate catalog ollama|openrouter` against loopback servers shaped like the real listings."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from typer.testing import CliRunner

from lmgate.cli import app
from tests.ops_servers import (
    FakeOllamaInstance,
    FakeOpenRouter,
    ollama_model,
    openrouter_endpoint,
    openrouter_model,
)
from tests.servers import closed_port

runner = CliRunner()


@pytest.fixture
def ollama() -> Iterator[FakeOllamaInstance]:
    inst = FakeOllamaInstance(
        models=[ollama_model("qwen3:8b", size=5_200_000_000), ollama_model("llava:7b", family="llama", params="7B", quant="Q4_0")]
    ).start()
    yield inst
    inst.stop()


def test_ollama_catalog_lists_models_and_checks_aliases(tmp_path, ollama):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "model_list:\n"
        f"  - model_name: reasoning\n    litellm_params: {{model: ollama_chat/qwen3:8b, api_base: {ollama.base}/api}}\n"
        f"  - model_name: vision\n    litellm_params: {{model: ollama_chat/llava:13b, api_base: {ollama.base}}}\n"
        "  - model_name: elsewhere\n    litellm_params: {model: ollama_chat/qwen3:8b, api_base: 'http://other-host:11434'}\n"
    )
    result = runner.invoke(app, ["catalog", "ollama", "--base", ollama.base + "/api/", "--config", str(cfg), "--json"])
    data = orjson.loads(result.stdout)
    assert data["base"] == ollama.base
    qwen = next(m for m in data["models"] if m["name"] == "qwen3:8b")
    assert qwen == {
        "name": "qwen3:8b",
        "size": 5_200_000_000,
        "family": "qwen3",
        "parameter_size": "8.2B",
        "quantization": "Q4_K_M",
        "modified_at": "2026-05-04T14:56:49.277302595-07:00",
        "aliases": ["reasoning"],
    }
    checks = {c["alias"]: c["found"] for c in data["configured"]}
    assert checks == {"reasoning": "qwen3:8b", "vision": None}  # other instances are not judged
    assert result.exit_code == 1  # an alias points at a model the instance lacks

    table = runner.invoke(app, ["catalog", "ollama", "--base", ollama.base, "--config", str(cfg)], env={"COLUMNS": "200"})
    assert "5.2 GB" in table.stdout and "Q4_0" in table.stdout
    assert f"lmgate ollama pull --instance {ollama.base} llava:13b" in table.stdout


def test_ollama_catalog_auth_and_unreachable(monkeypatch):
    cloud = FakeOllamaInstance(models=[ollama_model("gpt-oss:120b")], api_key="sekrit").start()
    try:
        refused = runner.invoke(app, ["catalog", "ollama", "--base", cloud.base])
        assert refused.exit_code == 3 and "401" in refused.stderr and "--api-key-env" in refused.stderr
        monkeypatch.delenv("LMGATE_TEST_OLLAMA_KEY", raising=False)
        unset = runner.invoke(app, ["catalog", "ollama", "--base", cloud.base, "--api-key-env", "LMGATE_TEST_OLLAMA_KEY"])
        assert unset.exit_code == 2 and "export LMGATE_TEST_OLLAMA_KEY" in unset.stderr
        monkeypatch.setenv("LMGATE_TEST_OLLAMA_KEY", "sekrit")
        ok = runner.invoke(app, ["catalog", "ollama", "--base", cloud.base, "--api-key-env", "LMGATE_TEST_OLLAMA_KEY", "--json"])
        assert ok.exit_code == 0 and [m["name"] for m in orjson.loads(ok.stdout)["models"]] == ["gpt-oss:120b"]
    finally:
        cloud.stop()
    dead = runner.invoke(app, ["catalog", "ollama", "--base", f"http://127.0.0.1:{closed_port()}"])
    assert dead.exit_code == 3 and "connect failure" in dead.stderr


CONFIG = """\
# Gateway on the GPU node.   Comments, blank lines and odd spacing must survive --write.

model_list:
  # --- OpenRouter free tier (20 rpm) ---
  - model_name: or-llama      # general chat
    litellm_params:
      model: openrouter/meta-llama/llama-3.3-70b-instruct:free
      api_key: os.environ/OPENROUTER_API_KEY
      rpm: 20
  - model_name: or-qwen
    litellm_params:
      model:   "openrouter/qwen/qwen-2.5-coder-32b-instruct:free"   # retired upstream
      api_key: os.environ/OPENROUTER_API_KEY

  - model_name: or-gemma
    litellm_params: {model: openrouter/google/gemma-3-27b-it:free, api_key: os.environ/OPENROUTER_API_KEY}
  - model_name: local
    litellm_params:
      model: ollama_chat/qwen3:8b    # not OpenRouter: never touched


router_settings:
  fallbacks: [{or-qwen: [or-llama, local]}]
"""

LISTING = [
    openrouter_model("meta-llama/llama-3.3-70b-instruct:free", context_length=131072),
    openrouter_model("meta-llama/llama-3.3-70b-instruct", prompt="0.00000013", completion="0.0000004"),
    openrouter_model("qwen/qwen3-coder:free", context_length=262144),
    openrouter_model("qwen/qwen3-coder", prompt="0.0000002", completion="0.0000008"),
    openrouter_model("qwen/qwen-2.5-72b-instruct:free", context_length=32768),
    openrouter_model("google/gemma-3-27b-it:free", context_length=96000, moderated=True, expiration_date="2026-12-31"),
    openrouter_model("mistralai/mistral-small-3.2-24b-instruct:free", context_length=131072),
    # a `:free` id with a price is not free (both prices must be zero)
    openrouter_model("acme/fake-free:free", prompt="0.000001", completion="0.000001"),
]


@pytest.fixture
def openrouter() -> Iterator[FakeOpenRouter]:
    srv = FakeOpenRouter(models=list(LISTING)).start()
    yield srv
    srv.stop()


def run_or(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["catalog", "openrouter", "--json", *args])
    return result.exit_code, orjson.loads(result.stdout)


def test_openrouter_reports_retired_expiring_and_free(tmp_path, openrouter):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(CONFIG)
    code, data = run_or("--base-url", openrouter.base, "--config", str(cfg), "--free")
    assert code == 1
    status = {c["alias"]: c for c in data["configured"]}
    assert set(status) == {"or-llama", "or-qwen", "or-gemma"}
    assert status["or-llama"]["status"] == "live" and status["or-llama"]["replacements"] == []
    assert status["or-gemma"]["status"] == "expiring" and status["or-gemma"]["expiration_date"] == "2026-12-31"
    qwen = status["or-qwen"]
    assert qwen["status"] == "retired"
    assert qwen["replacements"][0] == "qwen/qwen3-coder:free"  # same family, free, closest name
    assert all(r.endswith(":free") for r in qwen["replacements"])
    ids = {m["id"] for m in data["models"]}
    assert "acme/fake-free:free" not in ids and "qwen/qwen3-coder" not in ids  # --free: both prices zero
    gemma = next(m for m in data["models"] if m["id"] == "google/gemma-3-27b-it:free")
    assert gemma["moderated"] is True and gemma["data_policy_note"]
    assert cfg.read_text() == CONFIG  # no --write: untouched


def test_openrouter_write_changes_only_the_retired_scalar(tmp_path, openrouter, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)  # validation must not need the real key
    cfg = tmp_path / "config.yaml"
    cfg.write_text(CONFIG)
    cfg.chmod(0o640)
    code, data = run_or("--base-url", openrouter.base, "--config", str(cfg), "--write")
    assert code == 0, data
    assert data["written"] is True
    expected = CONFIG.replace('"openrouter/qwen/qwen-2.5-coder-32b-instruct:free"', '"openrouter/qwen/qwen3-coder:free"')
    assert expected != CONFIG
    assert cfg.read_text() == expected  # byte-for-byte everywhere else, quotes and comment kept
    assert cfg.stat().st_mode & 0o777 == 0o640
    assert "-      model:   \"openrouter/qwen/qwen-2.5-coder-32b-instruct:free\"" in data["diff"]
    assert "+      model:   \"openrouter/qwen/qwen3-coder:free\"" in data["diff"]
    again, data = run_or("--base-url", openrouter.base, "--config", str(cfg), "--write")
    assert again == 0 and data["written"] is False and cfg.read_text() == expected


def test_openrouter_write_refuses_an_invalid_result(tmp_path, openrouter):
    broken = CONFIG.replace("ollama_chat/qwen3:8b", "nosuchprovider/qwen3:8b")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(broken)
    result = runner.invoke(app, ["catalog", "openrouter", "--base-url", openrouter.base, "--config", str(cfg), "--write"])
    assert result.exit_code == 2
    assert "unknown provider 'nosuchprovider'" in result.stderr and "nothing was written" in result.stderr
    assert cfg.read_text() == broken


def test_openrouter_listing_errors(tmp_path, openrouter):
    openrouter.status = 503
    result = runner.invoke(app, ["catalog", "openrouter", "--base-url", openrouter.base])
    assert result.exit_code == 3 and "503" in result.stderr and "Service unavailable" in result.stderr
    result = runner.invoke(app, ["catalog", "openrouter", "--write"], env={"LMGATE_CONFIG": ""})
    assert result.exit_code == 2 and "--config FILE" in result.stderr


def test_openrouter_table(tmp_path, openrouter):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(CONFIG)
    result = runner.invoke(app, ["catalog", "openrouter", "--base-url", openrouter.base, "--config", str(cfg)], env={"COLUMNS": "250"})
    assert result.exit_code == 1
    assert "retired" in result.stdout and "qwen/qwen3-coder:free" in result.stdout and "--write" in result.stdout
    assert "0.13" in result.stdout  # $/M tokens from the per-token string price


ENDPOINTS = {
    "meta-llama/llama-3.3-70b-instruct:free": [
        openrouter_endpoint("DeepInfra", training=False, retains=False),
        openrouter_endpoint("Chutes", training=True, retains=True),
    ],
    "google/gemma-3-27b-it:free": [openrouter_endpoint("Google AI Studio", training=False, retains=True, days=30)],
    "qwen/qwen3-coder:free": [openrouter_endpoint("Together", training=False, retains=False)],
}


def test_openrouter_data_policy_per_endpoint_for_the_configured_models(tmp_path, openrouter):
    openrouter.endpoints = dict(ENDPOINTS)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(CONFIG)
    code, data = run_or("--base-url", openrouter.base, "--config", str(cfg), "--free")
    assert code == 1  # or-qwen is still retired
    # only the configured models that are listed (the retired one has no endpoints to ask for)
    assert sorted(openrouter.endpoint_requests) == ["google/gemma-3-27b-it:free", "meta-llama/llama-3.3-70b-instruct:free"]
    status = {c["alias"]: c for c in data["configured"]}
    assert status["or-llama"]["data_policy"] == "trains"  # one of its endpoints trains
    assert status["or-gemma"]["data_policy"] == "retains"
    assert status["or-qwen"]["data_policy"] == "unknown" and status["or-qwen"]["endpoints"] is None
    llama = {e["provider"]: e for e in status["or-llama"]["endpoints"]["endpoints"]}
    assert llama["DeepInfra"]["data_policy"] == "none" and llama["Chutes"]["data_policy"] == "trains"
    assert llama["Chutes"]["training"] is True and llama["DeepInfra"]["retains_prompts"] is False
    assert status["or-gemma"]["endpoints"]["endpoints"][0]["retention_days"] == 30
    assert status["or-llama"]["configured_data_policy"] is None
    listed = {m["id"]: m for m in data["models"]}
    assert listed["qwen/qwen3-coder:free"]["endpoints"] is None  # not configured: not asked

    table = runner.invoke(app, ["catalog", "openrouter", "--base-url", openrouter.base, "--config", str(cfg)], env={"COLUMNS": "250"})
    assert "trains: Chutes" in table.stdout and "none: DeepInfra" in table.stdout and "retains: Google AI Studio" in table.stdout


def test_openrouter_endpoints_of_every_listed_model_a_few_at_a_time(tmp_path, openrouter):
    from lmgate.ops.catalog import ENDPOINT_CONCURRENCY

    extra = [f"acme/model-{i}:free" for i in range(12)]
    openrouter.models = [*LISTING, *(openrouter_model(m) for m in extra)]
    openrouter.endpoints = {**ENDPOINTS, **{m: [openrouter_endpoint("Acme", training=False, retains=False)] for m in extra}}
    openrouter.endpoint_delay = 0.3
    code, data = run_or("--base-url", openrouter.base, "--free", "--endpoints")
    assert code == 0
    free_ids = {m["id"] for m in data["models"]}
    assert sorted(openrouter.endpoint_requests) == sorted(free_ids)  # each shown model once, priced ones not
    assert 1 < openrouter.max_in_flight <= ENDPOINT_CONCURRENCY
    listed = {m["id"]: m for m in data["models"]}
    assert listed["qwen/qwen3-coder:free"]["data_policy"] == "none"
    assert listed["acme/model-3:free"]["data_policy"] == "none"
    gone = listed["qwen/qwen-2.5-72b-instruct:free"]["endpoints"]  # the fake has none for it: 404
    assert gone["data_policy"] == "unknown" and "404" in gone["error"]


def test_openrouter_write_fills_and_tightens_data_policy_keeping_env_references(tmp_path, openrouter, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    openrouter.endpoints = dict(ENDPOINTS)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(CONFIG)
    code, data = run_or("--base-url", openrouter.base, "--config", str(cfg), "--write")
    assert code == 0, data
    written = cfg.read_text()
    expected = (
        CONFIG.replace('"openrouter/qwen/qwen-2.5-coder-32b-instruct:free"', '"openrouter/qwen/qwen3-coder:free"')
        .replace("      rpm: 20\n", "      rpm: 20\n    model_info: {data_policy: trains}\n")
        .replace(
            "api_key: os.environ/OPENROUTER_API_KEY}\n",
            "api_key: os.environ/OPENROUTER_API_KEY}\n    model_info: {data_policy: retains}\n",
        )
    )
    assert written == expected  # every other byte kept
    assert written.count("api_key: os.environ/OPENROUTER_API_KEY") == 3  # never the key's value
    assert {c["alias"]: c["configured_data_policy"] for c in data["configured"]} == {
        "or-llama": "trains", "or-qwen": None, "or-gemma": "retains",
    }
    models = runner.invoke(app, ["models", "--config", str(cfg), "--json"], env={"OPENROUTER_API_KEY": "x"})
    policies = {r["alias"]: r["data_policy"] for r in orjson.loads(models.stdout)["models"]}
    assert policies == {"or-llama": "trains", "or-qwen": "unknown", "or-gemma": "retains", "local": "none"}

    # the replacement's endpoints are read on the next run; nothing configured is ever loosened
    openrouter.endpoints["meta-llama/llama-3.3-70b-instruct:free"] = [openrouter_endpoint("DeepInfra")]
    again, data = run_or("--base-url", openrouter.base, "--config", str(cfg), "--write")
    assert again == 0 and data["written"] is True
    assert cfg.read_text() == expected.replace(
        '"openrouter/qwen/qwen3-coder:free"   # retired upstream\n      api_key: os.environ/OPENROUTER_API_KEY\n',
        '"openrouter/qwen/qwen3-coder:free"   # retired upstream\n      api_key: os.environ/OPENROUTER_API_KEY\n'
        "    model_info: {data_policy: none}\n",
    )
    third, data = run_or("--base-url", openrouter.base, "--config", str(cfg), "--write")
    assert third == 0 and data["written"] is False


def test_openrouter_write_tightens_inside_an_existing_model_info(tmp_path, openrouter):
    openrouter.endpoints = dict(ENDPOINTS)
    text = (
        "model_list:\n"
        "  - model_name: or-llama\n"
        "    litellm_params: {model: openrouter/meta-llama/llama-3.3-70b-instruct:free, api_key: os.environ/OR_KEY}\n"
        "    model_info:\n"
        "      mode: chat   # kept\n"
        "  - model_name: or-gemma\n"
        "    litellm_params: {model: openrouter/google/gemma-3-27b-it:free, api_key: os.environ/OR_KEY}\n"
        "    model_info: {data_policy: none, mode: chat}\n"
        "  - model_name: or-coder\n"
        "    litellm_params: {model: openrouter/qwen/qwen3-coder:free, api_key: os.environ/OR_KEY}\n"
        "    model_info: {data_policy: trains}   # stricter than the endpoints: kept\n"
    )
    cfg = tmp_path / "config.yaml"
    cfg.write_text(text)
    code, data = run_or("--base-url", openrouter.base, "--config", str(cfg), "--write")
    assert code == 0, data
    assert cfg.read_text() == (
        text.replace("      mode: chat   # kept\n", "      mode: chat   # kept\n      data_policy: trains\n")
        .replace("{data_policy: none, mode: chat}", "{data_policy: retains, mode: chat}")
    )
    assert "+      data_policy: trains" in data["diff"]


def test_openrouter_write_prints_the_table_and_the_diff(tmp_path, openrouter):
    openrouter.endpoints = dict(ENDPOINTS)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(CONFIG)
    result = runner.invoke(app, ["catalog", "openrouter", "--base-url", openrouter.base, "--config", str(cfg), "--write"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.stderr
    assert "replaced by qwen/qwen3-coder:free" in result.stdout and f"wrote {cfg}" in result.stdout
    assert "+    model_info: {data_policy: trains}" in result.stdout
