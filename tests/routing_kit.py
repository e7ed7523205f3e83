"""Shared pieces for the routing tests: three loopback tiers (cloud -> vLLM -> CPU) and a config for them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import openai
import pytest

from tests.servers import FakeOpenAIUpstream, ServerThread

MSGS = [{"role": "user", "content": "hi"}]
MASTER = "sk-master-routing-test"
ROUTE = "x-lmgate-route"


@dataclass
class Tiers:
    cloud: FakeOpenAIUpstream
    vllm: FakeOpenAIUpstream
    cpu: FakeOpenAIUpstream


@pytest.fixture(name="tiers")
def tiers_fixture() -> Iterator[Tiers]:
    """Import `tiers_fixture` into a test module to use the `tiers` fixture."""
    t = Tiers(
        FakeOpenAIUpstream().start(),
        FakeOpenAIUpstream().start(),
        FakeOpenAIUpstream().start(),
    )
    t.cloud.default.content = "from cloud"
    t.vllm.default.content = "from vllm"
    t.cpu.default.content = "from cpu"
    yield t
    for up in (t.cloud, t.vllm, t.cpu):
        up.stop()


def chain_config(
    t: Tiers,
    router: str = "",
    litellm: str = "fallbacks: [{cloud-kimi: [vllm-qwen, ollama-qwen]}, {vllm-qwen: [ollama-qwen]}]",
    cloud_params: str = "",
    cloud_base: str | None = None,
    extra_models: str = "",
    general: str = "",
) -> str:
    """The K3s gatekeeper's shape: cloud-kimi -> vllm-qwen -> ollama-qwen, with knobs per test."""
    return f"""
model_list:
  - model_name: cloud-kimi
    litellm_params:
      model: openai/kimi-k2.5
      api_base: {cloud_base or t.cloud.base}
      timeout: 5
      {cloud_params}
  - model_name: vllm-qwen
    litellm_params:
      model: hosted_vllm/Qwen/Qwen2.5-7B
      api_base: {t.vllm.base}
      timeout: 5
  - model_name: ollama-qwen
    litellm_params:
      model: openai/qwen2.5:3b
      api_base: {t.cpu.base}
      timeout: 5
{extra_models}
router_settings:
  retry_backoff_base: 0.01
  {router}
litellm_settings:
  {litellm}
general_settings:
  master_key: {MASTER}
  {general}
"""


def sdk(gw: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=MASTER, max_retries=0, timeout=15)


def chat(gw: ServerThread, model: str = "cloud-kimi", **kw: object) -> httpx.Response:
    """A raw chat call (status and headers visible even on errors)."""
    body = {"model": model, "messages": MSGS, **kw}
    return httpx.post(
        gw.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {MASTER}"}, timeout=15
    )


def health(gw: ServerThread) -> dict[str, dict[str, object]]:
    r = httpx.get(gw.url + "/health", headers={"Authorization": f"Bearer {MASTER}"}, timeout=5)
    assert r.status_code == 200, r.text
    return {row["deployment"]: row for row in r.json()["deployments"]}


def hops(header: str) -> list[tuple[str, str]]:
    """`a:503:0.1s>b:ok:2ms` -> [("a", "503"), ("b", "ok")]"""
    out = []
    for part in header.split(">"):
        name, outcome, _took = part.rsplit(":", 2)
        out.append((name, outcome))
    return out


def remote_deployments(t: Tiers) -> str:
    """The two non-private tiers: cloud-kimi (trains) and remote-qwen (OpenRouter without a policy: unknown)."""
    return f"""
  - model_name: cloud-kimi
    litellm_params: {{model: openai/kimi, api_base: {t.cloud.base}}}
    model_info: {{data_policy: trains}}
  - model_name: remote-qwen
    litellm_params: {{model: openrouter/qwen/qwen3, api_base: {t.vllm.base}, api_key: k}}"""
