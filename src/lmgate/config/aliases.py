"""Which alias a requested model name means: exact aliases, `router_settings.model_group_alias`, and
wildcard names (`model_name: "groq/*"`, `"*"`, and lmgate's wildcard group aliases such as
`"claude-*": cloud-minimax`).

Resolution order, first match wins: an exact `model_name`; an exact group alias; a wildcard group
alias; a wildcard `model_name`. Among wildcards the most specific pattern (most literal characters)
wins, then the one written first. Compiled once per config load; `resolve` is a dict lookup for exact
names and a short regex scan otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

WILDCARD = "*"
Problem = Callable[[tuple[str | int, ...], str], str]


def is_pattern(name: str) -> bool:
    return WILDCARD in name


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """`groq/*` -> a full-match regex whose groups are what each `*` stood for."""
    return re.compile("(.*)".join(re.escape(part) for part in pattern.split(WILDCARD)), re.DOTALL)


def _specificity(pattern: str) -> int:
    return len(pattern) - pattern.count(WILDCARD)


def fill(upstream: str, requested: str, alias_pattern: re.Pattern[str] | None) -> str:
    """The upstream model for a wildcard deployment: each `*` of `upstream` replaced by what the
    matching `*` of the alias matched in `requested` (LiteLLM's rule: `model_name: "*"` with
    `model: openai/*` sends `gpt-4o` as `gpt-4o`; `groq/*` -> `groq/*` sends `groq/llama-3` as
    `llama-3`). When the requested name did not come through that pattern (a group alias or a
    fallback), the whole requested name fills the first `*`."""
    if WILDCARD not in upstream:
        return upstream
    m = alias_pattern.fullmatch(requested) if alias_pattern is not None else None
    groups = list(m.groups()) if m else [requested]
    parts = upstream.split(WILDCARD)
    out = parts[0]
    for i, part in enumerate(parts[1:]):
        out += (groups[i] if i < len(groups) else groups[-1]) + part
    return out


@dataclass(frozen=True, slots=True)
class GroupAlias:
    name: str  # what clients send (may be a pattern)
    target: str  # the model_name it routes to
    hidden: bool = False  # not listed in /v1/models


@dataclass(slots=True)
class AliasTable:
    """Requested name -> alias; built by `compile_aliases`."""

    exact: dict[str, str] = field(default_factory=dict)  # group alias -> model_name
    patterns: list[tuple[re.Pattern[str], str]] = field(default_factory=list)  # ordered, most specific first
    wildcard_aliases: dict[str, re.Pattern[str]] = field(default_factory=dict)  # model_name with '*' -> its regex
    listed: tuple[str, ...] = ()  # names /v1/models shows besides the plain aliases (visible group aliases)
    unserved: frozenset[str] = frozenset()  # model_names whose every deployment is of an unsupported provider

    def resolve(self, name: str, aliases: dict[str, Any]) -> str | None:
        """The model_name `name` routes to, or None."""
        if name in aliases or name in self.unserved:
            return name
        target = self.exact.get(name)
        if target is not None:
            return target
        for pattern, alias in self.patterns:
            if pattern.fullmatch(name):
                return alias
        return None


def _group_entries(raw: dict[str, Any], problem: Problem, errors: list[str]) -> Iterable[GroupAlias]:
    for name, value in raw.items():
        path: tuple[str | int, ...] = ("router_settings", "model_group_alias", str(name))
        if isinstance(value, str):
            yield GroupAlias(str(name), value)
        elif isinstance(value, dict) and isinstance(value.get("model"), str):
            yield GroupAlias(str(name), value["model"], bool(value.get("hidden", False)))
        else:
            errors.append(problem(path, "must be a model_name, or {model: <model_name>, hidden: true|false}"))


def compile_aliases(
    group_alias: dict[str, Any] | None,
    aliases: dict[str, Any],
    unserved: frozenset[str],
    problem: Problem,
    errors: list[str],
) -> AliasTable:
    """Check `model_group_alias` against the model_names (`unserved` ones exist but only with
    unsupported providers) and compile every wildcard."""
    table = AliasTable(unserved=unserved)
    wild: list[tuple[str, str, int]] = []  # (pattern, alias, order)
    listed: list[str] = []
    for i, g in enumerate(_group_entries(group_alias or {}, problem, errors)):
        path: tuple[str | int, ...] = ("router_settings", "model_group_alias", g.name)
        if g.target not in aliases and g.target not in unserved:
            errors.append(problem(path, f"'{g.target}' is not a model_name in model_list"))
            continue
        if g.name in aliases:
            errors.append(problem(path, f"'{g.name}' is already a model_name; a group alias cannot replace it"))
            continue
        if is_pattern(g.name):
            wild.append((g.name, g.target, i))
        else:
            table.exact[g.name] = g.target
            if not g.hidden:
                listed.append(g.name)
    table.patterns = [(compile_pattern(p), a) for p, a, _ in sorted(wild, key=lambda w: (-_specificity(w[0]), w[2]))]
    # unserved wildcard names resolve too (to a 501 naming their provider), so `*` does not swallow them
    every = [*aliases, *sorted(unserved)]
    names = sorted(
        ((name, j) for j, name in enumerate(every) if is_pattern(name)), key=lambda w: (-_specificity(w[0]), w[1])
    )
    for name, _ in names:
        regex = compile_pattern(name)
        table.wildcard_aliases[name] = regex
        table.patterns.append((regex, name))
    table.listed = tuple(listed)
    return table
