#!/usr/bin/env python3
"""Sequential latency probe for router paths: N requests, round-robin over several aliases, one
keep-alive connection, so that two aliases measured in the same run see the same machine noise.

    route_probe.py BASE_URL LABEL --models A,B [--stream] [-n 200] [--warmup 10] [--max-seconds 60]
                   [--expect A=REGEX ...] [--key sk-bench]

For each request: total time (request written -> whole body read) and, for streams, time to the first
body byte. Each answer's `x-lmgate-route` header is checked against --expect (a regex per alias, e.g.
`dead-first=unreachable.*>.*:ok`), so a run where a cooldown skipped the failing tier is visible.
Prints one machine-readable line per alias:
  ROUTERESULT label=... model=... n=... p50_ms=... p90_ms=... p99_ms=... max_ms=... ttfb_p50_ms=...
              route_ok=<answers whose route matched>/<n> errors=... route=<last route header>
Standard library only; loopback addresses only; stops after --max-seconds.
"""
from __future__ import annotations

import argparse
import http.client
import json
import re
import time
from urllib.parse import urlsplit

from probestats import pct


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("label")
    ap.add_argument("--models", required=True, help="comma-separated aliases, requested round-robin")
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--path", default="/v1/chat/completions")
    ap.add_argument("--key", default="sk-bench")
    ap.add_argument("-n", type=int, default=200, help="requests per alias")
    ap.add_argument("--warmup", type=int, default=10, help="unrecorded requests per alias first")
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--expect", action="append", default=[], help="ALIAS=REGEX on x-lmgate-route")
    a = ap.parse_args()

    u = urlsplit(a.base)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("route_probe.py only talks to loopback addresses")
    models = [m for m in a.models.split(",") if m]
    expect = {k: re.compile(v) for k, v in (e.split("=", 1) for e in a.expect)}
    bodies = {
        m: json.dumps(
            {"model": m, "messages": [{"role": "user", "content": "Write one short sentence about benchmarking."}],
             "max_tokens": 64, "stream": a.stream},
            separators=(",", ":"),
        ).encode()
        for m in models
    }
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {a.key}"}
    if a.stream:
        headers["Accept"] = "text/event-stream"
    stats = {m: {"total": [], "ttfb": [], "ok": 0, "err": 0, "route": ""} for m in models}
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=a.timeout)
    deadline = time.monotonic() + a.max_seconds

    def one(m: str, record: bool) -> None:
        nonlocal conn
        st = stats[m]
        t0 = time.perf_counter()
        try:
            conn.request("POST", a.path, body=bodies[m], headers=headers)
            r = conn.getresponse()
            first = r.read(1)
            t1 = time.perf_counter()
            rest = r.read()
            t2 = time.perf_counter()
            route = r.getheader("x-lmgate-route") or ""
            good = r.status == 200 and (first + rest) and (not a.stream or b"[DONE]" in rest)
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=a.timeout)
            good, route, t1, t2 = False, "", t0, t0
        if not record:
            return
        if not good:
            st["err"] += 1
            return
        st["total"].append((t2 - t0) * 1e3)
        st["ttfb"].append((t1 - t0) * 1e3)
        st["route"] = route
        if m not in expect or expect[m].search(route):
            st["ok"] += 1

    for _ in range(a.warmup):
        for m in models:
            one(m, False)
    for _ in range(a.n):
        if time.monotonic() > deadline:
            break
        for m in models:
            one(m, True)
    conn.close()
    for m in models:
        st = stats[m]
        n = len(st["total"])
        print(
            f"ROUTERESULT label={a.label} model={m} stream={int(a.stream)} n={n} "
            f"p50_ms={pct(st['total'], 50):.3f} p90_ms={pct(st['total'], 90):.3f} "
            f"p99_ms={pct(st['total'], 99):.3f} max_ms={max(st['total'], default=float('nan')):.3f} "
            f"ttfb_p50_ms={pct(st['ttfb'], 50):.3f} route_ok={st['ok']}/{n} errors={st['err']} "
            f"route={st['route'] or '-'}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
