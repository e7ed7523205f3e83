from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lmgate.config import compile_config, load_config
from lmgate.server.app import create_app
from tests.servers import FakeOpenAIUpstream, ServerThread
from tests.servers_anthropic import FakeAnthropicUpstream, ToolModelOpenAI
from tests.servers_ollama import FakeOllamaUpstream

pytest_plugins = ["tests.isolation"]  # every lmgate state/config dir points at a temp dir for the session


@pytest.fixture
def upstream() -> Iterator[FakeOpenAIUpstream]:
    up = FakeOpenAIUpstream().start()
    yield up
    up.stop()


@pytest.fixture
def ollama_up() -> Iterator[FakeOllamaUpstream]:
    up = FakeOllamaUpstream().start()
    yield up
    up.stop()


@pytest.fixture
def claude_up() -> Iterator[FakeAnthropicUpstream]:
    up = FakeAnthropicUpstream().start()
    yield up
    up.stop()


@pytest.fixture
def postgres() -> Iterator[Any]:
    """A throwaway PostgreSQL (tests/pg.py)."""
    from tests.pg import Postgres

    pg = Postgres()
    yield pg
    pg.destroy()


@pytest.fixture
def tool_model() -> Iterator[ToolModelOpenAI]:
    """An OpenAI-compatible fake that plays a tool-using model."""
    up = ToolModelOpenAI().start()
    yield up
    up.stop()


@pytest.fixture
def make_gateway() -> Iterator[Callable[[str | Path], ServerThread]]:
    """Start the real gateway app on a loopback port from YAML config text or a config file."""
    started: list[ServerThread] = []

    def start(config: str | Path) -> ServerThread:
        if isinstance(config, Path):
            cfg = load_config(config)  # keeps the file as the source, so reloads read it again
        else:
            cfg = compile_config(textwrap.dedent(config), "test-config.yaml")
        server = ServerThread(lambda: create_app(cfg)).start()
        started.append(server)
        return server

    yield start
    for s in started:
        s.stop()
