"""The OpenAI Agents SDK (PyPI openai-agents) running one agent with a function tool through lmgate's
Responses API, against a loopback fake model behind a chat-only upstream.

Run with `make e2e-agents` (a venv of its own in ${XDG_CACHE_HOME:-~/.cache}/lmgate-e2e).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.tool_model import COMMAND, MARKER, ToolPlayingModel
from tests.processes import serving

agents = pytest.importorskip("agents", reason="openai-agents not installed (make e2e-agents installs it)")
KEY = "sk-e2e-master"


@pytest.fixture
def gateway() -> Iterator[tuple[str, ToolPlayingModel]]:
    model = ToolPlayingModel().start()
    root = Path(tempfile.mkdtemp(prefix="lmgate-e2e-agents-"))
    cfg = root / "config.yaml"
    cfg.write_text(
        f"""model_list:
  - model_name: coder
    litellm_params: {{model: openai/fake-coder, api_base: {model.base}/v1, timeout: 30}}
general_settings:
  master_key: {KEY}
  database_url: sqlite:///{root / "lmgate.db"}
  request_log_path: false
"""
    )
    try:
        with serving("--config", str(cfg)) as url:
            yield url, model
    finally:
        model.stop()


@pytest.mark.parametrize("streamed", [False, True])
async def test_agent_with_a_function_tool(gateway: tuple[str, ToolPlayingModel], streamed: bool) -> None:
    from openai import AsyncOpenAI

    url, model = gateway
    agents.set_tracing_disabled(True)
    ran: list[str] = []

    @agents.function_tool
    def exec_command(cmd: str) -> str:
        """Run a shell command and return what it printed."""
        ran.append(cmd)
        return MARKER if cmd == COMMAND else "unknown command"

    client = AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    llm = agents.OpenAIResponsesModel(model="coder", openai_client=client)
    agent = agents.Agent(name="coder", instructions="Use the shell.", tools=[exec_command], model=llm)
    if streamed:
        run = agents.Runner.run_streamed(agent, "Run the check command.")
        async for _ in run.stream_events():
            pass
        final = run.final_output
    else:
        final = (await agents.Runner.run(agent, "Run the check command.")).final_output
    assert ran == [COMMAND]
    assert f"The command printed: {MARKER}" in str(final)
    tool_turn = model.seen[-1]["messages"]
    assert tool_turn[0] == {"role": "system", "content": "Use the shell."}
    assert any(m.get("role") == "tool" and m.get("content") == MARKER for m in tool_turn)
