"""The conformance table's upstream side: one entry per provider adapter.

Each entry says how to start a fake of that upstream (or none, for the built-in mock), the config entry
that points an alias at it, and how to script it: fail the next call, answer with a tool call, show the
last request it received. Adding a provider to `lmgate.providers.ADAPTERS` means adding one entry here
(tests/conformance/test_coverage.py fails until you do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from tests.servers import Behaviour, FakeOpenAIUpstream
from tests.servers_ollama import FakeOllamaUpstream, OllamaBehaviour

ANSWER = "hello from upstream"  # every upstream's plain answer, whatever its wire


class Upstream(Protocol):
    """A running upstream of one kind, as the conformance tests drive it."""

    def litellm_params(self, upstream_model: str) -> dict[str, Any]:
        """litellm_params for an alias served by this upstream (the provider prefix is the adapter's)."""
        ...

    def fail_next(self, status: int) -> None:
        """The next request gets an HTTP `status` error."""
        ...

    def tool_call_next(self, name: str, arguments: dict[str, Any]) -> None:
        """The next chat request is answered with one call of tool `name`."""
        ...

    def last_messages(self) -> list[dict[str, Any]]:
        """The messages of the last chat request this upstream received, in its own wire format."""
        ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class UpstreamKind:
    """One row of the table: `prefix` must be one of the covered adapter's `prefixes`."""

    name: str
    prefix: str
    scriptable: bool  # can fail on demand and answer with tool calls (the built-in mock cannot)
    start: Any  # () -> Upstream


class _FakeBacked:
    """An upstream played by one of the loopback fakes in tests/servers*.py."""

    prefix: str
    fake: FakeOpenAIUpstream | FakeOllamaUpstream

    def litellm_params(self, upstream_model: str) -> dict[str, Any]:
        return {"model": f"{self.prefix}/{upstream_model}", "api_base": self.fake.base}

    def last_messages(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.fake.seen[-1].body["messages"]
        return messages

    def stop(self) -> None:
        self.fake.stop()


class OpenAIUpstream(_FakeBacked):
    prefix = "openai"

    def __init__(self) -> None:
        self.fake = openai_fake = FakeOpenAIUpstream().start()
        openai_fake.default = Behaviour(content=ANSWER)
        self.script = openai_fake.script

    def fail_next(self, status: int) -> None:
        self.script.append(Behaviour("status", status))

    def tool_call_next(self, name: str, arguments: dict[str, Any]) -> None:
        call = {"id": "call_0", "name": name, "arguments": orjson.dumps(arguments).decode()}
        self.script.append(Behaviour(content="", tool_calls=[call]))


class OllamaUpstream(_FakeBacked):
    prefix = "ollama_chat"

    def __init__(self) -> None:
        self.fake = ollama_fake = FakeOllamaUpstream().start()
        ollama_fake.default = OllamaBehaviour(content=ANSWER)
        self.script = ollama_fake.script

    def fail_next(self, status: int) -> None:
        self.script.append(OllamaBehaviour("status", status=status, error=f"upstream says {status}"))

    def tool_call_next(self, name: str, arguments: dict[str, Any]) -> None:
        self.script.append(OllamaBehaviour("tools", tool_calls=[{"function": {"name": name, "arguments": arguments}}]))


class MockUpstream:
    """The built-in mock: no server; it answers ANSWER through `mock_response`."""

    def litellm_params(self, upstream_model: str) -> dict[str, Any]:
        return {"model": f"mock/{upstream_model}", "mock_response": ANSWER}

    def fail_next(self, status: int) -> None:
        raise NotImplementedError("the mock cannot fail on demand")

    def tool_call_next(self, name: str, arguments: dict[str, Any]) -> None:
        raise NotImplementedError("the mock answers no tool calls")

    def last_messages(self) -> list[dict[str, Any]]:
        raise NotImplementedError("the mock keeps no requests")

    def stop(self) -> None:
        return None


UPSTREAMS: tuple[UpstreamKind, ...] = (
    UpstreamKind("openai_compat", "openai", True, OpenAIUpstream),
    UpstreamKind("ollama", "ollama_chat", True, OllamaUpstream),
    UpstreamKind("mock", "mock", False, MockUpstream),
)


def model_entry(alias: str, params: dict[str, Any]) -> str:
    """One model_list entry as YAML (flow style: JSON is YAML)."""
    return f"  - model_name: {alias}\n    litellm_params: {orjson.dumps(params).decode()}\n"
