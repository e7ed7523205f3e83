"""`lmgate keys import`: LiteLLM's teams and virtual keys, read from its Postgres database.

LiteLLM stores each key as the sha256 hex of its value (`LiteLLM_VerificationToken.token`), which is
lmgate's hash too: imported keys keep working with the values consumers already have. Only the
fields lmgate knows are copied (models, alias, team, expiry, metadata, blocked, limits, spend); users,
aliases maps, permissions and budgets tables are not. Keys and teams already present (same hash or id)
are left alone; a key whose alias another key already uses is skipped and reported.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from lmgate.keys.store import KeyStore, Row, as_row
from lmgate.store.engine import async_url

KEYS_TABLE = "LiteLLM_VerificationToken"
TEAMS_TABLE = "LiteLLM_TeamTable"
_LIMITS = ("rpm_limit", "tpm_limit", "max_parallel_requests", "max_budget", "budget_duration")


@dataclass(slots=True)
class Imported:
    teams: int = 0
    keys: int = 0
    skipped: list[str] = field(default_factory=list)  # why each skipped key was skipped (never its value)


def _unix(v: Any, default: float | None) -> float | None:
    if v is None:
        return default
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp()
    if isinstance(v, str):
        return _unix(datetime.fromisoformat(v.replace("Z", "+00:00")), default)
    return float(v)


def _json(v: Any) -> Any:
    return orjson.loads(v) if isinstance(v, str | bytes) and v else v


def _models(v: Any) -> list[str]:
    v = _json(v)
    return [m for m in v if isinstance(m, str)] if isinstance(v, list) else []


def _common(row: Mapping[str, Any], now: float) -> Row:
    metadata = _json(row.get("metadata")) or {}
    if not isinstance(metadata, dict):
        metadata = {}
    out: Row = {k: row.get(k) for k in _LIMITS}
    for k in ("rpm_limit", "tpm_limit", "max_parallel_requests"):
        out[k] = int(out[k]) if out[k] is not None else None
    out["max_budget"] = float(out["max_budget"]) if out["max_budget"] is not None else None
    out.update(
        models=_models(row.get("models")),
        metadata=metadata,
        blocked=bool(row.get("blocked")),
        model_rpm_limit=metadata.get("model_rpm_limit"),  # LiteLLM keeps these in metadata
        model_tpm_limit=metadata.get("model_tpm_limit"),
        spend=float(row.get("spend") or 0.0),
        created_at=_unix(row.get("created_at"), now),
        updated_at=_unix(row.get("updated_at"), now),
    )
    return out


def key_row(row: Mapping[str, Any], now: float) -> Row:
    token = str(row["token"])
    return {
        **_common(row, now),
        "token": token,
        "key_name": row.get("key_name") or f"sk-...{token[-4:]}",
        "key_alias": row.get("key_alias") or None,
        "team_id": row.get("team_id") or None,
        "expires": _unix(row.get("expires"), None),
    }


def team_row(row: Mapping[str, Any], now: float) -> Row:
    return {**_common(row, now), "team_id": str(row["team_id"]), "team_alias": row.get("team_alias") or None}


async def read_litellm(url: str) -> tuple[list[Row], list[Row]]:
    """(teams, keys) from a LiteLLM proxy's database."""
    engine = create_async_engine(async_url(url))
    now = time.time()
    try:
        async with engine.connect() as conn:
            names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            if KEYS_TABLE not in names:
                raise LookupError(f"no {KEYS_TABLE} table there: is this a LiteLLM proxy's database?")
            teams = []
            if TEAMS_TABLE in names:
                teams = [team_row(as_row(r), now) for r in await conn.execute(text(f'SELECT * FROM "{TEAMS_TABLE}"'))]
            keys = [key_row(as_row(r), now) for r in await conn.execute(text(f'SELECT * FROM "{KEYS_TABLE}"'))]
    finally:
        await engine.dispose()
    return teams, keys


async def import_litellm(source_url: str, store: KeyStore) -> Imported:
    teams, keys = await read_litellm(source_url)
    existing = (await store.list_keys(None, None, 0, 10**9))[0]
    have_tokens = {r["token"] for r in existing}
    have_aliases = {r["key_alias"] for r in existing if r["key_alias"]}
    have_teams = {t["team_id"] for t in await store.list_teams()}
    result = Imported()
    new_teams = [t for t in teams if t["team_id"] not in have_teams]
    usable = []
    for k in keys:
        if k["token"] in have_tokens:  # imported before
            continue
        if k["key_alias"] and k["key_alias"] in have_aliases:
            result.skipped.append(f"key '{k['key_alias']}' ({k['key_name']}): its alias is already used here")
            continue
        have_aliases.add(k["key_alias"])
        usable.append(k)
    result.teams, result.keys = await store.import_rows(new_teams, usable)
    return result
