"""Helpers for the virtual-key tests: a mock-model config with a database, and admin calls."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from typer.testing import CliRunner

from lmgate.cli import app

MASTER = "sk-master-keys-test"
MSGS = [{"role": "user", "content": "hi"}]


def keys_config(database_url: str, log_path: str, router: str = "") -> str:
    return f"""
model_list:
  - model_name: cloud-chat
    litellm_params: {{model: mock/echo}}
  - model_name: cloud-coder
    litellm_params: {{model: mock/echo}}
  - model_name: local-chat
    litellm_params: {{model: mock/echo}}
router_settings:
  {router}
general_settings:
  master_key: {MASTER}
  database_url: {database_url}
  request_log_path: {log_path}
  request_log_flush_seconds: 0.05
"""


def admin(url: str, path: str, body: dict[str, Any] | None = None, as_key: str = MASTER, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {as_key}"}
    if body is None:
        return httpx.get(url + path, params=params, headers=headers, timeout=10)
    return httpx.post(url + path, json=body, headers=headers, timeout=10)


def new_key(url: str, **fields: Any) -> dict[str, Any]:
    res = admin(url, "/key/generate", fields)
    assert res.status_code == 200, res.text
    return dict(res.json())


def chat(url: str, key: str, model: str = "cloud-chat") -> httpx.Response:
    body = {"model": model, "messages": MSGS, "max_tokens": 2}
    return httpx.post(url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10)


def within(seconds: float, condition: Callable[[], bool], step: float = 0.02) -> float:
    """Poll `condition` until true; the time it took (fails after `seconds`)."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, f"condition not met within {seconds} s"
        time.sleep(step)
    return time.monotonic() - start


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def lmgate(*args: str) -> Ran:
    """The real command line, in this process (a subprocess per call costs seconds on a busy machine)."""
    res = CliRunner().invoke(app, list(args))
    return Ran(res.exit_code, res.stdout, res.stderr)


def ok_json(*args: str) -> Any:
    res = lmgate(*args, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)
