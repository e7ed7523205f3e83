"""`lmgate serve` as a real process on a loopback port, for tests that need the real CLI and workers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.servers import free_port
from tests.wait import wait_for

LMGATE = [sys.executable, "-m", "lmgate"]
PORT_TAKEN = "address already in use"


def listeners(port: int) -> int:
    """How many sockets listen on TCP `port`, any address (each `--workers` process binds its own, SO_REUSEPORT)."""
    suffix = f":{port:04X}"
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                count += fields[1].endswith(suffix) and fields[3] == "0A"  # 0A: LISTEN
    return count


def _ready(url: str, proc: subprocess.Popen[str], workers: int, port: int) -> bool:
    if proc.poll() is not None:
        return True  # exited: the caller reports it
    try:
        up = httpx.get(url + "/health/readiness", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
    return up and listeners(port) >= workers  # every worker accepts connections, not only the first


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`lmgate serve ARGS` on a free port until the block ends (SIGTERM to its process group).

    Ready means /health/readiness answers and, with `--workers N`, all N workers listen. A port taken
    by someone else between choosing and binding it is retried on a fresh one.
    """
    workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
    for _attempt in range(3):
        port = free_port()
        proc = subprocess.Popen(
            [*LMGATE, "serve", "--port", str(port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _ready(url, proc, workers, port), "lmgate serve to become ready", 30)  # noqa: B023
            if proc.poll() is not None:
                out = proc.stdout.read() if proc.stdout else ""
                if PORT_TAKEN in out.lower():
                    continue
                raise AssertionError(f"lmgate serve exited at start:\n{out}")
            yield url
            return
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
    raise AssertionError("lmgate serve found its port taken three times")


def stop(proc: subprocess.Popen[Any], grace: float = 15) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace)


def worker_request_counts(log_dir: os.PathLike[str] | str) -> dict[str, int]:
    """Requests each worker wrote to its request log (`requests.w<N>.jsonl`), by file name."""
    return {f.name: len(f.read_text().splitlines()) for f in sorted(Path(log_dir).glob("requests.w*.jsonl"))}


@contextmanager
def running(
    argv: list[str], port: int, env: dict[str, str], cwd: str | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start `argv` (a gateway listening on `port`, e.g. a systemd unit's ExecStart) in its own session,
    wait until it is ready, stop it with SIGTERM after. Yields the base URL and the process."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url, proc, 1, port), f"{argv[0]} to become ready", 20)
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"{argv[0]} exited at start:\n{out}")
        yield url, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
