"""The admin UI tests' gateway: two aliases in a fallback chain (one priced, on an upstream that needs
its own API key; one on an upstream scripted to fail), a master key, and the request log in SQLite."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lmgate.config import load_config
from lmgate.server.app import create_app
from tests.servers import Behaviour, FakeOpenAIUpstream, ServerThread

MASTER = "sk-ui-master-0123456789abcdef"
UPSTREAM_KEY = "sk-upstream-secret-9f8e7d6c5b4a3210zyxw"
PRICE_IN, PRICE_OUT = 0.001, 0.002  # the fake answers 5 prompt and 4 completion tokens: $0.013 a call
PAGES = ("/ui/models", "/ui/traffic", "/ui/requests", "/ui/keys", "/ui/config")


def ui_config(tmp: Path, good: FakeOpenAIUpstream, flaky: FakeOpenAIUpstream, router: str = "") -> str:
    extra = "".join(f"  {line.strip()}\n" for line in router.splitlines())
    return textwrap.dedent(f"""
        model_list:
          - model_name: chat
            litellm_params: {{model: openai/gpt-4o, api_base: "{good.base}", api_key: "{UPSTREAM_KEY}"}}
            model_info: {{input_cost_per_token: {PRICE_IN}, output_cost_per_token: {PRICE_OUT}}}
          - model_name: flaky
            litellm_params: {{model: openai/flaky-model, api_base: "{flaky.base}", api_key: "{UPSTREAM_KEY}"}}
        router_settings:
          num_retries: 0
          allowed_fails: 0
          cooldown_time: 300
          fallbacks: [{{flaky: [chat]}}]
          __ROUTER__
        general_settings:
          master_key: {MASTER}
          database_url: sqlite:///{tmp / "lmgate.db"}
          request_log_path: {tmp / "requests.jsonl"}
          request_log_flush_seconds: 0.05
        """).replace("  __ROUTER__\n", extra)


@dataclass
class UiGateway:
    gw: ServerThread
    good: FakeOpenAIUpstream
    flaky: FakeOpenAIUpstream

    @property
    def url(self) -> str:
        return self.gw.url

    def fail_flaky(self) -> None:
        """Every request to the flaky upstream answers 500 from now on."""
        self.flaky.default = Behaviour(kind="status", status=500)


def ui_gateway(tmp: Path) -> Iterator[UiGateway]:
    good, flaky = FakeOpenAIUpstream(api_key=UPSTREAM_KEY).start(), FakeOpenAIUpstream(api_key=UPSTREAM_KEY).start()
    path = tmp / "config.yaml"
    path.write_text(ui_config(tmp, good, flaky))
    cfg = load_config(path)  # the file is the source: "reload now" reads it again
    gw = ServerThread(lambda: create_app(cfg)).start()
    try:
        yield UiGateway(gw, good, flaky)
    finally:
        gw.stop()
        good.stop()
        flaky.stop()
