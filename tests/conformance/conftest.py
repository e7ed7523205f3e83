"""One gateway per upstream kind for the whole session, started on first use (the table is the product of
upstream kinds and clients, so sharing keeps the suite fast); each test starts with an empty script."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from lmgate.config import compile_config
from lmgate.server.app import create_app
from tests.conformance.clients import KEY
from tests.conformance.upstreams import Upstream, UpstreamKind, model_entry
from tests.servers import ServerThread

BACKUP_ANSWER = "hello from backup"


@dataclass
class Stack:
    """A gateway in front of one upstream: `conf` (the upstream), `conf-flaky` (the upstream, falling back to
    `conf-backup`, a mock), `conf-alone` (the upstream, no fallback)."""

    upstream: Upstream
    gateway: ServerThread

    @property
    def url(self) -> str:
        return self.gateway.url


def config_for(up: Upstream) -> str:
    return (
        "model_list:\n"
        + model_entry("conf", up.litellm_params("conf-model"))
        + model_entry("conf-flaky", up.litellm_params("flaky-model"))
        + model_entry("conf-alone", up.litellm_params("alone-model"))
        + model_entry("conf-backup", {"model": "mock/backup", "mock_response": BACKUP_ANSWER})
        + "router_settings: {num_retries: 0, allowed_fails: 1000}\n"
        + "litellm_settings: {fallbacks: [{conf-flaky: [conf-backup]}]}\n"
        + f"general_settings: {{master_key: {KEY}, request_log_path: false}}\n"
    )


@pytest.fixture(scope="session")
def stacks() -> Iterator[Callable[[UpstreamKind], Stack]]:
    started: dict[str, Stack] = {}

    def get(kind: UpstreamKind) -> Stack:
        if kind.name not in started:
            up = kind.start()
            cfg = compile_config(config_for(up), f"conformance-{kind.name}.yaml")
            started[kind.name] = Stack(up, ServerThread(lambda: create_app(cfg)).start())
        stack = started[kind.name]
        fake = getattr(stack.upstream, "fake", None)
        if fake is not None:
            fake.script.clear()
        return stack

    yield get
    for stack in started.values():
        stack.gateway.stop()
        stack.upstream.stop()
