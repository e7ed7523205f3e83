"""OpenRouter's per-endpoint data policy -> lmgate's `none | retains | trains | unknown` (pure).

`GET /api/v1/models/{author}/{slug}/endpoints` lists the providers serving a model; each endpoint may
carry its data policy as OpenRouter records it: `data_policy: {training, retainsPrompts, retentionDays,
...}` (camelCase as OpenRouter serves it; the snake_case spellings of its SDKs, `retains_prompts`,
`prompt_retention_days`, are read too, as are those fields at the endpoint's top level). OpenRouter
marks an endpoint whose policy it could not establish as retaining and training.

An endpoint that trains on prompts is `trains`; one that does not train but keeps prompts (or says it
keeps them for some days) is `retains`; one that says it neither trains nor keeps them is `none`;
anything not said plainly is `unknown`. A model is as private as the least private endpoint
OpenRouter may route it to: `trains` if any endpoint trains, else `unknown` if any is unknown, else
`retains` if any retains, else `none` (no endpoint listed: `unknown`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

NONE, RETAINS, TRAINS, UNKNOWN = "none", "retains", "trains", "unknown"
# how much of a prompt is kept: a configured policy is only ever moved up this order by the catalog
RANK = {NONE: 0, RETAINS: 1, TRAINS: 2}


@dataclass(frozen=True, slots=True)
class Facts:
    """What an endpoint says of its data (None: not said)."""

    training: bool | None
    retains_prompts: bool | None
    retention_days: float | None


def _flag(fields: Mapping[str, Any], *names: str) -> bool | None:
    for name in names:
        v = fields.get(name)
        if isinstance(v, bool):
            return v
    return None


def _days(fields: Mapping[str, Any]) -> float | None:
    for name in ("retentionDays", "retention_days", "prompt_retention_days", "promptRetentionDays"):
        v = fields.get(name)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
    return None


def facts(endpoint: Mapping[str, Any]) -> Facts:
    """From the endpoint's data-policy object (`data_policy`, `dataPolicy`), else its top level."""
    fields: Mapping[str, Any] = endpoint
    for name in ("data_policy", "dataPolicy"):
        inner = endpoint.get(name)
        if isinstance(inner, Mapping):
            fields = inner
            break
    return Facts(_flag(fields, "training", "trains"), _flag(fields, "retainsPrompts", "retains_prompts"), _days(fields))


def policy_of(f: Facts) -> str:
    if f.training is True:
        return TRAINS
    if f.training is None:
        return UNKNOWN
    if f.retains_prompts is True or (f.retention_days is not None and f.retention_days > 0):
        return RETAINS
    return NONE if f.retains_prompts is False else UNKNOWN


def endpoint_policy(endpoint: Mapping[str, Any]) -> str:
    return policy_of(facts(endpoint))


def model_policy(policies: Iterable[str]) -> str:
    seen = set(policies)
    if not seen:
        return UNKNOWN
    for policy in (TRAINS, UNKNOWN, RETAINS):
        if policy in seen:
            return policy
    return NONE


def tightened(configured: str | None, found: str) -> str | None:
    """The `model_info.data_policy` the catalog writes: `found` when nothing is configured or it keeps
    more than what is configured; None (leave it) when `found` is unknown or not tighter."""
    if found not in RANK:
        return None
    if configured is None or RANK.get(configured, -1) < RANK[found]:
        return found
    return None
