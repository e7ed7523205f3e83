"""A throwaway PostgreSQL server on loopback for tests that use the real database.

Runs the cluster as the `postgres` system user when the tests run as root (Postgres refuses root).
Without Postgres binaries the tests skip locally; with LMGATE_REQUIRE_POSTGRES=1 (set by CI) they fail.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.servers import free_port


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class Postgres:
    def __init__(self) -> None:
        initdb, self.pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if not initdb or not self.pg_ctl:
            if os.environ.get("LMGATE_REQUIRE_POSTGRES"):
                raise RuntimeError("PostgreSQL binaries not found (apt-get install postgresql)")
            pytest.skip("PostgreSQL is not installed")
        self.root = Path(tempfile.mkdtemp(prefix="lmgate-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.root, "postgres")
        self._run([initdb, "-D", str(self.data), "-U", "lmgate", "--auth=trust", "-E", "UTF8"])
        self.start()
        createdb = _bin("createdb") or "createdb"
        self._run([createdb, "-h", "127.0.0.1", "-p", str(self.port), "-U", "lmgate", "lmgate"])

    @property
    def url(self) -> str:
        return f"postgresql://lmgate@127.0.0.1:{self.port}/lmgate"

    def _run(self, cmd: list[str]) -> None:
        subprocess.run([*self.as_user, *cmd], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        assert self.pg_ctl
        self._run([self.pg_ctl, "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"), "-w", "start"])

    def stop(self) -> None:
        assert self.pg_ctl
        self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])

    def query(self, sql: str) -> list[str]:
        psql = _bin("psql") or "psql"
        for _ in range(50):
            res = subprocess.run([psql, self.url, "-At", "-c", sql], capture_output=True, text=True, timeout=30)
            if res.returncode == 0:
                return [line for line in res.stdout.splitlines() if line]
            time.sleep(0.1)
        raise RuntimeError(res.stderr)

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
