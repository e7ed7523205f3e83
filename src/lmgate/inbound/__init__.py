"""Inbound protocols: one module per client API. This tuple is the only list of them.

Each module provides `NAME`, `routes()`, `owns(path)` (does an error on this path belong to it) and
`render_error(err)`. The first module whose `owns` matches renders errors; OpenAI is the fallback.
"""

from __future__ import annotations

from types import ModuleType

from lmgate.inbound import ollama, openai

PROTOCOLS: tuple[ModuleType, ...] = (ollama, openai)


def protocol_for(path: str) -> ModuleType:
    for module in PROTOCOLS:
        if module.owns(path):
            return module
    return openai
