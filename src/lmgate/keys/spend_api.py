"""LiteLLM's spend endpoints (master key only), read from the spend log (the request log table of the
keys' database: `general_settings.database_url`, else the embedded `lmgate.db`).

    GET /spend/logs            rows of the spend log in LiteLLM's SpendLogs shape, newest first:
                               ?api_key= (the key or its hash), ?request_id=, ?start_date=, ?end_date=
                               (YYYY-MM-DD, or ISO 8601 times), ?limit= (default 1000, at most 10000)
    GET /global/spend/report   spend per day and team (?group_by=team, the default) or per day and key
                               (?group_by=api_key), each with its spend by (key, model): LiteLLM's shape;
                               ?start_date= / ?end_date= (default: the last 30 days)
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from lmgate.errors import BadRequest, GatewayError
from lmgate.keys.auth import KEYS

MAX_ROWS = 10_000
DEFAULT_ROWS = 1000
REPORT_ROWS = 1_000_000  # a report reads at most this many requests (the newest)


def _when(text: str | None, name: str, end: bool = False) -> float | None:
    """A date (its start, or with `end` the start of the next day) or an ISO time -> unix seconds."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"'{name}' must be a date (YYYY-MM-DD) or an ISO 8601 time", param=name) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if end and len(text) == 10:
        parsed += timedelta(days=1)
    return parsed.timestamp()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def _spend_row(record: dict[str, Any]) -> dict[str, Any]:
    """A request-log record as one of LiteLLM's SpendLogs rows."""
    start = float(record.get("time") or 0.0)
    prompt, completion = int(record.get("prompt_tokens") or 0), int(record.get("completion_tokens") or 0)
    return {
        "request_id": record.get("request_id"),
        "call_type": record.get("path"),
        "api_key": record.get("api_key") or "",
        "key_alias": record.get("key_alias") or None,
        "spend": float(record.get("cost") or 0.0),
        "total_tokens": prompt + completion,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "startTime": _iso(start),
        "endTime": _iso(start + float(record.get("latency_s") or 0.0)),
        "model": record.get("upstream_model") or record.get("requested_model"),
        "model_group": record.get("model_group") or record.get("requested_model"),
        "model_id": record.get("deployment"),
        "custom_llm_provider": record.get("provider"),
        "user": "",
        "metadata": {"status": record.get("status"), "route": record.get("route"), "inbound": record.get("inbound")},
        "cache_hit": "False",
        "request_tags": [],
        "team_id": record.get("team_id") or None,
        "team_alias": record.get("team") or None,
        "end_user": "",
        "status": "success" if int(record.get("status") or 0) < 400 else "failure",
    }


async def _records(
    request: web.Request, since: float | None, until: float | None, limit: int, filters: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from lmgate.keys.store import UNREACHABLE
    from lmgate.store.tables import request_log

    ring = request.app[KEYS]
    query = select(request_log.c.record).order_by(request_log.c.time.desc())
    if since is not None:
        query = query.where(request_log.c.time >= since)
    if until is not None:
        query = query.where(request_log.c.time < until)
    for column, value in (filters or {}).items():
        query = query.where(request_log.c[column] == value)
    try:
        if not ring.exists:
            return []
        await ring.open()
        async with ring.store.store.engine.connect() as conn:
            rows = await conn.execute(query.limit(limit))
            return [orjson.loads(r[0]) for r in rows]
    except UNREACHABLE:
        raise GatewayError("the spend log's database is unreachable", status=503, code="spend_log_unavailable") from None


def _limit(text: str | None) -> int:
    try:
        n = int(text) if text else DEFAULT_ROWS
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_ROWS:
        raise BadRequest(f"'limit' must be a whole number from 1 to {MAX_ROWS}", param="limit")
    return n


async def spend_logs(request: web.Request) -> web.Response:
    from lmgate.keys.service import token_of

    q = request.query
    since, until = _when(q.get("start_date"), "start_date"), _when(q.get("end_date"), "end_date", end=True)
    filters: dict[str, str] = {}
    if q.get("api_key"):
        filters["api_key"] = token_of(q["api_key"])
    if q.get("request_id"):
        filters["request_id"] = q["request_id"]
    records = await _records(request, since, until, _limit(q.get("limit")), filters)
    body = [_spend_row(r) for r in records]
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def report(records: list[dict[str, Any]], group_by: str) -> list[dict[str, Any]]:
    """LiteLLM's /global/spend/report: per UTC day, per team (or key), spend by (key, model)."""
    days: dict[str, dict[str, dict[tuple[str, str], list[float]]]] = defaultdict(lambda: defaultdict(dict))
    names: dict[str, str | None] = {}
    for r in records:
        cost = float(r.get("cost") or 0.0)
        day = datetime.fromtimestamp(float(r.get("time") or 0.0), UTC).replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
        if group_by == "team":
            group = str(r.get("team_id") or "")
            names[group] = r.get("team") or None
        else:
            group = str(r.get("api_key") or "")
            names[group] = r.get("key_alias") or None
        cell = days[day][group].setdefault((str(r.get("api_key") or ""), str(r.get("model_group") or "")), [0.0, 0])
        cell[0] += cost
        cell[1] += int(r.get("prompt_tokens") or 0) + int(r.get("completion_tokens") or 0)
    out = []
    for day in sorted(days):
        groups: list[dict[str, Any]] = []
        for group, cells in days[day].items():
            metadata = [
                {"model": model, "spend": spend, "total_tokens": int(tokens), "api_key": key}
                for (key, model), (spend, tokens) in sorted(cells.items())
            ]
            total = sum(spend for spend, _ in cells.values())
            if group_by == "team":
                groups.append({"team_name": names[group], "team_id": group or None, "total_spend": total, "metadata": metadata})
            else:
                groups.append({"api_key": group, "key_alias": names[group], "total_cost": total, "total_spend": total, "metadata": metadata})
        out.append({"group_by_day": day, "teams" if group_by == "team" else "api_keys": groups})
    return out


async def global_spend_report(request: web.Request) -> web.Response:
    q = request.query
    group_by = q.get("group_by") or "team"
    if group_by not in ("team", "api_key"):
        raise BadRequest("'group_by' must be team or api_key (lmgate has no customers)", param="group_by")
    until = _when(q.get("end_date"), "end_date", end=True) or time.time() + 1
    since = _when(q.get("start_date"), "start_date") or until - 30 * 86400
    records = await _records(request, since, until, REPORT_ROWS)
    return web.Response(body=orjson.dumps(report(records, group_by)), content_type="application/json")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/spend/logs", spend_logs, allow_head=False),
        web.get("/global/spend/report", global_spend_report, allow_head=False),
    ]
