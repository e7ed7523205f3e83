"""Per-request cost of edge validation (src/lmgate/validate/), next to the JSON parse it follows.

    .venv/bin/python bench/validate_bench.py            # from the repository root, about 20 s

Bodies from tests/client_bodies.py: a short chat, a ~40 kB Claude-Code-sized chat with 12 tools (OpenAI
form), the Claude Code Messages body and the Codex Responses body, and Open WebUI's Ollama chat. Each
figure is the best of 7 repeats of N calls, in microseconds per call, so noise from the other
processes on the box only ever makes a repeat slower.
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import client_bodies as bodies  # noqa: E402

from lmgate.validate import anthropic, ollama, openai, responses  # noqa: E402

CASES: list[tuple[str, dict[str, Any], Callable[[dict[str, Any]], None]]] = [
    ("openai chat, short", bodies.short_chat(), openai.chat),
    ("openai chat, Claude-Code-sized (12 tools)", bodies.openai_chat_like_claude_code(), openai.chat),
    ("anthropic messages, Claude Code", bodies.claude_code(), anthropic.messages),
    ("responses, Codex", bodies.codex(), responses.create),
    ("ollama chat, Open WebUI", bodies.OPEN_WEBUI_OLLAMA, ollama.chat),
]


def best_us(fn: Callable[[], Any], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def main() -> None:
    print("| body | size | orjson.loads µs | validate µs | validate / parse |")
    print("|---|---:|---:|---:|---:|")
    for name, body, validate in CASES:
        raw = orjson.dumps(body)
        number = 20000 if len(raw) < 2000 else 2000
        parse = best_us(lambda raw=raw: orjson.loads(raw), number)
        check = best_us(lambda body=body, validate=validate: validate(body), number)
        print(f"| {name} | {len(raw) / 1024:.1f} kB | {parse:.2f} | {check:.2f} | {check / parse:.2f} |")


if __name__ == "__main__":
    main()
