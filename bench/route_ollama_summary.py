#!/usr/bin/env python3
"""Tables and target checks for route_ollama_bench.sh:  route_ollama_summary.py RESULTS_DIR

Reads RESULTS_DIR/wrk.tsv and RESULTS_DIR/probes.txt; prints markdown.
Overheads: latency added = gateway p50 at c=1 - direct p50 at c=1. Per-request CPU cost from c=32
throughput = 1/rps(gateway) - 1/rps(direct) (the one gateway core is the bottleneck, so this is the
gateway's own time per request, in microseconds).
"""
from __future__ import annotations

import csv
import math
import os
import re
import sys
from collections import defaultdict


def load(d: str):
    rows = []
    p = os.path.join(d, "wrk.tsv")
    if os.path.exists(p):
        with open(p) as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    probes = []
    p = os.path.join(d, "probes.txt")
    if os.path.exists(p):
        for line in open(p):
            if line.startswith("ROUTERESULT "):
                kv = dict(x.split("=", 1) for x in line.split()[1:] if "=" in x)
                probes.append(kv)
    return rows, probes


def f(x: float, nd: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:,.{nd}f}"


def yes(b: bool) -> str:
    return "**yes**" if b else "**no**"


def ollama(rows) -> None:
    R = defaultdict(list)
    for r in rows:
        if r["part"] == "ollama":
            R[(r["label"], r["mode"], int(r["conc"]))].append(r)
    if not R:
        return

    def g(label, mode, c, key):
        v = R.get((label, mode, c))
        return float(v[-1][key]) if v else float("nan")

    labels = ["direct-ollama", "passthrough", "translated", "direct-openai", "openai-lmgate"]
    print("### Ollama paths (one lmgate worker)\n")
    print("| metric | direct Ollama mock | Ollama client -> lmgate -> Ollama (pass-through) | OpenAI client -> lmgate -> Ollama (translated) | direct OpenAI mock | OpenAI -> lmgate -> OpenAI (reference) |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode in ("nonstream", "stream"):
        p50 = {l: g(l, mode, 1, "p50_ms") for l in labels}
        p99 = {l: g(l, mode, 1, "p99_ms") for l in labels}
        rps = {l: g(l, mode, 32, "rps") for l in labels}
        def add(l, d):
            return f"{f(p50[l])} (+{f(p50[l] - p50[d])})" if l != d else f(p50[l])
        dref = {"direct-ollama": "direct-ollama", "passthrough": "direct-ollama", "translated": "direct-ollama",
                "direct-openai": "direct-openai", "openai-lmgate": "direct-openai"}
        print(f"| c=1 {mode} p50 ms (added) | " + " | ".join(add(l, dref[l]) for l in labels) + " |")
        print(f"| c=1 {mode} p99 ms | " + " | ".join(f(p99[l]) for l in labels) + " |")
        print(f"| c=32 {mode} req/s | " + " | ".join(f(rps[l], 0) for l in labels) + " |")
        cost = {l: (1e6 / rps[l] - 1e6 / rps[dref[l]]) for l in labels}
        print(f"| c=32 {mode} gateway µs/request | – | {f(cost['passthrough'], 0)} | {f(cost['translated'], 0)} | – | {f(cost['openai-lmgate'], 0)} |")
    errs = sum(int(r["errors"]) for v in R.values() for r in v)
    print(f"\nwrk errors in these passes: {errs}\n")
    print("| target: translation overhead <= 2x pass-through overhead | translated added | pass-through added | ratio | met? |")
    print("|---|---:|---:|---:|---|")
    for mode in ("nonstream", "stream"):
        d = g("direct-ollama", mode, 1, "p50_ms")
        t, p = g("translated", mode, 1, "p50_ms") - d, g("passthrough", mode, 1, "p50_ms") - d
        print(f"| {mode}, p50 latency at c=1 | {f(t)} ms | {f(p)} ms | {f(t / p, 2)}x | {yes(t <= 2 * p)} |")
        rd = g("direct-ollama", mode, 32, "rps")
        t = 1e6 / g("translated", mode, 32, "rps") - 1e6 / rd
        p = 1e6 / g("passthrough", mode, 32, "rps") - 1e6 / rd
        print(f"| {mode}, CPU per request at c=32 (from req/s) | {f(t, 0)} µs | {f(p, 0)} µs | {f(t / p, 2)}x | {yes(t <= 2 * p)} |")
    print()


def failover(probes) -> None:
    P = {(p["part"], p["label"], p["model"]): p for p in probes if p["part"].startswith("failover")}
    if not P:
        return
    st = float(os.environ.get("STREAM_TIMEOUT", "0.5"))
    print("### Router: failover when the first tier is down\n")
    print("Sequential requests, the chain alias and the plain alias interleaved on one connection. "
          "`route ok` = answers whose `x-lmgate-route` showed the expected failed first attempt.\n")
    print("| cooldowns | case | plain alias p50 / p99 ms | chain alias p50 / p90 / p99 / max ms | added p50 / p99 ms | route ok | target | met? |")
    print("|---|---|---:|---:|---:|---:|---|---|")
    cases = [("closed", "bench-model", "dead-first", "closed port, non-stream"),
             ("closed", "bench-model-stream", "dead-first-stream", "closed port, stream"),
             ("hang", "bench-model-stream", "hang-first-stream", f"hang, stream (stream_timeout {st} s)"),
             ("hang", "bench-model", "hang-first", f"hang, non-stream (timeout {st} s)")]
    for cd in ("off", "on"):
        part = f"failover-cooldowns-{cd}"
        for label, plain, chain, desc in cases:
            a, b = P.get((part, label, plain)), P.get((part, label, chain))
            if not a or not b:
                continue
            ap50, ap99 = float(a["p50_ms"]), float(a["p99_ms"])
            bp50, bp90, bp99, bmax = (float(b[k]) for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms"))
            if label == "closed":
                target, met = "p50 within 50 ms of plain", (bp50 - ap50) <= 50
                if cd == "off":
                    target, met = "p50 and p99 within 50 ms of plain", (bp50 - ap50) <= 50 and (bp99 - ap99) <= 50
            else:
                lim = st * 1000 + 100
                target, met = f"every answer <= {lim:.0f} ms", bmax <= lim
            print(f"| {cd} | {desc} | {f(ap50)} / {f(ap99)} | {f(bp50)} / {f(bp90)} / {f(bp99)} / {f(bmax)} | "
                  f"{bp50 - ap50:+,.3f} / {bp99 - ap99:+,.3f} | {b['route_ok']} (err {b['errors']}) | {target} | "
                  f"{yes(met) if cd == 'off' or label == 'closed' else '(info)'} |")
    print()


def scale(rows, probes) -> None:
    R = defaultdict(list)
    for r in rows:
        if r["part"].startswith("scale-"):
            R[(r["part"][6:], r["label"])].append(float(r["rps"]))
    if not R:
        return
    C1 = {(p["part"][6:], p["model"]): float(p["p50_ms"]) for p in probes if p["part"].startswith("scale-")}
    print("### Router: 1 vs 50 deployments per alias (all -> the nginx mock, non-stream)\n")
    print("c=32 req/s are means of the alternated passes (one, fifty, fifty, one ...) on the same gateway; "
          "added per request = rps(1) / rps(50) - 1.\n")
    print("| routing_strategy | req/s, 1 deployment (passes) | req/s, 50 deployments (passes) | added per request at c=32 | c=1 p50 ms 1 / 50 | met (< 5%)? |")
    print("|---|---:|---:|---:|---:|---|")
    for s in dict.fromkeys(k[0] for k in R):
        one, fifty = R.get((s, "one"), []), R.get((s, "fifty"), [])
        if not one or not fifty:
            continue
        m1, m50 = sum(one) / len(one), sum(fifty) / len(fifty)
        added = m1 / m50 - 1
        passes = lambda v: ", ".join(f"{x:,.0f}" for x in v)
        print(f"| {s} | {m1:,.0f} ({passes(one)}) | {m50:,.0f} ({passes(fifty)}) | {added * 100:+.1f}% | "
              f"{f(C1.get((s, 'one'), float('nan')))} / {f(C1.get((s, 'fifty'), float('nan')))} | {yes(added < 0.05)} |")
    print()


def main() -> None:
    d = sys.argv[1]
    rows, probes = load(d)
    ollama(rows)
    failover(probes)
    scale(rows, probes)


if __name__ == "__main__":
    main()
