"""LiteLLM's own configs load unchanged and serve what lmgate supports: unsupported providers reported
and answered 501, `include:`, `model_group_alias` and wildcard names through the official openai SDK,
and the LiteLLM keys lmgate accepts without acting on them listed by `lmgate validate`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import ollama
import openai
import pytest
import yaml

from lmgate.config import ConfigError, compile_config, load_config
from tests.servers import FakeOpenAIUpstream, closed_base, free_port
from tests.servers_anthropic import FakeAnthropicUpstream
from tests.servers_azure import FakeAzure

FIXTURES = Path(__file__).parent / "fixtures" / "litellm"
PROXY_CONFIG = FIXTURES / "proxy_server_config.yaml"
LITELLM_KEY = "sk-1234"  # the fixture's own master_key
FIXTURE_ENV = {
    "AZURE_API_KEY": "azure-test-key", "OPENAI_API_KEY": "sk-test-openai", "ANTHROPIC_API_KEY": "x",
    "GROQ_API_KEY": "gsk-test", "REDIS_HOST": "127.0.0.1", "REDIS_PASSWORD": "x", "AZURE_API_BASE": "http://127.0.0.1:9",
    "LANGFUSE_PROJECT1_PUBLIC": "x", "LANGFUSE_PROJECT1_SECRET": "x",
    "LANGFUSE_PROJECT2_PUBLIC": "x", "LANGFUSE_PROJECT2_SECRET": "x",
}


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lmgate", *args], capture_output=True, text=True, timeout=60,
        env={"COLUMNS": "250", "PATH": "/usr/bin:/bin", **env},
    )


def test_litellms_proxy_config_validates_unchanged_and_says_what_it_ignores():
    res = run_cli("validate", "--config", str(PROXY_CONFIG), env={**FIXTURE_ENV, "REDIS_PORT": "6379"})
    assert res.returncode == 0, res.stderr
    out = " ".join((res.stdout + res.stderr).split())  # rich may wrap long lines
    for line in (
        "proxy_server_config.yaml:38: model_list[5] (sagemaker-completion-model).litellm_params.model: "
        "provider 'sagemaker' is not supported by lmgate yet; this deployment is never routed to",
        "(gpt-instruct).litellm_params.model: provider 'text-completion-openai' is not supported by lmgate yet",
        "(dall-e-2).litellm_params.model: no model after 'azure/'",
        "proxy_server_config.yaml:165: general_settings.store_model_in_db: accepted, no effect in lmgate",
        "router_settings.enable_pre_call_checks: accepted, no effect in lmgate",
        "model_list[0] (gpt-3.5-turbo-end-user-test).litellm_params.region_name: accepted, no effect in lmgate",
    ):
        assert line in out, line
    models = run_cli("models", "--config", str(PROXY_CONFIG), env={**FIXTURE_ENV, "REDIS_PORT": "6379"})
    assert models.returncode == 0, models.stderr
    assert "sagemaker/berri-benchmarking-Llama-2-70b-chat-hf-4" in models.stdout
    assert "not supported by lmgate yet" in models.stdout


@pytest.fixture
def litellm_gateway(make_gateway, monkeypatch):
    """LiteLLM's proxy config with every upstream pointed at a loopback fake (Azure or OpenAI)."""
    for key, value in {**FIXTURE_ENV, "REDIS_PORT": str(free_port())}.items():  # Redis down: local counters
        monkeypatch.setenv(key, value)
    azure = FakeAzure(key="azure-test-key", deployments=("chatgpt-v-2", "azure-embedding-model")).start()
    oa = FakeOpenAIUpstream().start()
    claude = FakeAnthropicUpstream().start()
    data = yaml.safe_load(PROXY_CONFIG.read_text())
    for entry in data["model_list"]:
        params = entry["litellm_params"]
        provider = params["model"].split("/", 1)[0] if "/" in params["model"] else "openai"
        if provider == "azure":
            params["api_base"] = azure.server.url + "/"
        elif provider in ("openai", "groq"):
            params["api_base"] = oa.base
        elif provider == "anthropic":
            params["api_base"] = claude.base
    yield make_gateway(yaml.safe_dump(data)), azure, oa, claude
    azure.stop()
    oa.stop()
    claude.stop()


def test_litellms_proxy_config_serves_its_supported_aliases(litellm_gateway):
    gw, azure, oa, claude = litellm_gateway
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=LITELLM_KEY, max_retries=0, timeout=10)
    msgs = [{"role": "user", "content": "hi"}]

    assert client.chat.completions.create(model="gpt-4", messages=msgs).choices[0].message.content == (
        "hello from azure chatgpt-v-2"
    )
    assert azure.queries[-1] == {"api-version": "2023-05-15"}
    assert len(client.embeddings.create(model="text-embedding-ada-002", input="x").data) == 1

    client.chat.completions.create(model="my-special-fake-model-alias-name", messages=msgs)  # model_group_alias
    assert oa.seen[-1].body["model"] in ("my-fake-model", "my-fake-model-2")
    client.chat.completions.create(model="groq/llama-3.1-8b-instant", messages=msgs)  # "groq/*"
    assert oa.seen[-1].body["model"] == "llama-3.1-8b-instant"
    client.chat.completions.create(model="gpt-4o-mini", messages=msgs)  # "*" -> openai/*
    assert oa.seen[-1].body["model"] == "gpt-4o-mini"

    client.chat.completions.create(model="anthropic/claude-3", messages=msgs)  # "anthropic/*", translated
    assert claude.seen[-1].body["model"] == "claude-3"

    for model, provider in (("dall-e-2", "azure"), ("sagemaker-completion-model", "sagemaker")):
        with pytest.raises(openai.APIStatusError) as err:
            client.chat.completions.create(model=model, messages=msgs)
        assert err.value.status_code == 501, model
        assert f"({provider})" in str(err.value)

    listed = {m.id for m in client.models.list()}
    assert {"gpt-4", "text-embedding-ada-002", "my-special-fake-model-alias-name", "fake-openai-endpoint"} <= listed
    assert not listed & {"*", "groq/*", "anthropic/*", "dall-e-2", "sagemaker-completion-model", "gpt-instruct"}
    routes = httpx.get(gw.url + "/v1/models?return_wildcard_routes=true", headers={"Authorization": f"Bearer {LITELLM_KEY}"})
    assert {"*", "groq/*"} <= {m["id"] for m in routes.json()["data"]}


def test_include_merges_files_relative_to_the_config(tmp_path, make_gateway):
    up = FakeOpenAIUpstream().start()
    try:
        for name in ("parent_config.yaml", "model_config.yaml"):
            shutil.copy(FIXTURES / "include" / name, tmp_path / name)
        included = tmp_path / "model_config.yaml"
        included.write_text(included.read_text().replace("https://exampleopenaiendpoint-production.up.railway.app/", up.base))
        cfg = load_config(tmp_path / "parent_config.yaml")
        assert list(cfg.aliases) == ["gpt-4o", "fake-anthropic-endpoint"] and cfg.unsupported == []
        assert cfg.by_name["fake-anthropic-endpoint"].provider == "anthropic"  # served since issue 17
        assert cfg.inert == [], "callbacks: [prometheus] is served (/metrics)"
        gw = make_gateway(tmp_path / "parent_config.yaml")
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="none", max_retries=0, timeout=10)
        reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "hello from upstream"
    finally:
        up.stop()


def test_include_errors_name_the_included_file_and_line(tmp_path):
    (tmp_path / "models.yaml").write_text(
        "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_base: http://127.0.0.1:9/v1\n"
        "      timeout: -1\n"
    )
    (tmp_path / "settings.yaml").write_text("router_settings:\n  num_retries: 1\n")
    main = tmp_path / "config.yaml"
    main.write_text(
        "include: [models.yaml, settings.yaml, missing.yaml]\n"
        "model_list:\n  - model_name: b\n    litellm_params: {model: openai/y, api_base: 'http://127.0.0.1:9/v1'}\n"
        "router_settings:\n  num_retries: 2\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(main)
    text = "\n".join(err.value.errors)
    assert f"{tmp_path / 'settings.yaml'}:2: router_settings.num_retries: also set at {main}:6" in text
    assert "include[2]: cannot read" in text and "missing.yaml" in text
    loop = tmp_path / "loop.yaml"
    loop.write_text("include: loop.yaml\nmodel_list: []\n")
    with pytest.raises(ConfigError) as err:
        load_config(loop)
    assert err.value.errors == [f"{loop}:1: include[0]: loop.yaml includes itself (through loop.yaml)"]
    (main).write_text(main.read_text().replace(", missing.yaml", "").replace("  num_retries: 2\n", "  timeout: 5\n"))
    with pytest.raises(ConfigError) as err:
        load_config(main)
    assert err.value.errors == [
        f"{tmp_path / 'models.yaml'}:6: model_list[1] (a).litellm_params.timeout: Input should be greater than 0"
    ]


def test_group_aliases_and_wildcards_route_through_the_openai_sdk(make_gateway):
    minimax, catch_all = FakeOpenAIUpstream().start(), FakeOpenAIUpstream().start()
    minimax.default.content = "from minimax"
    try:
        gw = make_gateway(f"""
model_list:
  - model_name: cloud-minimax
    litellm_params: {{model: openai/MiniMax-M2, api_base: "{minimax.base}"}}
  - model_name: "local/*"
    litellm_params: {{model: "hosted_vllm/*", api_base: "{catch_all.base}"}}
  - model_name: "fo::*:static::*"  # LiteLLM's docs example of a pattern with two wildcards
    litellm_params: {{model: "openai/fo::*:static::*", api_base: "{catch_all.base}"}}
router_settings:
  model_group_alias:
    "claude-*": cloud-minimax
    gpt-4: cloud-minimax
    internal-name: {{model: cloud-minimax, hidden: true}}
""")
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="none", max_retries=0, timeout=10)
        msgs = [{"role": "user", "content": "hi"}]
        for name in ("claude-sonnet-4-5-20250929", "claude-3-5-haiku-latest", "gpt-4", "internal-name"):
            r = client.chat.completions.with_raw_response.create(model=name, messages=msgs)
            assert r.parse().choices[0].message.content == "from minimax", name
            assert r.headers["x-lmgate-deployment"] == "cloud-minimax"
        assert minimax.seen[-1].body["model"] == "MiniMax-M2"
        client.chat.completions.create(model="local/Qwen/Qwen3-8B", messages=msgs)
        assert catch_all.seen[-1].body["model"] == "Qwen/Qwen3-8B"
        client.chat.completions.create(model="fo::hi::static::hi", messages=msgs)
        assert catch_all.seen[-1].body["model"] == "fo::hi::static::hi"
        assert [m.id for m in client.models.list()] == ["cloud-minimax", "gpt-4"]
        # Ollama clients resolve the same names (an Anthropic or Ollama front end sees what OpenAI clients see)
        said = ollama.Client(host=gw.url).chat(model="claude-opus-4-1", messages=msgs, stream=False)
        assert said.message.content == "from minimax"
        assert [m.model for m in ollama.Client(host=gw.url).list().models] == ["cloud-minimax", "gpt-4"]
        assert client.models.retrieve("gpt-4").id == "gpt-4"
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="mistral-large", messages=msgs)
    finally:
        minimax.stop()
        catch_all.stop()


def test_group_alias_mistakes_are_load_errors():
    base = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, api_base: 'http://127.0.0.1:9/v1'}\n"
    with pytest.raises(ConfigError) as err:
        compile_config(base + "router_settings:\n  model_group_alias: {b: nope, a: a, c: {hidden: true}}\n", "g.yaml")
    assert err.value.errors == [
        "g.yaml:5: router_settings.model_group_alias.b: 'nope' is not a model_name in model_list",
        "g.yaml:5: router_settings.model_group_alias.a: 'a' is already a model_name; a group alias cannot replace it",
        "g.yaml:5: router_settings.model_group_alias.c: must be a model_name, or {model: <model_name>, hidden: true|false}",
    ]


def test_unsupported_providers_are_skipped_in_aliases_and_chains(make_gateway):
    up = FakeOpenAIUpstream().start()
    try:
        gw = make_gateway(f"""
model_list:
  - model_name: claude
    litellm_params: {{model: bedrock/anthropic.claude-3-sonnet, aws_region_name: us-east-1}}
  - model_name: claude
    litellm_params: {{model: openai/claude-proxy, api_base: "{up.base}"}}
  - model_name: gemini-pro
    litellm_params: {{model: vertex_ai/gemini-1.5-pro, vertex_project: p}}
  - model_name: broken
    litellm_params: {{model: openai/x, api_base: "{closed_base()}"}}
litellm_settings:
  fallbacks: [{{broken: [gemini-pro, claude]}}, {{gemini-pro: [claude]}}]
""")
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="none", max_retries=0, timeout=10)
        msgs = [{"role": "user", "content": "hi"}]
        for _ in range(3):  # the bedrock deployment is never tried, whatever the shuffle
            r = client.chat.completions.with_raw_response.create(model="claude", messages=msgs)
            assert r.headers["x-lmgate-route"].startswith("claude:ok:")
        r = client.chat.completions.with_raw_response.create(model="broken", messages=msgs)
        assert [hop.split(":")[0] for hop in r.headers["x-lmgate-route"].split(">")] == ["broken", "claude"]
        with pytest.raises(openai.APIStatusError) as err:
            client.chat.completions.create(model="gemini-pro", messages=msgs)
        assert err.value.status_code == 501
        assert "provider 'vertex_ai' is not supported by lmgate yet (test-config.yaml:8)" in str(err.value)
        assert "gemini-pro" not in {m.id for m in client.models.list()}
        body = httpx.get(gw.url + "/health").json()
        assert {"model_name": "gemini-pro", "model": "vertex_ai/gemini-1.5-pro", "where": "test-config.yaml:8",
                "reason": "provider 'vertex_ai' is not supported by lmgate yet"} in body["unsupported"]
        tags = httpx.get(gw.url + "/api/tags").json()["models"]
        assert "gemini-pro" not in {m["name"] for m in tags}
        r = httpx.post(gw.url + "/api/chat", json={"model": "gemini-pro", "messages": msgs, "stream": False})
        assert r.status_code == 501 and "vertex_ai" in r.json()["error"]
    finally:
        up.stop()


def test_a_typo_in_a_provider_is_still_an_error():
    with pytest.raises(ConfigError) as err:
        compile_config("model_list:\n  - model_name: a\n    litellm_params: {model: opnai/gpt-4o}\n", "t.yaml")
    assert "unknown provider 'opnai'" in err.value.errors[0]


def test_doctor_reports_unsupported_providers(tmp_path):
    up = FakeOpenAIUpstream().start()
    try:
        path = tmp_path / "config.yaml"
        path.write_text(
            "model_list:\n"
            f"  - model_name: a\n    litellm_params: {{model: openai/x, api_base: '{up.base}'}}\n"
            "  - model_name: b\n    litellm_params: {model: bedrock/amazon.nova-pro-v1:0}\n"
        )
        res = run_cli("doctor", "--config", str(path), "--json", env={})
        assert "provider 'bedrock' is not supported by lmgate yet" in res.stdout, res.stdout + res.stderr
    finally:
        up.stop()
