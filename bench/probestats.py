"""Shared by the sequential probes (ttfb.py, route_probe.py): run as scripts, they import this from bench/."""

from __future__ import annotations


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile p (0-100); NaN for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]
