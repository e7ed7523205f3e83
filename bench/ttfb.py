#!/usr/bin/env python3
"""Streaming time to first byte: N sequential streamed chat requests over one keep-alive connection.

    ttfb.py BASE_URL LABEL [--path P] [--model M] [--key K] [-n 200] [--warmup 20] [--max-seconds 60]

TTFB = from just before the request is written to the first *body* bytes (the first SSE `data:`
chunk) arriving; `total` = to the end of the stream. Standard library only (http.client), so the
client adds the same few tens of microseconds to every target. Prints one machine-readable line:
  TTFBRESULT label=... n=... ttfb_p50_ms=... ttfb_p99_ms=... total_p50_ms=... total_p99_ms=... errors=...
Bounded in time: stops after --max-seconds even if fewer than N requests were made.
"""
from __future__ import annotations

import argparse
import http.client
import json
import time
from urllib.parse import urlsplit

from probestats import pct


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("label")
    ap.add_argument("--path", default="/v1/chat/completions")
    ap.add_argument("--model", default="bench-model-stream")
    ap.add_argument("--key", default="sk-bench")
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--max-seconds", type=float, default=60.0)
    a = ap.parse_args()

    u = urlsplit(a.base)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("ttfb.py only talks to loopback addresses")
    body = json.dumps(
        {
            "model": a.model,
            "messages": [{"role": "user", "content": "Write one short sentence about benchmarking."}],
            "max_tokens": 64,
            "stream": True,
        },
        separators=(",", ":"),
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {a.key}",
        "Accept": "text/event-stream",
    }
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
    ttfb: list[float] = []
    total: list[float] = []
    errors = 0
    deadline = time.monotonic() + a.max_seconds
    for i in range(a.warmup + a.n):
        if time.monotonic() > deadline:
            break
        try:
            t0 = time.perf_counter()
            conn.request("POST", a.path, body=body, headers=headers)
            r = conn.getresponse()
            first = r.read1(65536)
            t1 = time.perf_counter()
            rest = r.read()
            t2 = time.perf_counter()
            ok = r.status == 200 and first.startswith(b"data:") and b"[DONE]" in (first + rest)
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
        if not ok:
            errors += 1
            continue
        if i >= a.warmup:
            ttfb.append((t1 - t0) * 1e3)
            total.append((t2 - t0) * 1e3)
    conn.close()
    print(
        f"TTFBRESULT label={a.label} n={len(ttfb)} ttfb_p50_ms={pct(ttfb, 50):.3f} "
        f"ttfb_p99_ms={pct(ttfb, 99):.3f} total_p50_ms={pct(total, 50):.3f} "
        f"total_p99_ms={pct(total, 99):.3f} errors={errors}"
    )
    return 0 if ttfb and errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
