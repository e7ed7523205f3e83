"""Wildcard deployments on the request path: `model_name: "groq/*"` with `model: groq/*` answers
`groq/llama-3.1-8b-instant` by sending `llama-3.1-8b-instant` to Groq. Each (deployment, requested
name) pair becomes a copy of the deployment with that upstream model, made once and kept (bounded);
the copy keeps the deployment's name, so cooldowns, quotas and stats are the deployment's own; its data
policy is settled again (a requested `-cloud` model leaves the machine)."""

from __future__ import annotations

import re
from dataclasses import replace

from lmgate.config.aliases import WILDCARD, fill
from lmgate.core import Deployment
from lmgate.routing.privacy import with_policy

MAX_VARIANTS = 4096  # distinct requested names kept per process; beyond it the cache starts over


class Variants:
    def __init__(self, aliases: dict[str, list[Deployment]], patterns: dict[str, re.Pattern[str]]) -> None:
        self.patterns = patterns  # wildcard model_name -> its regex
        # aliases with a deployment whose upstream model has a '*' to fill in
        self.aliases = frozenset(a for a, deps in aliases.items() if any(WILDCARD in d.upstream_model for d in deps))
        self._made: dict[tuple[str, str], Deployment] = {}

    def get(self, dep: Deployment, requested: str) -> Deployment:
        if WILDCARD not in dep.upstream_model:
            return dep
        key = (dep.name, requested)
        made = self._made.get(key)
        if made is None:
            if len(self._made) >= MAX_VARIANTS:
                self._made.clear()
            upstream = fill(dep.upstream_model, requested, self.patterns.get(dep.alias))
            made = self._made[key] = with_policy(replace(dep, upstream_model=upstream))
        return made
