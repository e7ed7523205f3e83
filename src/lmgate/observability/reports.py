"""Reading the request log back: the JSONL files (rotated and per-worker), filters and usage rollups."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
GROUPINGS = {"provider": "provider", "model": "requested_model", "deployment": "deployment", "key": "key_alias", "team": "team"}


def parse_duration(text: str) -> float:
    """'90s', '15m', '1h', '24h', '7d' -> seconds."""
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"'{text}' is not a duration like 15m, 1h, 24h or 7d")
    return float(m.group(1)) * _UNITS[m.group(2)]


def log_files(path: Path) -> list[Path]:
    """The log file, its per-worker siblings and rotated copies, oldest first."""
    stem, suffix = path.stem, path.suffix
    files = [p for p in path.parent.glob(f"{stem}*{suffix}*") if p.is_file() and not p.name.endswith(".tmp")]

    def age(p: Path) -> tuple[int, float]:
        rotation = p.name.rsplit(".", 1)[-1]
        return (-int(rotation) if rotation.isdigit() else 0, p.stat().st_mtime)

    return sorted(files, key=age)


def read_records(files: Iterable[Path]) -> Iterator[dict[str, Any]]:
    for f in files:
        with f.open("rb") as fh:
            for line in fh:
                if line.strip():
                    try:
                        yield orjson.loads(line)
                    except orjson.JSONDecodeError:
                        continue  # a torn last line while a writer is mid-append


def status_matches(status: int, wanted: str | None) -> bool:
    if not wanted:
        return True
    if wanted in ("error", "errors"):
        return status >= 400
    if len(wanted) == 3 and wanted.endswith("xx") and wanted[0].isdigit():
        return status // 100 == int(wanted[0])
    return str(status) == wanted


def matches(record: dict[str, Any], model: str | None, status: str | None) -> bool:
    if model and model not in (record.get("requested_model"), record.get("model_group"), record.get("deployment")):
        return False
    return status_matches(int(record.get("status") or 0), status)


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


@dataclass(slots=True)
class UsageRow:
    group: str
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "group": self.group,
            "requests": self.requests,
            "errors": self.errors,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "cost_usd": round(self.cost, 6),
            "p50_latency_s": round(_percentile(lat, 0.5), 4),
            "p95_latency_s": round(_percentile(lat, 0.95), 4),
        }


def usage(records: Iterable[dict[str, Any]], by: str, since: float | None = None) -> list[dict[str, Any]]:
    """Roll records up by provider | model | deployment | key; busiest group first."""
    key = GROUPINGS[by]
    rows: dict[str, UsageRow] = {}
    for r in records:
        if since is not None and float(r.get("time") or 0) < since:
            continue
        group = str(r.get(key) or "(none)")
        row = rows.get(group) or rows.setdefault(group, UsageRow(group))
        row.requests += 1
        if int(r.get("status") or 0) >= 400:
            row.errors += 1
        row.prompt_tokens += int(r.get("prompt_tokens") or 0)
        row.completion_tokens += int(r.get("completion_tokens") or 0)
        row.cost += float(r.get("cost") or 0.0)
        row.latencies.append(float(r.get("latency_s") or 0.0))
    return [row.as_dict() for row in sorted(rows.values(), key=lambda x: (-x.requests, x.group))]


def since_now(last: str) -> float:
    return time.time() - parse_duration(last)
