"""The key and team operations of LiteLLM's admin API (its paths, field names and answer shapes), on a
KeyStore. The HTTP routes (admin.py) and the CLI's direct mode (cli/keys_cmds.py) both call these, so
`lmgate keys ... --json` prints what the API answers.

Input is validated here (400 with the field named). The limits and budgets stored here are enforced on
the request path by keys/limits.py; setting budget_duration starts a budget period (budget_reset_at).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from lmgate.errors import BadRequest, GatewayError
from lmgate.keys.model import hash_key, key_name, new_key_value
from lmgate.keys.store import KeyStore, Row
from lmgate.limits.plan import model_budget_limit, period_seconds
from lmgate.routing.privacy import DEFAULT_PRIVACY, STRICT

USER_ID_WARNING = "user_id is not supported by lmgate (no users yet) and was ignored"
_DURATION = re.compile(r"^(\d+)(s|m|h|d|w|mo)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "mo": 2592000}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class NotFound(GatewayError):
    status = 404
    type = "not_found_error"
    code = "not_found"


@dataclass(slots=True)
class Result:
    body: Any
    changed: bool = False  # keys or teams changed: caches must reload
    warnings: list[str] = field(default_factory=list)


# ---- field validation ----------------------------------------------------------------------------------


def _int(name: str, v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise BadRequest(f"'{name}' must be a whole number >= 0 or null", param=name)
    return v


def _float(name: str, v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
        raise BadRequest(f"'{name}' must be a number >= 0 or null", param=name)
    return float(v)


def _str(name: str, v: Any) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise BadRequest(f"'{name}' must be a string or null", param=name)
    return v or None


def _models(name: str, v: Any) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(m, str) and m for m in v):
        raise BadRequest(f"'{name}' must be a list of model aliases (wildcards such as 'cloud-*' allowed)", param=name)
    return v


def _object(name: str, v: Any) -> dict[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise BadRequest(f"'{name}' must be a JSON object", param=name)
    return v


def _per_model(name: str, v: Any) -> dict[str, int] | None:
    if v is None:
        return None
    if not isinstance(v, dict) or not all(isinstance(k, str) and _int(name, n) is not None for k, n in v.items()):
        raise BadRequest(f"'{name}' must map model aliases to whole numbers", param=name)
    return v


def _bool(name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise BadRequest(f"'{name}' must be true or false", param=name)
    return v


def _privacy(name: str, v: Any) -> str | None:
    """`strict`, or the default (`default` or null, stored as null); the router reads it like
    `metadata.privacy` (routing/privacy.py)."""
    word = v.strip().lower() if isinstance(v, str) else v
    if word is None or word == DEFAULT_PRIVACY:
        return None
    if word != STRICT:
        raise BadRequest(f"'{name}' must be '{STRICT}' or '{DEFAULT_PRIVACY}' (or null), not {orjson.dumps(v).decode()[:40]}", param=name)
    return STRICT


def duration_seconds(text: str) -> float:
    """LiteLLM's durations: 30s, 30m, 30h, 30d, 2w, 1mo."""
    m = _DURATION.match(text.strip())
    if not m:
        raise BadRequest(f"duration '{text}' must look like 30s, 30m, 12h, 30d, 2w or 1mo", param="duration")
    return int(m.group(1)) * _SECONDS[m.group(2)]


def _expires(body: dict[str, Any], now: float) -> tuple[bool, float | None]:
    """(given, unix time or None) from `duration` (relative) or `expires` (ISO 8601 or unix seconds)."""
    if body.get("duration") is not None:
        if not isinstance(body["duration"], str):
            raise BadRequest("'duration' must be a string such as 30d", param="duration")
        return True, now + duration_seconds(body["duration"])
    if "expires" in body:
        v = body["expires"]
        if v is None or isinstance(v, int | float) and not isinstance(v, bool):
            return True, None if v is None else float(v)
        if isinstance(v, str):
            try:
                parsed = datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                raise BadRequest("'expires' must be an ISO 8601 time or unix seconds", param="expires") from None
            return True, (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
        raise BadRequest("'expires' must be an ISO 8601 time or unix seconds", param="expires")
    if "duration" in body:  # explicit null: never expires
        return True, None
    return False, None


def _budget_duration(name: str, v: Any) -> str | None:
    text = _str(name, v)
    if text is not None and period_seconds(text) is None:
        raise BadRequest(f"'{name}' must look like 30s, 30m, 12h, 30d, 2w or 1mo (or null)", param=name)
    return text


def _model_budgets(name: str, v: Any) -> dict[str, Any] | None:
    """{alias: USD} or LiteLLM's {alias: {"budget_limit": USD, "time_period": "1d"}}."""
    if v is None:
        return None
    if not isinstance(v, dict):
        raise BadRequest(f"'{name}' must map model aliases to a budget in USD", param=name)
    for alias, value in v.items():
        limit, period = model_budget_limit(value)
        _float(name, limit)
        if limit is None or period is not None and period_seconds(period) is None:
            raise BadRequest(
                f"'{name}.{alias}' must be a number of USD or {{\"budget_limit\": USD, \"time_period\": \"1d\"}}", param=name
            )
    return v


_LIMITS: dict[str, Callable[[str, Any], Any]] = {
    "rpm_limit": _int,
    "tpm_limit": _int,
    "max_parallel_requests": _int,
    "max_budget": _float,
    "soft_budget": _float,
    "budget_duration": _budget_duration,
    "model_rpm_limit": _per_model,
    "model_tpm_limit": _per_model,
    "model_max_budget": _model_budgets,
}


def _budget_period(values: Row, now: float) -> None:
    """A budget_duration set (or changed) starts a period now: budget_reset_at is when it ends."""
    if "budget_duration" in values:
        seconds = period_seconds(values["budget_duration"])
        values["budget_reset_at"] = now + seconds if seconds is not None else None
_KEY_FIELDS: dict[str, Callable[[str, Any], Any]] = {
    "key_alias": _str, "team_id": _str, "models": _models, "metadata": _object, "blocked": _bool,
    "privacy": _privacy, **_LIMITS,
}
_TEAM_FIELDS: dict[str, Callable[[str, Any], Any]] = {
    "team_alias": _str, "models": _models, "metadata": _object, "blocked": _bool, "privacy": _privacy, **_LIMITS,
}


def _fields(body: dict[str, Any], spec: dict[str, Callable[[str, Any], Any]]) -> Row:
    return {name: check(name, body[name]) for name, check in spec.items() if name in body}


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def key_info(row: Row) -> dict[str, Any]:
    """A key's record as LiteLLM's /key/info shows it (never the key itself: it is not stored)."""
    out = {k: v for k, v in row.items() if k not in ("expires", "created_at", "updated_at")}
    out.update(
        token=row["token"], expires=_iso(row.get("expires")), created_at=_iso(row["created_at"]),
        updated_at=_iso(row["updated_at"]), user_id=None,
    )
    return out


def team_info(row: Row) -> dict[str, Any]:
    out = dict(row)
    out.update(created_at=_iso(row["created_at"]), updated_at=_iso(row["updated_at"]))
    return out


def token_of(value: Any) -> str:
    """A key named by its value (`sk-...`) or by its hash, as LiteLLM's admin API accepts both."""
    if not isinstance(value, str) or not value:
        raise BadRequest("'key' is required: the key (sk-...) or its hash", param="key")
    return value if _HEX64.match(value) else hash_key(value)


class KeyAdmin:
    def __init__(self, store: KeyStore) -> None:
        self.store = store

    # ---- keys -------------------------------------------------------------------------------------

    async def _check_team(self, team_id: str | None) -> None:
        if team_id is not None and await self.store.team(team_id) is None:
            raise BadRequest(f"team '{team_id}' does not exist (POST /team/new creates it)", param="team_id")

    async def _key(self, token: str) -> Row:
        row = await self.store.key(token)
        if row is None:
            raise NotFound("no such key (it may have been deleted or regenerated)", param="key")
        return row

    async def generate(self, body: dict[str, Any], caller: str | None = None) -> Result:
        now = time.time()
        row = _fields(body, _KEY_FIELDS)
        await self._check_team(row.get("team_id"))
        value = body.get("key")
        if value is not None and (not isinstance(value, str) or not value.startswith("sk-") or len(value) < 12):
            raise BadRequest("a custom 'key' must start with 'sk-' and be at least 12 characters", param="key")
        value = value or new_key_value()
        _, expires = _expires(body, now)
        row.setdefault("models", [])
        row.setdefault("metadata", {})
        row.setdefault("blocked", False)
        row.update(token=hash_key(value), key_name=key_name(value), expires=expires, spend=0.0, created_at=now, updated_at=now)
        _budget_period(row, now)
        await self.store.insert_key(row)
        info = key_info(await self._key(row["token"]))
        return Result({"key": value, "token_id": row["token"], **info}, True, _warnings(body))

    async def info(self, query: dict[str, Any], caller: str | None = None) -> Result:
        """GET /key/info?key=...; without `key`, the caller's own key. A virtual key sees only itself."""
        given = query.get("key")
        if given is None:
            if caller is None:
                raise BadRequest("'key' is required with the master key (the key or its hash)", param="key")
            token = caller
        else:
            token = token_of(given)
        if caller is not None and token != caller:
            raise _master_only()
        return Result({"key": given if given is not None else token, "info": key_info(await self._key(token))})

    async def update(self, body: dict[str, Any], caller: str | None = None) -> Result:
        token = token_of(body.get("key"))
        await self._key(token)
        values = _fields(body, _KEY_FIELDS)
        if "team_id" in values:
            await self._check_team(values["team_id"])
        given, expires = _expires(body, time.time())
        if given:
            values["expires"] = expires
        values["updated_at"] = time.time()
        _budget_period(values, values["updated_at"])
        await self.store.update_key(token, values)
        return Result(key_info(await self._key(token)), True, _warnings(body))

    async def _set_blocked(self, body: dict[str, Any], blocked: bool) -> Result:
        token = token_of(body.get("key"))
        if not await self.store.update_key(token, {"blocked": blocked, "updated_at": time.time()}):
            raise NotFound("no such key", param="key")
        return Result(key_info(await self._key(token)), True)

    async def block(self, body: dict[str, Any], caller: str | None = None) -> Result:
        return await self._set_blocked(body, True)

    async def unblock(self, body: dict[str, Any], caller: str | None = None) -> Result:
        return await self._set_blocked(body, False)

    async def delete(self, body: dict[str, Any], caller: str | None = None) -> Result:
        given = body.get("keys") or []
        aliases = body.get("key_aliases") or []
        if not isinstance(given, list) or not isinstance(aliases, list) or not (given or aliases):
            raise BadRequest("send 'keys' (keys or hashes) and/or 'key_aliases' as lists", param="keys")
        tokens = {token_of(k): k for k in given}
        for alias in aliases:
            row = await self.store.key_by_alias(alias) if isinstance(alias, str) else None
            if row is not None:
                tokens[row["token"]] = alias
        deleted = await self.store.delete_keys(list(tokens))
        if not deleted:
            raise NotFound("none of these keys exist", param="keys")
        return Result({"deleted_keys": [tokens[t] for t in deleted]}, True)

    async def list_keys(self, query: dict[str, Any], caller: str | None = None) -> Result:
        page, size = _page(query.get("page"), 1, "page"), min(_page(query.get("size"), 10, "size"), 100)
        rows, total = await self.store.list_keys(query.get("team_id"), query.get("key_alias"), (page - 1) * size, size)
        full = str(query.get("return_full_object", "")).lower() in ("true", "1")
        return Result({
            "keys": [key_info(r) for r in rows] if full else [r["token"] for r in rows],
            "total_count": total,
            "current_page": page,
            "total_pages": max(1, -(-total // size)),
        })

    async def regenerate(self, body: dict[str, Any], caller: str | None = None) -> Result:
        """A new value for the same key (alias, team, limits kept); the old value stops working."""
        old = await self._key(token_of(body.get("key")))
        value = body.get("new_key") or new_key_value()
        if not isinstance(value, str) or not value.startswith("sk-"):
            raise BadRequest("'new_key' must start with 'sk-'", param="new_key")
        now = time.time()
        row = {**old, **_fields(body, _LIMITS), "token": hash_key(value), "key_name": key_name(value), "updated_at": now}
        given, expires = _expires(body, now)
        if given:
            row["expires"] = expires
        if not await self.store.replace_key(old["token"], row):
            raise NotFound("no such key", param="key")
        return Result({"key": value, "token_id": row["token"], **key_info(row)}, True, _warnings(body))

    # ---- teams ------------------------------------------------------------------------------------

    async def _team(self, team_id: Any) -> Row:
        if not isinstance(team_id, str) or not team_id:
            raise BadRequest("'team_id' is required", param="team_id")
        row = await self.store.team(team_id)
        if row is None:
            raise NotFound(f"no team '{team_id}'", param="team_id")
        return row

    async def team_new(self, body: dict[str, Any], caller: str | None = None) -> Result:
        now = time.time()
        row = _fields(body, _TEAM_FIELDS)
        team_id = body.get("team_id") or secrets.token_hex(8)
        if not isinstance(team_id, str):
            raise BadRequest("'team_id' must be a string", param="team_id")
        row.setdefault("models", [])
        row.setdefault("metadata", {})
        row.setdefault("blocked", False)
        row.update(team_id=team_id, spend=0.0, created_at=now, updated_at=now)
        _budget_period(row, now)
        await self.store.insert_team(row)
        return Result(team_info(await self._team(team_id)), True, _warnings(body))

    async def team_info(self, query: dict[str, Any], caller: str | None = None) -> Result:
        team = await self._team(query.get("team_id"))
        keys = await self.store.keys_of_team(team["team_id"])
        return Result({"team_id": team["team_id"], "team_info": team_info(team), "keys": [key_info(k) for k in keys]})

    async def team_update(self, body: dict[str, Any], caller: str | None = None) -> Result:
        team = await self._team(body.get("team_id"))
        values = {**_fields(body, _TEAM_FIELDS), "updated_at": time.time()}
        _budget_period(values, values["updated_at"])
        await self.store.update_team(team["team_id"], values)
        return Result({"team_id": team["team_id"], "data": team_info(await self._team(team["team_id"]))}, True, _warnings(body))

    async def team_delete(self, body: dict[str, Any], caller: str | None = None) -> Result:
        ids = body.get("team_ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise BadRequest("'team_ids' must be a non-empty list of team ids", param="team_ids")
        for team_id in ids:
            owned = await self.store.keys_of_team(team_id)
            if owned:
                raise BadRequest(
                    f"team '{team_id}' still has {len(owned)} key(s): delete them or move them to another team first",
                    param="team_ids",
                )
        deleted = await self.store.delete_teams(ids)
        if not deleted:
            raise NotFound("none of these teams exist", param="team_ids")
        return Result({"deleted_teams": deleted}, True)

    async def team_list(self, query: dict[str, Any], caller: str | None = None) -> Result:
        return Result([team_info(t) for t in await self.store.list_teams()])


def _warnings(body: dict[str, Any]) -> list[str]:
    return [USER_ID_WARNING] if body.get("user_id") is not None else []


def _page(v: Any, default: int, name: str) -> int:
    if v is None:
        return default
    try:
        n = int(v)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise BadRequest(f"'{name}' must be a whole number >= 1", param=name)
    return n


def _master_only() -> GatewayError:
    from lmgate.errors import PermissionDenied

    return PermissionDenied("a virtual key may read only its own record; other keys need the master key")


def operation(path: str) -> Callable[[KeyAdmin, dict[str, Any], str | None], Awaitable[Result]]:
    """The KeyAdmin method behind one of LiteLLM's admin paths (paths.ADMIN_PATHS)."""
    from lmgate.keys.paths import ADMIN_PATHS

    return getattr(KeyAdmin, ADMIN_PATHS[path][1])
