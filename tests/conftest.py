from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator

import pytest

from lmgate.config import compile_config
from lmgate.server.app import create_app
from tests.servers import FakeOpenAIUpstream, ServerThread


@pytest.fixture
def upstream() -> Iterator[FakeOpenAIUpstream]:
    up = FakeOpenAIUpstream().start()
    yield up
    up.stop()


@pytest.fixture
def make_gateway() -> Iterator[Callable[[str], ServerThread]]:
    """Start the real gateway app on a loopback port from YAML config text."""
    started: list[ServerThread] = []

    def start(yaml_text: str) -> ServerThread:
        cfg = compile_config(textwrap.dedent(yaml_text), "test-config.yaml")
        server = ServerThread(lambda: create_app(cfg)).start()
        started.append(server)
        return server

    yield start
    for s in started:
        s.stop()
