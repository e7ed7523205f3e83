"""Model-name comparisons shared by doctor and catalog: Ollama tags, `-cloud` suffixes, closest names."""

from __future__ import annotations

import difflib

from lmgate.providers.ollama import CLOUD_HOST, CLOUD_SUFFIXES, is_cloud

__all__ = ["CLOUD_HOST", "is_ollama_cloud"]
is_ollama_cloud = is_cloud


def ollama_canonical(name: str) -> str:
    """`qwen3` and `qwen3:latest` are the same Ollama model."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def strip_cloud(name: str) -> str:
    """The direct Ollama Cloud name of a name used through a local daemon: `X:TAG-cloud` -> `X:TAG`,
    `X:cloud` -> `X` (PROTOCOLS.md 1.11)."""
    if name.endswith(":cloud"):
        return name[: -len(":cloud")]
    if name.endswith("-cloud"):
        return name[: -len("-cloud")]
    return name


def has_cloud_suffix(name: str) -> bool:
    return name.endswith(CLOUD_SUFFIXES)


def present(model: str, names: list[str]) -> str | None:
    """The listed name that `model` refers to, or None."""
    wanted = ollama_canonical(model)
    for n in names:
        if n == model or ollama_canonical(n) == wanted:
            return n
    return None


def closest(model: str, names: list[str], n: int = 3) -> list[str]:
    """Up to `n` listed names that look like `model` (same base name first, then by spelling)."""
    base = model.split(":", 1)[0]
    extended = [x for x in names if x.startswith(model) or model.startswith(x)]  # a quant/variant suffix
    same_base = [x for x in names if x.split(":", 1)[0] == base]
    fuzzy = difflib.get_close_matches(model, names, n=n, cutoff=0.5)
    out: list[str] = []
    for x in [*extended, *same_base, *fuzzy]:
        if x not in out:
            out.append(x)
    return out[:n]
