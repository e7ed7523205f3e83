#!/usr/bin/env python3
"""Warm-model-aware Ollama routing vs simple-shuffle (issue 25.1).

Two fake Ollama instances (tests/servers_ollama.py) that hold one model at a time and charge LOAD_S
(default 2 s) to load a cold one; two aliases, `qwen` and `llama`, each with a deployment on both. A
client alternates qwen, llama, qwen, ... (N requests, one at a time) through the real gateway app on
loopback, once with `routing_strategy: simple-shuffle` alone and once with `ollama_prefer_loaded: true`;
prints p50/p90/mean latency and the cold loads each instance paid.

    .venv/bin/python bench/warm_bench.py [--n 40] [--load-s 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import textwrap
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import ServerThread  # noqa: E402
from tests.servers_ollama import FakeOllamaUpstream  # noqa: E402

from lmgate.config import compile_config  # noqa: E402
from lmgate.server.app import create_app  # noqa: E402

KEY = "sk-bench"


def config(a: str, b: str, router: str) -> str:
    entries = []
    for alias, model in (("qwen", "qwen3:8b"), ("llama", "llama3.2")):
        for tag, base in (("a", a), ("b", b)):
            entries.append(
                f"  - model_name: {alias}\n    litellm_params: {{model: 'ollama_chat/{model}', api_base: '{base}'}}\n"
                f"    model_info: {{id: {alias}-{tag}}}"
            )
    listing = "\n".join(entries)
    return f"model_list:\n{listing}\nrouter_settings:\n  {router}\ngeneral_settings:\n  master_key: {KEY}\n  request_log_path: false\n"


def run(label: str, router: str, n: int, load_s: float) -> dict[str, float | int | str]:
    a = FakeOllamaUpstream(load_s=load_s, max_loaded=1).start()
    b = FakeOllamaUpstream(load_s=load_s, max_loaded=1).start()
    cfg = compile_config(textwrap.dedent(config(a.base, b.base, router)), "warm-bench.yaml")
    gw = ServerThread(lambda: create_app(cfg)).start()
    took: list[float] = []
    try:
        with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as client:
            for i in range(n):
                model = ("qwen", "llama")[i % 2]
                started = time.perf_counter()
                r = client.post("/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}]})
                took.append(time.perf_counter() - started)
                r.raise_for_status()
    finally:
        gw.stop()
        a.stop()
        b.stop()
    took_ms = sorted(t * 1000 for t in took)
    return {
        "mode": label,
        "p50_ms": round(statistics.median(took_ms), 1),
        "p90_ms": round(took_ms[int(0.9 * (len(took_ms) - 1))], 1),
        "mean_ms": round(statistics.fmean(took_ms), 1),
        "cold_loads": a.loads + b.loads,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--load-s", type=float, default=2.0)
    args = ap.parse_args()
    rows = [
        run("simple-shuffle", "routing_strategy: simple-shuffle", args.n, args.load_s),
        run("ollama_prefer_loaded", "routing_strategy: simple-shuffle\n  ollama_prefer_loaded: true", args.n, args.load_s),
    ]
    print(f"{args.n} requests alternating qwen/llama, two instances holding one model each, {args.load_s:g} s cold load\n")
    print("| mode | p50 ms | p90 ms | mean ms | cold loads |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['p50_ms']} | {r['p90_ms']} | {r['mean_ms']} | {r['cold_loads']} |")


if __name__ == "__main__":
    main()
