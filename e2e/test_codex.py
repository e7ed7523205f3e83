"""The real Codex CLI (npm @openai/codex) through lmgate's Responses API, offline: a tool round trip
(`exec_command`) against a loopback fake model, behind a chat-only upstream and behind Ollama.

Run with `make e2e-codex` (installs Codex into ${XDG_CACHE_HOME:-~/.cache}/lmgate-e2e when missing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.tool_model import MARKER, ToolPlayingModel
from tests.processes import serving

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lmgate-e2e"
CODEX = Path(os.environ.get("LMGATE_CODEX") or CACHE / "node_modules" / ".bin" / "codex")
KEY = "sk-e2e-master"


@pytest.fixture
def model() -> Iterator[ToolPlayingModel]:
    m = ToolPlayingModel().start()
    yield m
    m.stop()


def _config(model: ToolPlayingModel, kind: str, workdir: Path) -> Path:
    if kind == "openai":
        params = f"{{model: openai/fake-coder, api_base: {model.base}/v1, timeout: 30}}"
    else:
        params = f"{{model: ollama_chat/fake-coder, api_base: {model.base}, timeout: 30}}"
    path = workdir / "config.yaml"
    path.write_text(
        f"""model_list:
  - model_name: coder
    litellm_params: {params}
general_settings:
  master_key: {KEY}
  database_url: sqlite:///{workdir / "lmgate.db"}
  request_log_path: false
"""
    )
    return path


def _codex(base_url: str, home: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "CODEX"))}
    env.update({"HOME": str(home), "CODEX_HOME": str(home), "LMG_KEY": KEY, "NO_COLOR": "1", "RUST_LOG": "error"})
    cmd = [
        str(CODEX), "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
        "-c", "model_provider=lmg", "-c", 'model_providers.lmg.name="lmg"',
        "-c", f'model_providers.lmg.base_url="{base_url}/v1"', "-c", 'model_providers.lmg.env_key="LMG_KEY"',
        "-c", 'model_providers.lmg.wire_api="responses"', "-m", "coder",
        "Run the command `echo hi` in the shell and tell me what it printed.",
    ]  # fmt: skip
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(not CODEX.exists(), reason="Codex CLI not installed (make e2e-codex installs it)")
@pytest.mark.parametrize("kind", ["openai", "ollama"])
def test_codex_runs_a_tool_round_trip_through_lmgate(model: ToolPlayingModel, kind: str) -> None:
    root = Path(tempfile.mkdtemp(prefix="lmgate-e2e-codex-"))
    try:
        home, workdir = root / "home", root / "work"
        home.mkdir()
        workdir.mkdir()
        with serving("--config", str(_config(model, kind, root))) as url:
            done = _codex(url, home, workdir)
        output = done.stdout + done.stderr
        assert done.returncode == 0, output
        results = [m for body in model.seen for m in body.get("messages", []) if m.get("role") == "tool"]
        assert any(MARKER in str(m.get("content")) for m in results), output  # Codex ran it and sent the output back
        assert "The command printed: " in output and MARKER in output
    finally:
        shutil.rmtree(root, ignore_errors=True)
