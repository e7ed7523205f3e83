"""Shared pieces of the real-client tier (make e2e-*): the e2e cache, installs, and timing."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' helpers (loopback servers, lmgate serve, wait_for)


def install(part: str) -> Path:
    """Install `part` into the e2e cache once (e2e/install.sh prints how long it took); its directory."""
    out = subprocess.run(["bash", str(ROOT / "e2e" / "install.sh"), part], check=True, stdout=subprocess.PIPE, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def check(ok: bool, what: str) -> None:
    """Print one verdict line; a failed check ends the run with exit 1."""
    print(f"  {'ok  ' if ok else 'FAIL'} {what}", flush=True)
    if not ok:
        raise SystemExit(1)


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms"


def log_file(name: str) -> Path:
    d = Path(os.environ.get("TMPDIR", "/tmp")) / "lmgate-e2e-logs"
    d.mkdir(exist_ok=True)
    return d / f"{name}-{int(time.time())}.log"
