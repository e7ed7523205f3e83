"""Anthropic-in -> OpenAI-compatible-out translation against the OpenAI pass-through path, on loopback.

    .venv/bin/python bench/anthropic_overhead.py [--n 400] [--port 44010]

Starts the tests' fake OpenAI upstream and `lmgate serve` (one worker) as subprocesses, then sends
`--n` sequential requests on one keep-alive connection for each path, non-stream and stream: the
upstream directly, lmgate with an OpenAI request (bytes passed through), lmgate with the same prompt
as an Anthropic request (translated both ways). It prints p50/p99 latency, the latency lmgate adds
over the direct call, and the gateway's CPU time per request (from /proc), and the ratio
translated / pass-through for both. The issue's target is a ratio of at most 2.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = """
import sys, time
sys.path.insert(0, {root!r})
from tests.servers import FakeOpenAIUpstream, ServerThread, Behaviour
up = FakeOpenAIUpstream(); up.server = ServerThread(up._app, port={port}); up.default = Behaviour(content="one two three four five six seven eight")
up.start()
while True:
    time.sleep(3600)
"""
OPENAI = {"model": "bench", "messages": [{"role": "user", "content": "Write one short sentence about benchmarking."}], "max_tokens": 64}
ANTHROPIC = {**OPENAI, "system": "You are terse."}
OPENAI_SYS = {**OPENAI, "messages": [{"role": "system", "content": "You are terse."}, *OPENAI["messages"]]}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def run(client: httpx.Client, url: str, body: dict, headers: dict[str, str], n: int, stream: bool) -> list[float]:
    body = {**body, "stream": stream}
    times = []
    for _ in range(n):
        start = time.perf_counter()
        if stream:
            with client.stream("POST", url, json=body, headers=headers) as r:
                for _chunk in r.iter_bytes():
                    pass
        else:
            r = client.post(url, json=body, headers=headers)
        if r.status_code != 200:
            raise SystemExit(f"{url}: {r.status_code} {r.read()[:300]!r}")
        times.append((time.perf_counter() - start) * 1000)
    return times


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--port", type=int, default=44010)
    args = ap.parse_args()
    up_port, gw_port = args.port + 1, args.port
    up = subprocess.Popen([sys.executable, "-c", UPSTREAM.format(root=str(ROOT), port=up_port)])
    cfg = Path(tempfile.mkdtemp()) / "bench.yaml"
    cfg.write_text(f"model_list:\n  - model_name: bench\n    litellm_params: {{model: openai/m, api_base: http://127.0.0.1:{up_port}/v1}}\n")
    env = {**os.environ, "LMGATE_STATE_DIR": str(cfg.parent)}
    lmgate = ROOT / ".venv/bin/lmgate"
    gw = subprocess.Popen([str(lmgate), "serve", "--config", str(cfg), "--port", str(gw_port), "--workers", "1"], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_up(f"http://127.0.0.1:{up_port}/")
        wait_up(f"http://127.0.0.1:{gw_port}/health/liveliness")
        rows = []
        with httpx.Client(timeout=30) as client:
            for stream in (False, True):
                direct_url = f"http://127.0.0.1:{up_port}/v1/chat/completions"
                paths = {
                    "direct": (direct_url, OPENAI_SYS, {}),
                    "openai pass-through": (f"http://127.0.0.1:{gw_port}/v1/chat/completions", OPENAI_SYS, {}),
                    "anthropic translated": (f"http://127.0.0.1:{gw_port}/v1/messages", ANTHROPIC, {"anthropic-version": "2023-06-01"}),
                }
                result = {}
                for label, (url, body, headers) in paths.items():
                    run(client, url, body, headers, 50, stream)  # warm-up
                    before = cpu_seconds(gw.pid)
                    times = run(client, url, body, headers, args.n, stream)
                    cpu_us = (cpu_seconds(gw.pid) - before) / args.n * 1e6
                    result[label] = (pct(times, 50), pct(times, 99), cpu_us if label != "direct" else 0.0)
                base = result["direct"][0]
                for label, (p50, p99, cpu) in result.items():
                    rows.append((("stream" if stream else "non-stream"), label, p50, p99, p50 - base, cpu))
        print(f"{'mode':<11} {'path':<21} {'p50 ms':>7} {'p99 ms':>7} {'added ms':>9} {'gw CPU us/req':>14}")
        for mode, label, p50, p99, added, cpu in rows:
            print(f"{mode:<11} {label:<21} {p50:7.2f} {p99:7.2f} {added:9.2f} {cpu:14.0f}")
        for mode in ("non-stream", "stream"):
            mine = {r[1]: r for r in rows if r[0] == mode}
            added = mine["anthropic translated"][4] / max(mine["openai pass-through"][4], 1e-9)
            cpu = mine["anthropic translated"][5] / max(mine["openai pass-through"][5], 1e-9)
            print(f"{mode}: translated/pass-through added latency x{added:.2f}, gateway CPU x{cpu:.2f}")
    finally:
        gw.terminate()
        up.terminate()
        gw.wait(10)
        up.wait(10)


if __name__ == "__main__":
    main()
