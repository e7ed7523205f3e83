"""A virtual key's limits and budgets, compiled once per key when the key ring loads (keys/model.py).

A request of a key without any limit costs nothing here (`Principal.limits` is None). Otherwise the
request path asks `LimitPlan.for_model(alias)` for the scopes that apply (the key's, its team's and the
key's per-model ones): two tuples built once per (key, alias) and then read from a dict.

Scopes name shared counters:
    k:<key hash>            the key's rpm/tpm/parallel and its money budget
    t:<team id>             the team's
    k:<key hash>|<alias>    the key's model_rpm_limit / model_tpm_limit / model_max_budget for one alias

Budget periods (`budget_duration`: 30s, 30m, 12h, 30d, 2w, 1mo) run back to back from the key's (or
team's) creation, or from the last change of its budget_duration (the admin API restarts the period
then): the period a moment falls in is computed from the clock, the same on every replica, so no
process has to "reset" anything for enforcement; `budget_reset_at` in the database is the end of the
period its `spend` belongs to (the spend log's settlement rolls it forward).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lmgate.limits.base import Quota

_DURATION = re.compile(r"^(\d+)(s|m|h|d|w|mo)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "mo": 2592000}


def period_seconds(text: str | None) -> float | None:
    """LiteLLM's durations: 30s, 30m, 12h, 30d, 2w, 1mo (None: not a duration)."""
    if not text:
        return None
    m = _DURATION.match(text.strip())
    return int(m.group(1)) * _SECONDS[m.group(2)] if m and int(m.group(1)) > 0 else None


def anchor_of(row: Mapping[str, Any], duration: float | None) -> float:
    """The moment a key's or team's budget periods are counted from: the start of the period its
    `budget_reset_at` ends, else its creation."""
    reset_at = row.get("budget_reset_at")
    if duration is not None and reset_at is not None:
        return float(reset_at) - duration
    return float(row.get("created_at") or 0.0)


def period_at(now: float, duration: float | None, anchor: float) -> tuple[float, float]:
    """(start, end) of the budget period `now` falls in; (0, inf) without a duration."""
    if duration is None:
        return 0.0, math.inf
    n = max(0, math.floor((now - anchor) / duration))
    start = anchor + n * duration
    return start, start + duration


@dataclass(slots=True, frozen=True)
class Rate:
    """Request-rate limits of one scope (None: unlimited)."""

    scope: str
    label: str  # for messages and metrics: "key 'paperless'", "team 'agents'", ...
    rpm: int | None
    tpm: int | None
    parallel: int | None
    quota: Quota = field(init=False, repr=False, compare=False)  # rpm/tpm as the windows check them

    def __post_init__(self) -> None:
        object.__setattr__(self, "quota", Quota(self.rpm, self.tpm))


@dataclass(slots=True, frozen=True)
class Budget:
    """A money budget of one scope: `limit` USD per period (the whole lifetime without a duration)."""

    scope: str
    label: str
    kind: str  # "key" | "team" | "model": which gauge and which message
    name: str  # the key's label or the team's, for metrics (never the key)
    limit: float
    soft: float | None
    duration: float | None
    anchor: float  # the moment periods are counted from
    spend: float  # the database's spend as loaded, for `db_end`'s period
    db_end: float | None  # end of the period the loaded `spend` belongs to (None: lifetime)

    def period(self, now: float) -> tuple[float, float]:
        """(start, end) of the period `now` falls in; (0, inf) for a lifetime budget."""
        return period_at(now, self.duration, self.anchor)

    def counter(self, start: float) -> str:
        """The shared counter of one period (a new period starts from zero)."""
        return f"{self.scope}@{int(start)}"

    def seed(self, end: float, seen: float | None) -> float:
        """What this period has already spent before the counter existed: the database's spend when it
        belongs to this period (or `seen`, newer, from this process's last settlement), else 0."""
        if self.duration is not None and (self.db_end is None or abs(self.db_end - end) > 1.0):
            return seen if seen is not None else 0.0
        return max(self.spend, seen or 0.0)


@dataclass(slots=True)
class LimitPlan:
    rates: tuple[Rate, ...]
    budgets: tuple[Budget, ...]
    model_rates: dict[str, Rate]
    model_budgets: dict[str, Budget]
    by_alias: dict[str, tuple[tuple[Rate, ...], tuple[Budget, ...]]] = field(default_factory=dict)

    def for_model(self, alias: str) -> tuple[tuple[Rate, ...], tuple[Budget, ...]]:
        found = self.by_alias.get(alias)
        if found is None:
            rate, budget = self.model_rates.get(alias), self.model_budgets.get(alias)
            found = (self.rates + ((rate,) if rate else ()), self.budgets + ((budget,) if budget else ()))
            if len(self.by_alias) < 4096:
                self.by_alias[alias] = found
        return found

    @property
    def has_budget(self) -> bool:
        return bool(self.budgets or self.model_budgets)


def _rate(scope: str, label: str, row: Mapping[str, Any]) -> Rate | None:
    rpm, tpm, par = row.get("rpm_limit"), row.get("tpm_limit"), row.get("max_parallel_requests")
    return Rate(scope, label, rpm, tpm, par) if rpm is not None or tpm is not None or par is not None else None


def _budget(scope: str, label: str, kind: str, name: str, row: Mapping[str, Any], limit: Any,
            duration: float | None, spend: float) -> Budget | None:
    soft = row.get("soft_budget") if kind != "model" else None
    if not isinstance(limit, int | float) or isinstance(limit, bool):
        if soft is None:
            return None
        limit = math.inf  # only a soft_budget: spend is counted to tell when it is crossed, nothing refused
    anchor = anchor_of(row, duration)
    db_end = None if duration is None else anchor + duration
    return Budget(scope, label, kind, name, float(limit), soft, duration, anchor, spend, db_end)


def model_budget_limit(value: Any) -> tuple[Any, str | None]:
    """LiteLLM's model_max_budget entries: a number, or {"budget_limit": n, "time_period": "1d"}."""
    if isinstance(value, Mapping):
        return value.get("budget_limit"), value.get("time_period")
    return value, None


def compile_plan(row: Mapping[str, Any], team: Mapping[str, Any] | None, label: str, team_label: str) -> LimitPlan | None:
    """The key's limits with its team's; None when neither has any (the request path then skips limits)."""
    token = row["token"]
    key_scope = f"k:{token}"
    rates: list[Rate] = []
    budgets: list[Budget] = []
    key_duration = period_seconds(row.get("budget_duration"))
    for scope, what, source, kind, name in (
        (key_scope, f"key '{label}'", row, "key", label),
        *(((f"t:{team['team_id']}", f"team '{team_label}'", team, "team", team_label),) if team is not None else ()),
    ):
        rate = _rate(scope, what, source)
        if rate is not None:
            rates.append(rate)
        duration = period_seconds(source.get("budget_duration"))
        budget = _budget(scope, what, kind, name, source, source.get("max_budget"), duration, float(source.get("spend") or 0.0))
        if budget is not None:
            budgets.append(budget)
    model_rates: dict[str, Rate] = {}
    rpm_by_model = row.get("model_rpm_limit") or {}
    tpm_by_model = row.get("model_tpm_limit") or {}
    for alias in {*rpm_by_model, *tpm_by_model}:
        model_rates[alias] = Rate(
            f"{key_scope}|{alias}", f"key '{label}' on model '{alias}'", rpm_by_model.get(alias), tpm_by_model.get(alias), None
        )
    model_budgets: dict[str, Budget] = {}
    model_spend = row.get("model_spend") or {}
    for alias, value in (row.get("model_max_budget") or {}).items():
        limit, period = model_budget_limit(value)
        duration = period_seconds(period) if period else key_duration
        # the model's spend in the database is kept per key period: usable as a seed when periods agree
        spend = float(model_spend.get(alias) or 0.0) if duration == key_duration else 0.0
        own = row if duration == key_duration else {"created_at": row.get("created_at")}  # its own periods
        budget = _budget(f"{key_scope}|{alias}", f"key '{label}' on model '{alias}'", "model", label, own, limit, duration, spend)
        if budget is not None:
            model_budgets[alias] = budget
    if not (rates or budgets or model_rates or model_budgets):
        return None
    return LimitPlan(tuple(rates), tuple(budgets), model_rates, model_budgets)
