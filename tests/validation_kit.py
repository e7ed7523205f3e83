"""A gateway in front of one OpenAI and one Ollama upstream, for the edge-validation tests: aliases `oa`
and `ol` (chat), `oa-embed` and `ol-embed` (mode embedding)."""

from __future__ import annotations

import httpx

from lmgate.config import compile_config
from lmgate.server.app import create_app
from tests.servers import FakeOpenAIUpstream, ServerThread
from tests.servers_ollama import FakeOllamaUpstream


class Gateway:
    def __init__(self) -> None:
        self.openai_up = FakeOpenAIUpstream().start()
        self.ollama_up = FakeOllamaUpstream().start()
        cfg = compile_config(
            f"""
model_list:
  - model_name: oa
    litellm_params: {{model: openai/m, api_base: "{self.openai_up.base}", api_key: k}}
  - model_name: ol
    litellm_params: {{model: ollama_chat/qwen3:8b, api_base: "{self.ollama_up.base}"}}
  - model_name: oa-embed
    litellm_params: {{model: openai/e, api_base: "{self.openai_up.base}", api_key: k}}
    model_info: {{mode: embedding}}
  - model_name: ol-embed
    litellm_params: {{model: ollama/nomic-embed-text, api_base: "{self.ollama_up.base}"}}
    model_info: {{mode: embedding}}
""",
            "validation.yaml",
        )
        self.server = ServerThread(lambda: create_app(cfg)).start()
        self.http = httpx.Client(base_url=self.server.url, timeout=10)

    @property
    def upstream_calls(self) -> int:
        return self.openai_up.calls + len(self.ollama_up.seen)

    def stop(self) -> None:
        self.http.close()
        self.server.stop()
        self.openai_up.stop()
        self.ollama_up.stop()




def is_protocol_error(path: str, r: httpx.Response) -> str:
    """The error message, after checking the body has the protocol's own error shape."""
    data = r.json()
    if path.startswith("/api/"):
        assert set(data) == {"error"} and isinstance(data["error"], str), data
        return str(data["error"])
    assert set(data["error"]) == {"message", "type", "param", "code"}, data
    return str(data["error"]["message"])
