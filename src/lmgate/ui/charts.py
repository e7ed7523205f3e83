"""Chart geometry for inline SVG, computed here so the templates only place shapes (no JavaScript
chart library, nothing fetched from anywhere). Pure functions: numbers in, shapes out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

WIDTH, HEIGHT = 600, 160  # the timeline's viewBox; the SVG scales to the screen
BAR_W = 100  # a group bar's full length, in percent-like units of its own viewBox


class Counted(Protocol):
    start: float
    requests: int
    errors: int
    tokens: int


@dataclass(frozen=True, slots=True)
class Column:
    x: float
    w: float
    ok_y: float
    ok_h: float
    err_y: float
    err_h: float
    label: str  # for the <title> tooltip and screen readers
    tick: str  # the axis label under some columns ("" under the rest)


def _nice_max(value: float) -> float:
    """A round number at or above `value` for the axis top (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    scale = 1.0
    while scale * 10 <= value:
        scale *= 10
    for step in (1, 2, 5, 10):
        if step * scale >= value:
            return step * scale
    return 10 * scale


def timeline(buckets: Sequence[Counted], bucket_s: float) -> dict[str, Any]:
    """Stacked columns (successes under errors) per time bucket, with a y-axis top and x ticks."""
    top = _nice_max(max((b.requests for b in buckets), default=0))
    plot_h = HEIGHT - 20  # room for the ticks
    w = WIDTH / max(1, len(buckets))
    fmt = "%H:%M"
    cols = []
    every = max(1, len(buckets) // 6)
    for i, b in enumerate(buckets):
        ok_h = (b.requests - b.errors) / top * plot_h
        err_h = b.errors / top * plot_h
        when = datetime.fromtimestamp(b.start, UTC).strftime(fmt)
        label = f"{when} UTC: {b.requests} requests, {b.errors} errors, {b.tokens} tokens"
        cols.append(Column(i * w + 1, w - 2, plot_h - ok_h, ok_h, plot_h - ok_h - err_h, err_h, label, when if i % every == 0 else ""))
    return {"columns": cols, "top": int(top) if top == int(top) else top, "width": WIDTH, "height": HEIGHT, "plot_h": plot_h,
            "bucket_min": round(bucket_s / 60)}


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    text: str
    w: float  # 0..BAR_W


def bars(items: Sequence[tuple[str, float, str]]) -> list[Bar]:
    """Horizontal bars scaled to the largest value: (label, value, value as text) each."""
    top = max((v for _, v, _ in items), default=0) or 1
    return [Bar(label, value, text, max(0.5, value / top * BAR_W) if value > 0 else 0) for label, value, text in items]


METRICS = (  # (usage row field, heading, how to print it)
    ("requests", "Requests", "{:,.0f}"),
    ("errors", "Errors", "{:,.0f}"),
    ("p50_latency_s", "Latency p50 (s)", "{:.3f}"),
    ("p95_latency_s", "Latency p95 (s)", "{:.3f}"),
    ("total_tokens", "Tokens", "{:,.0f}"),
)


def group_bars(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One bar chart per metric over the groups (reports.usage rows)."""
    return [
        {"heading": heading, "bars": bars([(r["group"], float(r[field]), fmt.format(r[field])) for r in rows])}
        for field, heading, fmt in METRICS
    ]
