#!/usr/bin/env python3
"""Thousands of slow streams through lmgate and the LiteLLM proxy, against the same slow upstream.

Run by bench/streams.sh (which installs what it needs); the knobs are its environment variables:
    STREAMS="250 1000 2000"  RATE=20  EVENTS=60  EVENT_BYTES=190  SKIP_LITELLM=0  OUT=<dir>

One nginx trickles static streams (bench/streams_upstream.py: one event per write, RATE events/s).
The upstream and the load generator (bench/streams_load.py) share CPU 0; the gateway under test has
CPU 1 to itself, so every figure is per gateway core. For each stream count N:
  direct       the load generator against nginx's SSE port (the baseline)
  floor-raw    asyncio protocols on uvloop relaying bytes (bench/streams_floor.py): Python's least
  floor-aiohttp  a featureless aiohttp pass-through (iter_any + write): any aiohttp gateway's least
  lmgate       OpenAI SSE in and out (the native pass-through)
  lmgate-ndj   Ollama NDJSON in (/api/chat), OpenAI SSE upstream (translated per event)
  litellm      OpenAI SSE in and out, LiteLLM proxy, one worker
Each gateway is started once, serves every N (smallest first), and is stopped. Results are JSON
lines in OUT/streams.jsonl and a markdown table in OUT/streams.md (also printed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PY = sys.executable
UP_PORT, GW_PORT = 18380, 18390
LOAD_CPU, GW_CPU = "0", "1"


def env_list(name: str, default: str) -> list[int]:
    return [int(x) for x in os.environ.get(name, default).split()]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args[0]} exited with {proc.returncode} during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer in {timeout:.0f} s")


def start(cmd: list[str], log: Path, cpu: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    with open(log, "w") as f:
        return subprocess.Popen(["taskset", "-c", cpu, *cmd], stdout=f, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, env=env)


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def load(url: str, n: int, label: str, out: Path, kind: str = "sse", model: str = "slow", key: str = "",
         watch: int | None = None) -> dict:
    cmd = ["taskset", "-c", LOAD_CPU, PY, str(HERE / "streams_load.py"), url, "--streams", str(n), "--kind", kind,
           "--model", model, "--label", label, "--json", str(out / "streams.jsonl")]
    if key:
        cmd += ["--key", key]
    if watch:
        cmd += ["--watch", str(watch)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    row = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"  {label:13} N={n:5}  ok {row['ok']}/{n}  ttft p50 {row['ttft_p50_ms']:.0f} ms  "
          f"gap p99 {row['gap_p99_ms']:.0f} ms  loadgen {row['loadgen_us_per_event']:.1f} us/event"
          + (f"  gw {row['gw_cpu_s_per_1k_events'] * 1e3:.0f} us/event  rss {row['gw_rss_peak_mb']:.0f} MB"
             if watch else ""), flush=True)
    return row


def lmgate_config(d: Path) -> Path:
    cfg = d / "lmgate-streams.yaml"
    cfg.write_text(f"""model_list:
  - model_name: slow
    litellm_params: {{model: openai/slow, api_base: "http://127.0.0.1:{UP_PORT}/v1", api_key: sk-fake}}
general_settings:
  master_key: sk-bench
""")
    return cfg


def litellm_config(d: Path) -> Path:
    cfg = d / "litellm-streams.yaml"
    cfg.write_text(f"""model_list:
  - model_name: slow
    litellm_params: {{model: openai/slow, api_base: "http://127.0.0.1:{UP_PORT}/v1", api_key: sk-fake}}
general_settings:
  master_key: sk-bench
""")
    return cfg


def litellm_env() -> dict[str, str]:
    out = subprocess.run(["bash", "-c", f"source {HERE / 'litellm-env.sh'} && env -0"], capture_output=True,
                         check=True).stdout
    return dict(kv.split("=", 1) for kv in out.decode().split("\0") if "=" in kv)


def table(rows: list[dict], counts: list[int]) -> str:
    base = {r["streams"]: r for r in rows if r["label"] == "direct"}
    lines = ["| path | N | success | TTFT p50 / p99 (ms) | added TTFT p50 / p99 (ms) | gap p99 (ms) | added gap p99 (ms) "
             "| gateway CPU s / 1k events | RSS peak (MB) | RSS / open stream (KB) | fds peak |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for label in ("direct", "floor-raw", "floor-aiohttp", "lmgate", "lmgate-ndj", "litellm"):
        for n in counts:
            r = next((x for x in rows if x["label"] == label and x["streams"] == n), None)
            if r is None:
                continue
            b = base.get(n, r)
            gw = "gw_cpu_s_per_1k_events" in r
            lines.append(
                f"| {label} | {n} | {r['success'] * 100:.1f}% | {r['ttft_p50_ms']:.0f} / {r['ttft_p99_ms']:.0f} "
                f"| {r['ttft_p50_ms'] - b['ttft_p50_ms']:+.0f} / {r['ttft_p99_ms'] - b['ttft_p99_ms']:+.0f} "
                f"| {r['gap_p99_ms']:.1f} | {r['gap_p99_ms'] - b['gap_p99_ms']:+.1f} "
                + (f"| {r['gw_cpu_s_per_1k_events']:.3f} | {r['gw_rss_peak_mb']:.0f} | {r['gw_rss_kb_per_stream']:.0f} "
                   f"| {r['gw_fds_peak']} |" if gw else "| – | – | – | – |"))
    return "\n".join(lines)


def main() -> None:
    counts = env_list("STREAMS", "250 1000 2000")
    rate, events, size = (os.environ.get(k, v) for k, v in (("RATE", "20"), ("EVENTS", "60"), ("EVENT_BYTES", "190")))
    out = Path(os.environ.get("OUT") or tempfile.mkdtemp(prefix="lmgate-streams-"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "streams.jsonl").unlink(missing_ok=True)
    up_dir = Path(tempfile.mkdtemp(prefix="slow-upstream-"))
    subprocess.run([PY, str(HERE / "streams_upstream.py"), str(up_dir), "--port", str(UP_PORT), "--rate", rate,
                    "--events", events, "--event-bytes", size], check=True)
    procs: list[subprocess.Popen] = []
    try:
        nginx = start(["nginx", "-p", f"{up_dir}/", "-c", str(up_dir / "nginx.conf"), "-g", "daemon off;"],
                      out / "nginx.log", LOAD_CPU)
        procs.append(nginx)
        wait_http(f"http://127.0.0.1:{UP_PORT}/health", nginx)
        subprocess.run([PY, str(HERE / "streams_upstream.py"), str(up_dir), "--port", str(UP_PORT), "--rate", rate,
                        "--events", events, "--event-bytes", size, "--align"], check=True)
        print(f"slow upstream: {events} events x {size} B at {rate}/s per stream; results in {out}", flush=True)
        rows = [load(f"http://127.0.0.1:{UP_PORT}/v1/chat/completions", n, "direct", out) for n in counts]
        for kind, ready in (("raw", "/health"), ("aiohttp", "/health/liveliness")):
            floor = start([PY, str(HERE / "streams_floor.py"), kind, str(GW_PORT), str(UP_PORT)],
                          out / f"floor-{kind}.log", GW_CPU)
            procs.append(floor)
            wait_http(f"http://127.0.0.1:{GW_PORT}{ready}", floor)
            rows += [load(f"http://127.0.0.1:{GW_PORT}/v1/chat/completions", n, f"floor-{kind}", out, watch=floor.pid)
                     for n in counts]
            stop(procs.pop())

        lmgate = start([str(REPO / ".venv/bin/lmgate"), "serve", "--config", str(lmgate_config(out)),
                        "--port", str(GW_PORT), "--log-level", "warning"], out / "lmgate.log", GW_CPU)
        procs.append(lmgate)
        wait_http(f"http://127.0.0.1:{GW_PORT}/health/liveliness", lmgate)
        for n in counts:
            rows.append(load(f"http://127.0.0.1:{GW_PORT}/v1/chat/completions", n, "lmgate", out, key="sk-bench",
                             watch=lmgate.pid))
            rows.append(load(f"http://127.0.0.1:{GW_PORT}/api/chat", n, "lmgate-ndj", out, kind="ndjson",
                             key="sk-bench", watch=lmgate.pid))
        stop(procs.pop())

        litellm = Path(os.environ.get("LITELLM_VENV", "/tmp/litellm-venv")) / "bin/litellm"
        if os.environ.get("SKIP_LITELLM") != "1" and litellm.exists():
            proc = start([str(litellm), "--config", str(litellm_config(out)), "--host", "127.0.0.1",
                          "--port", str(GW_PORT), "--num_workers", "1"], out / "litellm.log", GW_CPU, litellm_env())
            procs.append(proc)
            wait_http(f"http://127.0.0.1:{GW_PORT}/health/liveliness", proc)
            time.sleep(5)  # LiteLLM finishes its start-up work after it first answers; let it settle
            for n in counts:
                rows.append(load(f"http://127.0.0.1:{GW_PORT}/v1/chat/completions", n, "litellm", out,
                                 key="sk-bench", watch=proc.pid))
            stop(procs.pop())
        md = table(rows, counts)
        (out / "streams.md").write_text(md + "\n")
        print(md)
    finally:
        for p in reversed(procs):
            stop(p)


if __name__ == "__main__":
    main()
