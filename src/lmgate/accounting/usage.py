"""Token counts from the usage shapes upstreams send (OpenAI, Anthropic, Ollama)."""

from __future__ import annotations

from typing import Any


def token_counts(usage: dict[str, Any] | None) -> tuple[int, int]:
    """(input tokens, output tokens); 0 for anything missing or malformed."""
    if not isinstance(usage, dict):
        return 0, 0
    prompt = usage.get("prompt_tokens")
    if prompt is None:
        prompt = usage.get("input_tokens", usage.get("prompt_eval_count", 0))
    completion = usage.get("completion_tokens")
    if completion is None:
        completion = usage.get("output_tokens", usage.get("eval_count", 0))
    return (prompt if isinstance(prompt, int) else 0), (completion if isinstance(completion, int) else 0)
