"""Key and team spend, settled from the spend log's batches (the request log table): in the same
transaction as the batch's insert and only for the rows that insert added, so a batch replayed from
the spool (observability/requestlog.py) never counts twice. One UPDATE per key and per team per batch,
never one per request, and nothing on the request path.

`spend` is the spend of the current budget period (`budget_reset_at` is when it ends; a settlement
after that starts the new period from zero), or of the key's whole life without a budget_duration.
`model_spend` holds the same per requested model (for model_max_budget).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from lmgate.limits.plan import anchor_of, period_at, period_seconds
from lmgate.store.tables import keys, teams


@dataclass(slots=True)
class Delta:
    cost: float = 0.0
    models: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Settled:
    """A scope's spend in the database after a batch (limits/plan.py names scopes)."""

    scope: str
    period_end: float
    spend: float


def deltas(records: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Delta], dict[str, Delta]]:
    """Cost per key hash (and per requested model) and per team id."""
    by_key: dict[str, Delta] = {}
    by_team: dict[str, Delta] = {}
    for r in records:
        cost = float(r.get("cost") or 0.0)
        if cost <= 0.0:
            continue
        token, team = r.get("api_key"), r.get("team_id")
        if token:
            d = by_key.setdefault(token, Delta())
            d.cost += cost
            model = str(r.get("requested_model") or "")
            d.models[model] = d.models.get(model, 0.0) + cost
        if team:
            by_team.setdefault(team, Delta()).cost += cost
    return by_key, by_team


def _next(row: Mapping[str, Any], delta: Delta, now: float) -> tuple[dict[str, Any], float]:
    """The row's new spend values, and the end of the period they belong to (inf: lifetime)."""
    duration = period_seconds(row.get("budget_duration"))
    spend = float(row.get("spend") or 0.0)
    models = dict(row.get("model_spend") or {}) if "model_spend" in row else None
    values: dict[str, Any] = {}
    end = math.inf
    if duration is not None:
        anchor = anchor_of(row, duration)
        _, end = period_at(now, duration, anchor)
        if abs(anchor + duration - end) > 1.0:  # the stored spend is of an earlier period
            spend, models = 0.0, {} if models is not None else None
        values["budget_reset_at"] = end
    values["spend"] = spend + delta.cost
    if models is not None:
        for model, cost in delta.models.items():
            models[model] = float(models.get(model) or 0.0) + cost
        values["model_spend"] = models
    return values, end


async def settle(conn: AsyncConnection, records: Iterable[Mapping[str, Any]], now: float) -> list[Settled]:
    by_key, by_team = deltas(records)
    out: list[Settled] = []
    lock = conn.dialect.name == "postgresql"  # SQLite: the batch's insert already holds the write lock
    for table, column, by, prefix, extra in (
        (keys, keys.c.token, by_key, "k:", [keys.c.model_spend]),
        (teams, teams.c.team_id, by_team, "t:", []),
    ):
        if not by:
            continue
        query = select(
            column, table.c.spend, table.c.budget_duration, table.c.budget_reset_at, table.c.created_at, *extra
        ).where(column.in_(list(by)))
        if lock:
            query = query.with_for_update()
        for row in (await conn.execute(query)).mappings():
            ident = row[column.name]
            values, end = _next(dict(row), by[ident], now)
            await conn.execute(update(table).where(column == ident).values(**values))
            out.append(Settled(prefix + ident, end, values["spend"]))
            for model, spend in (values.get("model_spend") or {}).items():
                out.append(Settled(f"{prefix}{ident}|{model}", end, float(spend)))
    return out
