"""What the request path knows about a virtual key: a `Principal`, built once per key per cache load.

Plain slotted objects: authenticating a request is a sha256, a dict lookup and a few attribute reads.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lmgate.limits.plan import LimitPlan, compile_plan
from lmgate.routing.privacy import record_strict

# Model-list entries meaning "every alias" (LiteLLM's spellings included).
EVERYTHING = frozenset({"*", "all-proxy-models", "all-team-models"})


def hash_key(value: str) -> str:
    """LiteLLM's token hash (sha256 hex of the key as sent): its verification-token table imports as is."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_key_value() -> str:
    return "sk-" + secrets.token_urlsafe(24)


def key_name(value: str) -> str:
    """LiteLLM's abbreviation of a key (recognisable in a list, useless to an attacker)."""
    return f"sk-...{value[-4:]}"


@dataclass(slots=True, frozen=True)
class AllowList:
    """Aliases a key or team may use: exact names and shell-style wildcards; empty = everything."""

    names: tuple[str, ...]
    exact: frozenset[str]
    pattern: re.Pattern[str] | None
    everything: bool

    @classmethod
    def of(cls, models: Iterable[str] | None) -> AllowList:
        names = tuple(m for m in models or () if isinstance(m, str) and m)
        everything = not names or any(m in EVERYTHING for m in names)
        wild = [m for m in names if any(ch in m for ch in "*?[")]
        pattern = re.compile("|".join(f"(?:{fnmatch.translate(w)})" for w in wild)) if wild and not everything else None
        return cls(names, frozenset(names), pattern, everything)

    def allows(self, alias: str) -> bool:
        if self.everything or alias in self.exact:
            return True
        return self.pattern is not None and self.pattern.match(alias) is not None


ALL = AllowList.of(())


@dataclass(slots=True, frozen=True)
class Principal:
    """A virtual key as authentication and routing see it (team settings folded in)."""

    token: str  # the sha256 hash, never the key
    label: str  # key_alias, else key_name: the request log's and the metrics' key label
    team: str  # team_alias, else team_id; "" without a team
    team_id: str  # "" without a team (the spend log's team_id)
    expires: float | None
    blocked: str | None  # why it is refused ("key is blocked", "team 'x' is blocked"), None = usable
    models: AllowList
    team_models: AllowList
    limits: LimitPlan | None = field(default=None, compare=False, repr=False)  # None: no limit, no budget
    strict: bool = False  # privacy: strict on the key or its team (routing/privacy.py)
    decided: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)  # alias -> allowed

    def allows(self, alias: str) -> bool:
        """Remembered per alias (aliases are few; a wildcard match costs microseconds)."""
        ok = self.decided.get(alias)
        if ok is None:
            ok = self.models.allows(alias) and self.team_models.allows(alias)
            if len(self.decided) < 4096:
                self.decided[alias] = ok
        return ok

    def allowed_names(self) -> list[str]:
        """For the 403 message: what this key may use, as configured."""
        if not self.models.everything:
            return list(self.models.names)
        return list(self.team_models.names)


def principal(row: Mapping[str, Any], team: Mapping[str, Any] | None) -> Principal:
    """A key's row (and its team's) -> the Principal the cache holds."""
    blocked = None
    if row.get("blocked"):
        blocked = "this API key is blocked (the gateway's operator can unblock it)"
    elif team is not None and team.get("blocked"):
        blocked = f"the team '{team.get('team_alias') or team['team_id']}' of this API key is blocked"
    elif row.get("team_id") and team is None:
        blocked = f"the team '{row['team_id']}' of this API key no longer exists"
    label = row.get("key_alias") or row["key_name"]
    team_label = (team.get("team_alias") or team["team_id"]) if team is not None else ""
    return Principal(
        token=row["token"],
        label=label,
        team=team_label,
        team_id=team["team_id"] if team is not None else "",
        expires=row.get("expires"),
        blocked=blocked,
        models=AllowList.of(row.get("models")),
        team_models=AllowList.of(team.get("models")) if team is not None else ALL,
        limits=compile_plan(row, team, label, team_label),
        strict=record_strict(row, team),
    )
