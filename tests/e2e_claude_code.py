"""The real Claude Code CLI through lmgate: a tool round trip on a non-Anthropic model.

Run by `make e2e-claude` (not part of `make test`: it needs the npm package, installed by that target
into ${XDG_CACHE_HOME:-~/.cache}/lmgate-e2e). Claude Code runs offline against lmgate on loopback; the
alias is served by a loopback fake that plays a tool-using model, once behind an OpenAI-compatible
upstream and once behind an Ollama one. The model calls Claude Code's Bash tool with `echo lmgate`;
Claude Code runs it and sends the result back; the model's last answer quotes it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.servers_anthropic import ToolModelOllama, ToolModelOpenAI

CLAUDE = Path(os.environ.get("LMGATE_E2E_CLAUDE", Path.home() / ".cache/lmgate-e2e/node_modules/.bin/claude"))
pytestmark = pytest.mark.skipif(not CLAUDE.exists(), reason=f"Claude Code is not installed at {CLAUDE} (make e2e-claude installs it)")


def _claude(gateway_url: str, alias: str) -> subprocess.CompletedProcess[str]:
    home = tempfile.mkdtemp(prefix="lmgate-claude-")
    env = {
        "PATH": os.environ["PATH"], "HOME": home, "ANTHROPIC_BASE_URL": gateway_url, "ANTHROPIC_AUTH_TOKEN": "sk-e2e",
        "ANTHROPIC_MODEL": alias, "ANTHROPIC_DEFAULT_HAIKU_MODEL": alias, "ANTHROPIC_SMALL_FAST_MODEL": alias,
        "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
    }  # fmt: skip
    return subprocess.run(
        [str(CLAUDE), "-p", "list the files", "--model", alias, "--allowedTools", "Bash"],
        cwd=home, env=env, capture_output=True, text=True, timeout=180, check=False,
    )


@pytest.mark.timeout(240)
@pytest.mark.parametrize("kind", ["openai", "ollama"])
def test_claude_code_tool_round_trip(kind, make_gateway):
    up = (ToolModelOpenAI() if kind == "openai" else ToolModelOllama()).start()
    try:
        model = f"openai/tool-model, api_base: {up.base}" if kind == "openai" else f"ollama_chat/tool-model, api_base: {up.base}"
        gw = make_gateway(f"model_list:\n  - model_name: coder\n    litellm_params: {{model: {model}}}\n"
                          "general_settings: {master_key: sk-e2e}\n")  # fmt: skip
        done = _claude(gw.url, "coder")
        assert done.returncode == 0, done.stderr[-2000:]
        assert "the tool said: lmgate" in done.stdout  # Bash ran `echo lmgate`, its output went back
        results = [m for s in up.seen for m in s.body["messages"] if m.get("role") == "tool"]
        assert any("lmgate" in str(m.get("content")) for m in results)
        assert all(s.body["model"] == "tool-model" for s in up.seen)
    finally:
        up.stop()
