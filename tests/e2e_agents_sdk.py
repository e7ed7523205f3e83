"""The OpenAI Agents SDK (PyPI openai-agents) through lmgate's Responses API: one agent with a
function tool, `Runner.run` and `Runner.run_streamed`, on a model behind a chat-only upstream.

Run by `make e2e-agents` (not part of `make test`: the SDK pulls in mcp and more, so it lives in a venv
of its own under ${XDG_CACHE_HOME:-~/.cache}/lmgate-e2e). The model is the tool-model fake of
tests/servers_anthropic.py: it calls the `exec_command` tool with `echo lmgate`, then quotes its result.
"""

from __future__ import annotations

import pytest

from tests.servers_anthropic import ToolModelOpenAI

agents = pytest.importorskip("agents", reason="openai-agents is not installed (make e2e-agents installs it)")
KEY = "sk-e2e"


@pytest.mark.parametrize("streamed", [False, True])
async def test_agent_with_a_function_tool(make_gateway, tmp_path, streamed):
    from openai import AsyncOpenAI

    up = ToolModelOpenAI().start()
    try:
        gw = make_gateway(f"model_list:\n  - model_name: coder\n    litellm_params: {{model: openai/tool-model, api_base: {up.base}}}\n"
                          f"general_settings: {{master_key: {KEY}, database_url: 'sqlite:///{tmp_path}/r.db'}}\n")  # fmt: skip
        agents.set_tracing_disabled(True)
        ran: list[str] = []

        @agents.function_tool
        def exec_command(cmd: str) -> str:
            """Run a shell command and return what it printed."""
            ran.append(cmd)
            return "printed: lmgate"

        client = AsyncOpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0)
        llm = agents.OpenAIResponsesModel(model="coder", openai_client=client)
        agent = agents.Agent(name="coder", instructions="Use the shell.", tools=[exec_command], model=llm)
        if streamed:
            run = agents.Runner.run_streamed(agent, "list the files")
            async for _ in run.stream_events():
                pass
            final = run.final_output
        else:
            final = (await agents.Runner.run(agent, "list the files")).final_output
        assert ran == ["echo lmgate"]
        assert str(final) == "the tool said: printed: lmgate"
        last = up.seen[-1].body["messages"]
        assert last[0] == {"role": "system", "content": "Use the shell."}
        assert any(m.get("role") == "tool" and m.get("content") == "printed: lmgate" for m in last)
    finally:
        up.stop()
