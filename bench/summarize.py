#!/usr/bin/env python3
"""Summarise one run_bench.sh results directory as Markdown (stdout).

Reads results.tsv (run.sh rows), gateways.tsv (start-up/RSS rows) and ttfb.txt (ttfb.py lines).
With several passes per target the median is reported.
"""
from __future__ import annotations

import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

d = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
med = statistics.median

# --- wrk rows ---------------------------------------------------------------------------------
wrk: dict[tuple[str, str, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
if (d / "results.tsv").exists():
    for r in csv.DictReader((d / "results.tsv").open(), delimiter="\t"):
        k = (r["label"], r["mode"], int(r["conc"]))
        for f in ("rps", "p50_ms", "p90_ms", "p99_ms", "errors"):
            wrk[k][f].append(float(r[f]))


def w(label: str, mode: str, conc: int, field: str) -> float | None:
    v = wrk.get((label, mode, conc), {}).get(field)
    return med(v) if v else None


# --- gateways rows ----------------------------------------------------------------------------
gw: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
if (d / "gateways.tsv").exists():
    for line in (d / "gateways.tsv").read_text().splitlines():
        parts = line.split("\t")
        label = parts[1]
        name = label.split("-start")[0]
        for kv in parts[2:]:
            k, _, v = kv.partition("=")
            try:
                gw[name][k].append(float(v))
            except ValueError:
                pass
        if "-start" not in label:  # the loaded instance's own figures
            for kv in parts[2:]:
                k, _, v = kv.partition("=")
                if k == "rss_after_mb":
                    gw[name]["rss_after_loaded"].append(float(v))

# --- ttfb -------------------------------------------------------------------------------------
ttfb: dict[str, dict[str, float]] = {}
if (d / "ttfb.txt").exists():
    for line in (d / "ttfb.txt").read_text().splitlines():
        if line.startswith("TTFBRESULT"):
            kv = dict(x.split("=", 1) for x in line.split()[1:])
            ttfb[kv["label"]] = {k: float(v) for k, v in kv.items() if k != "label"}


def fmt(v: float | None, nd: int = 2) -> str:
    if v is None:
        return "–"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{nd}f}"


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a and b else "–"


labels = [x for x in ("direct", "lmgate", "litellm") if any(k[0] == x for k in wrk)]
out: list[str] = []
p = out.append

p("### Raw wrk figures (median of passes)")
p("| target | mode | conc | req/s | p50 ms | p90 ms | p99 ms | errors |")
p("|---|---|---:|---:|---:|---:|---:|---:|")
for lab in labels:
    for mode in ("nonstream", "stream"):
        for c in (1, 32):
            if (lab, mode, c) in wrk:
                p(
                    f"| {lab} | {mode} | {c} | {fmt(w(lab, mode, c, 'rps'), 1)} | {fmt(w(lab, mode, c, 'p50_ms'), 3)} "
                    f"| {fmt(w(lab, mode, c, 'p90_ms'), 3)} | {fmt(w(lab, mode, c, 'p99_ms'), 3)} "
                    f"| {fmt(w(lab, mode, c, 'errors'), 0)} |"
                )
p("")

gws = [x for x in ("lmgate", "litellm") if x in labels]
p("### Headline")
hdr = "| metric | direct | " + " | ".join(gws) + (" | lmgate vs LiteLLM |" if len(gws) == 2 else " |")
p(hdr)
p("|---|" + "---:|" * (len(gws) + 1 + (1 if len(gws) == 2 else 0)))


def row(name: str, vals: list[str], cmp: str = "") -> None:
    p(f"| {name} | " + " | ".join(vals) + (f" | {cmp} |" if len(gws) == 2 else " |"))


for mode in ("nonstream", "stream"):
    for pc in ("p50", "p99"):
        f = f"{pc}_ms"
        dv = w("direct", mode, 1, f)
        vals = [fmt(dv, 3)]
        added = {}
        for g in gws:
            gv = w(g, mode, 1, f)
            added[g] = (gv - dv) if gv is not None and dv is not None else None
            vals.append(f"{fmt(gv, 3)} (+{fmt(added[g], 3)})")
        cmp = ratio(added.get("litellm"), added.get("lmgate")) + " less added" if len(gws) == 2 else ""
        row(f"c=1 {mode} {pc} latency ms (added vs direct)", vals, cmp)
for mode in ("nonstream", "stream"):
    dv = w("direct", mode, 32, "rps")
    vals = [fmt(dv, 0)]
    for g in gws:
        gv = w(g, mode, 32, "rps")
        vals.append(f"{fmt(gv, 1)} ({100 * gv / dv:.2g}% of direct)" if gv and dv else fmt(gv, 1))
    row(f"c=32 {mode} req/s", vals, ratio(w("lmgate", mode, 32, "rps"), w("litellm", mode, 32, "rps")))
for pc in ("ttfb_p50_ms", "ttfb_p99_ms"):
    vals = [fmt(ttfb.get("direct", {}).get(pc), 3)] + [fmt(ttfb.get(g, {}).get(pc), 3) for g in gws]
    n = int(ttfb.get("lmgate", ttfb.get("direct", {})).get("n", 0))
    name = "stream TTFB " + pc.split("_")[1] + f" ms (c=1, {n} req)"
    row(name, vals, ratio(ttfb.get("litellm", {}).get(pc), ttfb.get("lmgate", {}).get(pc)) + " faster"
        if len(gws) == 2 else "")
for key, name in (("rss_idle_mb", "idle RSS MB"), ("rss_after_loaded", "RSS after load MB"),
                  ("startup_s", "start-up s (first 200, median of starts)")):
    vals = ["–"] + [fmt(med(gw[g][key]), 2) if gw[g].get(key) else "–" for g in gws]
    cmp = ""
    if len(gws) == 2 and gw["lmgate"].get(key) and gw["litellm"].get(key):
        cmp = ratio(med(gw["litellm"][key]), med(gw["lmgate"][key])) + " less"
    row(name, vals, cmp)
p("")
if "lmgate" in gws:
    st = gw["lmgate"].get("startup_s", [])
    p(f"lmgate start-ups measured: {', '.join(f'{x:.2f}' for x in st)} s")
if "litellm" in gws:
    st = gw["litellm"].get("startup_s", [])
    p(f"LiteLLM start-ups measured: {', '.join(f'{x:.2f}' for x in st)} s")
p("")

# --- the Python floor (floor.sh, alternating) ---------------------------------------------------
floor_file = d / "floor.txt"
floor = None
if floor_file.exists():
    for line in floor_file.read_text().splitlines():
        if line.startswith("| lmgate/floor |"):
            floor = [float(x) for x in line.strip("|").split("|")[1:3]]
if floor:
    p("### lmgate against the Python floor (bench/floor.sh: alternating, c=32, virtual key with limits and a budget)")
    p("| mode | direct req/s | lmgate / floor | LiteLLM / floor |")
    p("|---|---:|---:|---:|")
    for i, mode in enumerate(("nonstream", "stream")):
        lm, ll = w("lmgate", mode, 32, "rps"), w("litellm", mode, 32, "rps")
        # LiteLLM is not run beside the floor: its share is scaled from the lmgate pass of the same run
        ll_share = f"{floor[i] * ll / lm:.3f} (scaled)" if lm and ll else "–"
        p(f"| {mode} | {fmt(w('direct', mode, 32, 'rps'), 0)} | {floor[i]:.3f} | {ll_share} |")
    p("")

# --- targets ----------------------------------------------------------------------------------
if "lmgate" in gws:
    p("### Targets (one lmgate worker)")
    added50 = (w("lmgate", "nonstream", 1, "p50_ms") or 0) - (w("direct", "nonstream", 1, "p50_ms") or 0)
    p(f"- p50 added latency at c=1 < 1 ms: {added50:.3f} ms -> {'MET' if added50 < 1 else 'NOT met'}")
    for mode in ("nonstream", "stream"):
        a, b = w("lmgate", mode, 32, "rps"), w("litellm", mode, 32, "rps")
        if a and b:
            p(f"- c=32 {mode} req/s >= 20x LiteLLM: {a / b:.1f}x -> {'MET' if a / b >= 20 else 'NOT met'}")
        else:
            p(f"- c=32 {mode} req/s >= 20x LiteLLM: not measured in this run (SKIP_LITELLM?)")
    idle = med(gw["lmgate"]["rss_idle_mb"]) if gw["lmgate"].get("rss_idle_mb") else None
    if idle is not None:
        p(f"- idle RSS < 80 MB: {idle:.1f} MB -> {'MET' if idle < 80 else 'NOT met'}")
    st = gw["lmgate"].get("startup_s")
    if st:
        p(f"- ready < 1 s: median {med(st):.2f} s, worst {max(st):.2f} s -> {'MET' if max(st) < 1 else 'NOT met'}")
    if floor:
        for i, mode in enumerate(("nonstream", "stream")):
            p(f"- c=32 {mode} >= 0.90 of the Python floor: {floor[i]:.3f} -> {'MET' if floor[i] >= 0.9 else 'NOT met'}")
print("\n".join(out))
