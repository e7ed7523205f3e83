#!/usr/bin/env python3
"""`lmgate serve --workers N` scaling at c=64 (issue 26), and each worker's CPU cost per request.

    bash bench/mock/mock.sh start && .venv/bin/python bench/workers_scale.py [--workers "1 2"] [--secs 15]

For each N: lmgate on the nginx mock (bench/lmgate-bench.yaml, port 18396), wrk -c64 for `--secs`
after a 3 s warm-up, non-stream and stream. Besides req/s it reads the CPU seconds the whole process
tree spent (from /proc) and divides by the requests served: that per-request cost, and the share of
it the busiest worker carried, is what projects to a machine with more cores (req/s per core =
1 / CPU per request), which a 2-core box running its own load generator and mock cannot show.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from streams_load import cpu_s, tree  # noqa: E402  (the same /proc readers the stream bench uses)

PORT = 18396
MODES = {"non-stream": ("bench-model", "0"), "stream": ("bench-model-stream", "1")}


def wait_ready(proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"lmgate exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health/liveliness", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("lmgate did not start")


def wrk(secs: int, model: str, stream: str) -> tuple[int, float]:
    env = {**os.environ, "BENCH_MODEL": model, "BENCH_STREAM": stream, "BENCH_KEY": "sk-bench",
           "BENCH_PATH": "/v1/chat/completions"}
    out = subprocess.run(["wrk", "-t1", "-c64", f"-d{secs}s", "-s", str(HERE / "chat.lua"),
                          f"http://127.0.0.1:{PORT}"], env=env, capture_output=True, text=True, check=True).stdout
    found = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not found or not rps or "Non-2xx" in out:
        raise SystemExit("wrk failed:\n" + out)
    return int(found.group(1)), float(rps.group(1))


def measure(n: int, secs: int) -> list[str]:
    cmd = [str(REPO / ".venv/bin/lmgate"), "serve", "--config", str(HERE / "lmgate-bench.yaml"),
           "--port", str(PORT), "--workers", str(n), "--log-level", "warning"]
    env = {**os.environ, "LMGATE_STATE_DIR": f"/tmp/lmgate-workers-{n}"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    rows = []
    try:
        wait_ready(proc)
        for mode, (model, stream) in MODES.items():
            wrk(3, model, stream)  # warm-up: connections, caches, every worker serving
            pids = tree([proc.pid])
            workers = [p for p in pids if p != proc.pid] or pids
            before = {p: cpu_s([p]) for p in pids}
            requests, rps = wrk(secs, model, stream)
            used = {p: cpu_s([p]) - before[p] for p in pids}
            total = sum(used.values())
            busiest = max(used[p] for p in workers)
            rows.append(f"| {n} | {mode} | {rps:,.0f} | {total / requests * 1e6:.0f} | "
                        f"{busiest / total * 100:.0f}% | {1 / (total / requests):,.0f} |")
            print(rows[-1], flush=True)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(20)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", default="1 2")
    ap.add_argument("--secs", type=int, default=15)
    a = ap.parse_args()
    print("| workers | mode | req/s at c=64 | gateway CPU µs / request (all processes) | busiest worker's share "
          "| projected req/s per core |\n|---|---|---|---|---|---|", flush=True)
    for n in a.workers.split():
        measure(int(n), a.secs)


if __name__ == "__main__":
    main()
