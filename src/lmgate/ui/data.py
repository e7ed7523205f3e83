"""What the admin pages show, read from where it lives: the router (live deployment state), the
request log table in the database (traffic, requests, spend), the key store (keys) and the loaded
config (masked). Plain dicts and lists out; the pages render them."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import yaml
from aiohttp import web
from sqlalchemy import func, select

from lmgate.observability import reports
from lmgate.observability.observer import OBSERVER
from lmgate.observability.sinks import DatabaseSink
from lmgate.ops.audit import KEY_PATTERNS
from lmgate.routing.status import deployment_states
from lmgate.server.state import HEALTH_CHECKS, STATE
from lmgate.store.tables import request_log

if TYPE_CHECKING:
    from lmgate.store.engine import Store

WINDOWS = {"hour": (3600.0, 12), "day": (86400.0, 24)}  # window -> (seconds, chart buckets)
GROUPS = {"model": "alias", "provider": "provider", "key": "key"}  # reports.GROUPINGS name -> heading
MAX_KEYS_SHOWN = 1000


# ---- where the data comes from -----------------------------------------------------------------------


def live_state_source(request: web.Request) -> str:
    st = request.app[STATE]
    link = st.router.state.redis
    if link is None:
        return f"this worker (pid {os.getpid()}): every worker keeps its own cooldowns and quota counters"
    if not link.ok:
        return f"this worker (pid {os.getpid()}): Redis ({link.where}) is unreachable, so each worker counts on its own for now"
    return f"Redis ({link.where}), shared by every worker and replica"


def log_store(request: web.Request) -> Store | None:
    """The database the request log is written to (general_settings.database_url), if any."""
    log = request.app[OBSERVER].request_log
    for sink in log.sinks if log is not None else ():
        if isinstance(sink, DatabaseSink) and sink.ready:
            return sink.store
    return None


# ---- models ----------------------------------------------------------------------------------------


def _cooldown_text(row: dict[str, Any]) -> str:
    state = row["state"]
    if state == "cooling_down":
        return f"cooling down, {row.get('cooldown_remaining_s', 0):.0f} s left ({row.get('reason') or 'failures'})"
    if state == "over_quota":
        return f"over quota ({row.get('reason')})"
    return "healthy"


async def models(request: web.Request) -> dict[str, Any]:
    """Each alias with its deployments' live state and its fallback chain, as /health reports them."""
    st = request.app[STATE]
    body = await deployment_states(st.router)
    probes = request.app[HEALTH_CHECKS].results
    by_alias: dict[str, list[dict[str, Any]]] = {}
    for row in body["deployments"]:
        row["state_text"] = _cooldown_text(row)
        row["unsupported_text"] = ", ".join(f"{ep}: {v['reason']}" for ep, v in (row.get("unsupported") or {}).items())
        found = probes.get(row["deployment"]) if probes else None
        row["probe"] = f"{'up' if found.up else 'down'}: {found.detail}" if found is not None else None
        by_alias.setdefault(row["model_name"], []).append(row)
    aliases = []
    for alias, rows in by_alias.items():
        chain = st.config.chains.get(alias)
        aliases.append({
            "alias": alias,
            "deployments": rows,
            "chain": [alias, *(chain.fallbacks if chain else ())],
            "context_window": list(chain.context_window) if chain else [],
            "content_policy": list(chain.content_policy) if chain else [],
            "default_fallbacks": bool(chain and chain.from_default),
        })
    return {
        "aliases": aliases,
        "healthy": body["healthy_count"],
        "unhealthy": body["unhealthy_count"],
        "unsupported": body["unsupported"],
    }


# ---- traffic -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class Bucket:
    start: float
    requests: int = 0
    errors: int = 0
    tokens: int = 0


def timeline(records: Iterable[dict[str, Any]], since: float, seconds: float, count: int) -> list[Bucket]:
    """Requests, errors and tokens per time bucket across the window."""
    width = seconds / count
    buckets = [Bucket(since + i * width) for i in range(count)]
    for r in records:
        i = int((float(r.get("time") or 0) - since) // width)
        if 0 <= i < count:
            b = buckets[i]
            b.requests += 1
            b.errors += int(r.get("status") or 0) >= 400
            b.tokens += int(r.get("prompt_tokens") or 0) + int(r.get("completion_tokens") or 0)
    return buckets


async def traffic(store: Store, window: str) -> dict[str, Any]:
    """The window's usage by alias, provider and key (reports.usage, as `lmgate usage` rolls it up)."""
    seconds, count = WINDOWS[window]
    since = time.time() - seconds
    records = await store.request_logs_since(since)
    return {
        "total": len(records),
        "errors": sum(1 for r in records if int(r.get("status") or 0) >= 400),
        "timeline": timeline(records, since, seconds, count),
        "bucket_s": seconds / count,
        "groups": {heading: _named(reports.usage(records, by), by) for by, heading in GROUPS.items()},
    }


def _named(rows: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """Requests without a key label came with the master key (or to an open gateway)."""
    if by == "key":
        for row in rows:
            if row["group"] == "(none)":
                row["group"] = "(master key)"
    return rows


# ---- requests ----------------------------------------------------------------------------------------


def _status_clause(status: str) -> Any:
    col = request_log.c.status
    if status in ("error", "errors"):
        return col >= 400
    if len(status) == 3 and status.endswith("xx") and status[0].isdigit():
        low = int(status[0]) * 100
        return (col >= low) & (col < low + 100)
    if status.isdigit():
        return col == int(status)
    return None


async def recent_requests(store: Store, alias: str = "", key: str = "", status: str = "", limit: int = 100) -> list[dict[str, Any]]:
    """The newest request-log rows matching the filters (the same status spellings as `lmgate logs`)."""
    query = select(request_log.c.record).order_by(request_log.c.time.desc()).limit(limit)
    if alias:
        query = query.where((request_log.c.requested_model == alias) | (request_log.c.model_group == alias))
    if key:
        query = query.where(request_log.c.key_alias == key)
    clause = _status_clause(status) if status else None
    if clause is not None:
        query = query.where(clause)
    async with store.engine.connect() as conn:
        rows = [orjson.loads(r[0]) for r in await conn.execute(query)]
    for r in rows:
        r["timeline"] = route_timeline(r.get("route") or [])
    return rows


def route_timeline(route: list[list[Any]]) -> list[dict[str, Any]]:
    """The route trace's attempts laid end to end: offset and width as fractions of the whole."""
    total = sum(float(a[2] or 0) for a in route if len(a) >= 3) or 1.0
    out, at = [], 0.0
    for attempt in route:
        name, outcome, seconds = (list(attempt) + ["", "", 0.0])[:3]
        seconds = float(seconds or 0)
        out.append({
            "deployment": name, "outcome": str(outcome), "seconds": seconds,
            "ok": str(outcome) == "ok", "x": at / total, "w": max(seconds / total, 0.01),
        })
        at += seconds
    return out


async def spend_by_key(store: Store) -> dict[str, float]:
    """Cost summed from the request log per key label (key_alias, else the key's sk-...abcd name)."""
    query = select(request_log.c.key_alias, func.sum(request_log.c.cost)).group_by(request_log.c.key_alias)
    async with store.engine.connect() as conn:
        return {str(label): float(total or 0.0) for label, total in await conn.execute(query) if label}


# ---- keys --------------------------------------------------------------------------------------------


def key_label(row: dict[str, Any]) -> str:
    """What the request log calls a key (keys/model.py principal(): key_alias, else key_name)."""
    return str(row.get("key_alias") or row.get("key_name") or "")


async def all_keys(admin: Any) -> list[dict[str, Any]]:
    """Every key (KeyAdmin.list_keys, page by page), oldest first."""
    out: list[dict[str, Any]] = []
    page = 1
    while len(out) < MAX_KEYS_SHOWN:
        result = await admin.list_keys({"page": page, "size": 100, "return_full_object": "true"})
        out.extend(result.body["keys"])
        if page >= result.body["total_pages"]:
            break
        page += 1
    return out


# ---- config ------------------------------------------------------------------------------------------

MASK = "•••••• (hidden)"
_PYDANTIC_MASK = "**********"  # how a SecretStr field (database_url, redis_url, ...) dumps
_SECRET_FIELD = re.compile(r"key|secret|password|passwd|token|bearer|authorization|credential", re.IGNORECASE)
_NOT_SECRET_FIELD = re.compile(r"^(max_tokens|max_completion_tokens|.*_tokens?_limit|.*_per_token|tpm|tokens?)$", re.IGNORECASE)
_USERINFO = re.compile(r"(://[^:/\s@]*:)([^@\s/]+)(@)")


def _mask_text(value: str) -> str:
    value = _USERINFO.sub(lambda m: m.group(1) + MASK + m.group(3), value)
    for _, pattern in KEY_PATTERNS:
        value = pattern.sub(MASK, value)
    return value


def _masked(value: Any, name: str = "", under_env: bool = False) -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, str(k), under_env or k == "environment_variables") for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, name, under_env) for v in value]
    if isinstance(value, str):
        if value.startswith("os.environ/"):
            return value  # a reference names a variable, it holds no secret
        if value == _PYDANTIC_MASK or under_env or (_SECRET_FIELD.search(name) and not _NOT_SECRET_FIELD.match(name)):
            return MASK
        return _mask_text(value)
    return value


def masked_config(request: web.Request) -> str:
    """The loaded config as YAML, every secret masked (fields named like secrets, environment
    variables, passwords in URLs, anything shaped like a provider key)."""
    raw = request.app[STATE].config.file.model_dump(mode="json", exclude_none=True, by_alias=True)
    return yaml.safe_dump(_masked(raw), sort_keys=False, allow_unicode=True, width=100)
