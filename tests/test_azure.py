"""azure/ through the real gateway and the official openai SDK, against a loopback Azure that checks the
path, the api-version query and the api-key header and answers in Azure's shapes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.routing_kit import MASTER, ROUTE, hops
from tests.servers import FakeOpenAIUpstream
from tests.servers_azure import FakeAzure


@pytest.fixture
def azure() -> Iterator[FakeAzure]:
    up = FakeAzure().start()
    yield up
    up.stop()


def config(azure: FakeAzure, backup: str = "http://127.0.0.1:9/v1", version: str = 'api_version: "2024-06-01"', key: str = "os.environ/AZURE_API_KEY") -> str:
    return f"""
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o-eu
      api_base: {azure.server.url}/
      api_key: {key}
      {version}
  - model_name: embed
    litellm_params:
      model: azure/embed-eu
      api_base: {azure.server.url}/openai
      api_key: {key}
      {version}
    model_info: {{mode: embedding}}
  - model_name: safe-backup
    litellm_params: {{model: openai/backup, api_base: "{backup}"}}
litellm_settings:
  content_policy_fallbacks: [{{gpt-4o: [safe-backup]}}]
general_settings:
  master_key: {MASTER}
"""


def sdk(gw) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=MASTER, max_retries=0, timeout=10)


def test_chat_stream_completion_and_embeddings_reach_azure_paths(azure, make_gateway, monkeypatch):
    monkeypatch.setenv("AZURE_API_KEY", azure.key)
    gw = make_gateway(config(azure))
    client = sdk(gw)
    chat = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content == "hello from azure gpt-4o-eu"
    assert chat.usage is not None and chat.usage.total_tokens == 11
    seen = azure.seen[-1]
    assert seen.path == "/openai/deployments/gpt-4o-eu/chat/completions"
    assert azure.queries[-1] == {"api-version": "2024-06-01"}
    assert seen.headers["api-key"] == azure.key and "Authorization" not in seen.headers

    text = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        if c.choices
    )
    assert text == "hello from azure gpt-4o-eu"
    assert "stream_options" not in azure.seen[-1].body, "api-version 2024-06-01 predates stream usage"

    done = client.completions.create(model="gpt-4o", prompt="say hi")
    assert done.choices[0].text == "hello from azure gpt-4o-eu"
    assert azure.seen[-1].path == "/openai/deployments/gpt-4o-eu/completions"

    emb = client.embeddings.create(model="embed", input=["a", "b"])
    assert len(emb.data) == 2
    assert azure.seen[-1].path == "/openai/deployments/embed-eu/embeddings"


def test_api_version_from_the_environment_and_stream_usage_when_it_allows(azure, make_gateway, monkeypatch):
    monkeypatch.setenv("AZURE_API_KEY", azure.key)
    monkeypatch.setenv("AZURE_API_VERSION", "2024-10-21")
    gw = make_gateway(config(azure, version=""))
    stream = sdk(gw).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}
    )
    usage = [c.usage for c in stream if c.usage]
    assert usage and usage[0].total_tokens == 10
    assert azure.queries[-1] == {"api-version": "2024-10-21"}
    assert azure.seen[-1].body["stream_options"] == {"include_usage": True}


def test_content_filter_refusal_goes_down_content_policy_fallbacks(azure, make_gateway, monkeypatch):
    monkeypatch.setenv("AZURE_API_KEY", azure.key)
    backup = FakeOpenAIUpstream().start()
    backup.default.content = "from the backup"
    try:
        gw = make_gateway(config(azure, backup=backup.base))
        for prompt in ("BLOCKED words", "FILTER-OUTPUT please"):
            r = httpx.post(
                gw.url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": prompt}]},
                headers={"Authorization": f"Bearer {MASTER}"}, timeout=10,
            )
            assert r.status_code == 200, r.text
            assert r.json()["choices"][0]["message"]["content"] == "from the backup"
            assert hops(r.headers[ROUTE]) == [("gpt-4o", "400"), ("safe-backup", "ok")]
    finally:
        backup.stop()


def test_content_filter_without_a_fallback_is_the_clients_400_with_azures_words(azure, make_gateway, monkeypatch):
    monkeypatch.setenv("AZURE_API_KEY", azure.key)
    gw = make_gateway(config(azure).replace("content_policy_fallbacks: [{gpt-4o: [safe-backup]}]", "num_retries: 0"))
    with pytest.raises(openai.BadRequestError) as err:
        sdk(gw).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "BLOCKED"}])
    assert "content_filter (ResponsibleAIPolicyViolation)" in str(err.value)
    assert "content management policy" in str(err.value)
    # a client's refusal never cools the deployment down: the next request is answered
    ok = sdk(gw).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert ok.choices[0].message.content == "hello from azure gpt-4o-eu"


def test_wrong_key_is_azures_401_and_the_key_never_shows(azure, make_gateway, monkeypatch):
    monkeypatch.setenv("AZURE_API_KEY", "sk-wrong-azure-key-123456")
    gw = make_gateway(config(azure))
    with pytest.raises(openai.APIStatusError) as err:
        sdk(gw).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 401
    assert "Access denied due to invalid subscription key" in str(err.value)
    assert "sk-wrong-azure-key-123456" not in str(err.value)


def test_doctor_deep_checks_azure_with_one_request(azure, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(config(azure))
    res = subprocess.run(
        [sys.executable, "-m", "lmgate", "doctor", "--config", str(path), "--deep", "--json", "--model", "gpt-4o"],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "AZURE_API_KEY": azure.key},
    )
    report = json.loads(res.stdout)
    (dep,) = [d for d in report["deployments"] if d["alias"] == "gpt-4o"]
    assert [f["check"] for f in dep["findings"]] == ["reach", "inference"], dep
    assert dep["findings"][1]["level"] == "ok" and dep["healthy"]
    assert azure.seen[-1].path == "/openai/deployments/gpt-4o-eu/chat/completions"
