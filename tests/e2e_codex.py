"""The real Codex CLI through lmgate's Responses API: an `exec_command` tool round trip on a model
behind a chat-only (OpenAI-compatible) upstream and behind an Ollama one.

Run by `make e2e-codex` (not part of `make test`: it needs the npm package, installed by that target
into ${XDG_CACHE_HOME:-~/.cache}/lmgate-e2e). Codex runs offline against lmgate on loopback; the alias
is served by the tool-model fakes of tests/servers_anthropic.py: the model calls `exec_command` with
`echo lmgate`, Codex runs it and sends the output back as a function_call_output, and the model's
last answer quotes it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.servers_anthropic import ToolModelOllama, ToolModelOpenAI

CODEX = Path(os.environ.get("LMGATE_E2E_CODEX", Path.home() / ".cache/lmgate-e2e/node_modules/.bin/codex"))
pytestmark = pytest.mark.skipif(not CODEX.exists(), reason=f"Codex CLI is not installed at {CODEX} (make e2e-codex installs it)")
KEY = "sk-e2e"


def _codex(gateway_url: str, alias: str) -> subprocess.CompletedProcess[str]:
    home = tempfile.mkdtemp(prefix="lmgate-codex-")
    env = {"PATH": os.environ["PATH"], "HOME": home, "CODEX_HOME": home, "LMG_KEY": KEY, "NO_COLOR": "1"}
    provider = [
        "-c", "model_provider=lmg", "-c", 'model_providers.lmg.name="lmg"',
        "-c", f'model_providers.lmg.base_url="{gateway_url}/v1"', "-c", 'model_providers.lmg.env_key="LMG_KEY"',
        "-c", 'model_providers.lmg.wire_api="responses"',
    ]  # fmt: skip
    return subprocess.run(
        [str(CODEX), "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", *provider, "-m", alias, "list the files"],
        cwd=home, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.mark.timeout(240)
@pytest.mark.parametrize("kind", ["openai", "ollama"])
def test_codex_exec_command_round_trip(kind, make_gateway, tmp_path):
    up = (ToolModelOpenAI() if kind == "openai" else ToolModelOllama()).start()
    try:
        model = f"openai/tool-model, api_base: {up.base}" if kind == "openai" else f"ollama_chat/tool-model, api_base: {up.base}"
        gw = make_gateway(f"model_list:\n  - model_name: coder\n    litellm_params: {{model: {model}}}\n"
                          f"general_settings: {{master_key: {KEY}, database_url: 'sqlite:///{tmp_path}/r.db'}}\n")  # fmt: skip
        done = _codex(gw.url, "coder")
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-3000:]
        results = [m for s in up.seen for m in s.body.get("messages", []) if m.get("role") == "tool"]
        assert any("lmgate" in str(m.get("content")) for m in results), output[-3000:]  # Codex ran it, sent it back
        assert "the tool said:" in output
        first = up.seen[0].body
        assert first["tools"][0]["function"]["name"] == "exec_command" and first["model"] == "tool-model"
    finally:
        up.stop()
