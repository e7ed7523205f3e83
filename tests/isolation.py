"""Tests never touch the user's real lmgate directories: for the whole session HOME and the XDG state,
config and cache homes point into a temp dir (subprocesses inherit it), and LMGATE_STATE_DIR /
LMGATE_CONFIG from the developer's shell are dropped. test_home_isolation.py proves it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# What the real directories were before the session redirected them (read at import, i.e. at start-up).
REAL_HOME = Path(os.path.expanduser("~"))
REAL_STATE_HOME = Path(os.environ.get("XDG_STATE_HOME") or REAL_HOME / ".local" / "state")
REAL_LMGATE_DIRS = tuple(
    dict.fromkeys(
        p
        for p in (
            Path(os.environ["LMGATE_STATE_DIR"]) if os.environ.get("LMGATE_STATE_DIR") else None,
            REAL_STATE_HOME / "lmgate",
            REAL_HOME / ".local" / "state" / "lmgate",
            Path(os.environ.get("XDG_CONFIG_HOME") or REAL_HOME / ".config") / "lmgate",
        )
        if p is not None
    )
)
REDIRECTED = {"HOME": "home", "XDG_STATE_HOME": "state", "XDG_CONFIG_HOME": "config", "XDG_CACHE_HOME": "cache"}


@pytest.fixture(scope="session", autouse=True)
def isolated_lmgate_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("lmgate-user")
    with pytest.MonkeyPatch.context() as mp:
        for name, sub in REDIRECTED.items():
            (root / sub).mkdir()
            mp.setenv(name, str(root / sub))
        mp.delenv("LMGATE_STATE_DIR", raising=False)
        mp.delenv("LMGATE_CONFIG", raising=False)
        yield root
