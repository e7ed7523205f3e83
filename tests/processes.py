"""`lmgate serve` as a real process on a loopback port, for tests that need the real CLI and workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.servers import free_port

LMGATE = [sys.executable, "-m", "lmgate"]


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    with running([*LMGATE, "serve", "--port", str(port), *args], port, env={**os.environ, **(env or {})}) as (url, _):
        yield url


@contextmanager
def running(
    argv: list[str], port: int, env: dict[str, str], cwd: str | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start `argv` (a gateway listening on `port`) in its own session, wait until it is ready, stop it
    with SIGTERM after. Yields the base URL and the process."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/health/readiness", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read() if proc.stdout else ""
                raise AssertionError(f"{argv[0]} did not become ready:\n{out}")
            time.sleep(0.05)
        yield url, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
