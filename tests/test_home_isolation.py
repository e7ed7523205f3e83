"""The session fixture (tests/isolation.py) keeps every test away from the user's real lmgate dirs."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx

from lmgate.observability.requestlog import default_state_dir
from tests.isolation import REAL_HOME, REAL_LMGATE_DIRS
from tests.processes import serving
from tests.test_reload import wait_for


def _mentions(directory: Path, marker: str) -> list[Path]:
    if not directory.is_dir():
        return []
    return [p for p in directory.rglob("*") if p.is_file() and marker.encode() in p.read_bytes()]


def test_the_environment_points_lmgate_at_a_temp_dir(isolated_lmgate_dirs: Path):
    assert Path(os.path.expanduser("~")) != REAL_HOME
    assert default_state_dir().is_relative_to(isolated_lmgate_dirs)
    assert "LMGATE_STATE_DIR" not in os.environ and "LMGATE_CONFIG" not in os.environ


def test_a_served_request_is_logged_in_the_temp_dir_and_not_at_home(tmp_path: Path, isolated_lmgate_dirs: Path):
    # The default request log path (no request_log_path in the config), as a user's first run has it.
    alias = f"isolation-{uuid.uuid4().hex}"  # other processes on this machine may write the real log: look for ours
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model_list: [{{model_name: {alias}, litellm_params: {{model: mock/echo}}}}]\n")
    with serving("--config", str(cfg)) as url:
        body = {"model": alias, "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(url + "/v1/chat/completions", json=body, timeout=10).status_code == 200
        wait_for(lambda: bool(_mentions(isolated_lmgate_dirs, alias)), "the request logged under the temp home")
    for real in REAL_LMGATE_DIRS:
        assert not _mentions(real, alias), f"a test wrote into the real {real}"
