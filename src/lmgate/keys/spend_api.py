"""LiteLLM's spend endpoints (master key only), read from the spend log (the request log table of the
keys' database: `general_settings.database_url`, else the embedded `lmgate.db`).

    GET /spend/logs            rows of the spend log in LiteLLM's SpendLogs shape, newest first:
                               ?api_key= (the key or its hash), ?request_id=, ?start_date=, ?end_date=
                               (YYYY-MM-DD, or ISO 8601 times), ?limit= (default 1000, at most 10000).
                               With both dates and without ?summarize=false, LiteLLM's summary instead:
                               one entry per day, {"startTime": day, "spend", "models": {model: spend},
                               "users": {...}, <api_key hash>: spend}, days up to end_date filled with 0
    GET /global/spend/report   spend per day and team (?group_by=team, the default), each with its spend
                               by (key, model); ?group_by=api_key or ?api_key= (one key): per key, with
                               its spend and tokens per model, most spent first (LiteLLM's shapes);
                               ?start_date= / ?end_date= (default: the last 30 days)
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
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


_CALL_TYPES = {  # the request's path (its last segments) -> LiteLLM's call_type
    "chat/completions": "acompletion", "completions": "atext_completion", "embeddings": "aembedding",
    "messages": "anthropic_messages", "responses": "aresponses",
    "api/chat": "acompletion", "api/generate": "atext_completion", "api/embed": "aembedding",
    "api/embeddings": "aembedding",
}


def call_type(path: str) -> str:
    tail = path.strip("/").removeprefix("v1/").removeprefix("openai/")
    return _CALL_TYPES.get(tail, path)


def _model(record: dict[str, Any]) -> str:
    return str(record.get("upstream_model") or record.get("requested_model") or "")


def _spend_row(record: dict[str, Any]) -> dict[str, Any]:
    """A request-log record as one of LiteLLM's SpendLogs rows (prompts are never kept here: messages
    and response are empty, as in LiteLLM without store_prompts_in_spend_logs)."""
    start = float(record.get("time") or 0.0)
    prompt, completion = int(record.get("prompt_tokens") or 0), int(record.get("completion_tokens") or 0)
    return {
        "request_id": record.get("request_id"),
        "call_type": call_type(str(record.get("path") or "")),
        "api_key": record.get("api_key") or "",
        "key_alias": record.get("key_alias") or None,
        "spend": float(record.get("cost") or 0.0),
        "total_tokens": prompt + completion,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "startTime": _iso(start),
        "endTime": _iso(start + float(record.get("latency_s") or 0.0)),
        "model": _model(record),
        "model_group": record.get("model_group") or record.get("requested_model"),
        "model_id": record.get("deployment"),
        "api_base": "",
        "custom_llm_provider": record.get("provider"),
        "user": "",
        "metadata": {"status": record.get("status"), "route": record.get("route"), "inbound": record.get("inbound")},
        "cache_hit": "False",
        "cache_key": None,
        "request_tags": [],
        "team_id": record.get("team_id") or None,
        "team_alias": record.get("team") or None,
        "end_user": "",
        "requester_ip_address": None,
        "messages": {},
        "response": {},
        "status": "success" if int(record.get("status") or 0) < 400 else "failure",
    }


def _day(record: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(float(record.get("time") or 0.0), UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def summary(records: list[dict[str, Any]], last_day: date) -> list[dict[str, Any]]:
    """LiteLLM's summarised /spend/logs: per UTC day, the spend in all, per model, per user and per key;
    the days after the last one with spend, up to `last_day`, are listed with nothing spent."""
    days: dict[date, dict[str, Any]] = {}
    for r in records:
        cost = float(r.get("cost") or 0.0)
        entry = days.setdefault(_day(r).date(), {"users": {}, "models": {}, "spend": 0.0})
        entry["spend"] += cost
        key, model = str(r.get("api_key") or ""), _model(r)
        entry[key] = entry.get(key, 0.0) + cost
        entry["users"][""] = entry["users"].get("", 0.0) + cost  # lmgate keys have no users
        entry["models"][model] = entry["models"].get(model, 0.0) + cost
    out = [{**v, "startTime": k.isoformat()} for k, v in sorted(days.items())]
    if days:
        current = max(days) + timedelta(days=1)
        while current <= last_day:
            out.append({"startTime": current.isoformat(), "spend": 0, "users": {}, "models": {}})
            current += timedelta(days=1)
    return out


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


def _flag(text: str | None, name: str, default: bool) -> bool:
    if text is None or text == "":
        return default
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise BadRequest(f"'{name}' must be true or false", param=name)


async def spend_logs(request: web.Request) -> web.Response:
    from lmgate.keys.service import token_of

    q = request.query
    since, until = _when(q.get("start_date"), "start_date"), _when(q.get("end_date"), "end_date", end=True)
    filters: dict[str, str] = {}
    if q.get("api_key"):
        filters["api_key"] = token_of(q["api_key"])
    if q.get("request_id"):
        filters["request_id"] = q["request_id"]
    summarize = _flag(q.get("summarize"), "summarize", True) and since is not None and until is not None
    records = await _records(request, since, until, REPORT_ROWS if summarize else _limit(q.get("limit")), filters)
    if summarize:
        assert until is not None
        last_day = (datetime.fromtimestamp(until, UTC) - timedelta(microseconds=1)).date()
        body: list[dict[str, Any]] = summary(records, last_day)
    else:
        body = [_spend_row(r) for r in records]
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def report(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """LiteLLM's /global/spend/report by team: per UTC day, per team, spend by (key, model)."""
    days: dict[str, dict[str, dict[tuple[str, str], list[float]]]] = defaultdict(lambda: defaultdict(dict))
    names: dict[str, str] = {}
    for r in records:
        group = str(r.get("team_id") or "")
        names[group] = str(r.get("team") or "") or "Unassigned Team"  # LiteLLM's name for keys without a team
        cell = days[_day(r).isoformat()][group].setdefault((str(r.get("api_key") or ""), _model(r)), [0.0, 0])
        cell[0] += float(r.get("cost") or 0.0)
        cell[1] += int(r.get("prompt_tokens") or 0) + int(r.get("completion_tokens") or 0)
    out = []
    for day in sorted(days):
        teams: list[dict[str, Any]] = []
        for group, cells in days[day].items():
            metadata = [
                {"model": model, "api_key": key, "spend": spend, "total_tokens": int(tokens)}
                for (key, model), (spend, tokens) in sorted(cells.items())
            ]
            total = sum(spend for spend, _ in cells.values())
            teams.append({"team_name": names[group], "team_id": group or None, "total_spend": total, "metadata": metadata})
        out.append({"group_by_day": day, "teams": teams})
    return out


def report_by_key(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """LiteLLM's /global/spend/report by api_key: per key (most spent first), its cost and tokens per model."""
    keys: dict[str, dict[str, list[float]]] = defaultdict(dict)
    aliases: dict[str, str | None] = {}
    for r in records:
        key = str(r.get("api_key") or "")
        aliases[key] = r.get("key_alias") or None
        cell = keys[key].setdefault(_model(r), [0.0, 0, 0])
        cell[0] += float(r.get("cost") or 0.0)
        cell[1] += int(r.get("prompt_tokens") or 0)
        cell[2] += int(r.get("completion_tokens") or 0)
    out: list[dict[str, Any]] = []
    for key, models in sorted(keys.items(), key=lambda kv: -sum(c[0] for c in kv[1].values())):
        cells = sorted(models.items())
        out.append({
            "api_key": key,
            "key_alias": aliases[key],
            "total_cost": sum(c[0] for _, c in cells),
            "total_input_tokens": int(sum(c[1] for _, c in cells)),
            "total_output_tokens": int(sum(c[2] for _, c in cells)),
            "model_details": [
                {"model": model, "total_cost": cost, "total_input_tokens": int(tin), "total_output_tokens": int(tout)}
                for model, (cost, tin, tout) in cells
            ],
        })
    return out


async def global_spend_report(request: web.Request) -> web.Response:
    from lmgate.keys.service import token_of

    q = request.query
    group_by = q.get("group_by") or "team"
    if group_by not in ("team", "api_key"):
        raise BadRequest("'group_by' must be team or api_key (lmgate has no customers)", param="group_by")
    until = _when(q.get("end_date"), "end_date", end=True) or time.time() + 1
    since = _when(q.get("start_date"), "start_date") or until - 30 * 86400
    one_key = {"api_key": token_of(q["api_key"])} if q.get("api_key") else None
    records = await _records(request, since, until, REPORT_ROWS, one_key)
    body = report_by_key(records) if one_key or group_by == "api_key" else report(records)
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/spend/logs", spend_logs, allow_head=False),
        web.get("/global/spend/report", global_spend_report, allow_head=False),
    ]
