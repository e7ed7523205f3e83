"""`lmgate init`, step 2: turn what was discovered into aliases and fallback chains.

Aliases are named for where a model runs and what it is (`cloud-kimi`, `vllm-qwen`, `ollama-qwen`); the
same model on several Ollama instances of one tier is one alias with several deployments. Each purpose
(chat, coder, vision, embeddings) gets a chain that runs cloud -> GPU -> CPU: an alias falls back to the
next alias of its tier on another instance, then to the best alias of each lower tier. Paid models are
explicit-only (`model_info.fallback_target: false`): never in a chain, reached only by name. Embedding
models chain only to the same model elsewhere, because vectors from different models do not mix.
Discovery is in `init_discover.py`, the YAML text in `init_render.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lmgate.ops import names
from lmgate.ops.init_discover import PAID, PURPOSES, TIERS, Discovery, Found, SourceReport

MAX_FALLBACKS = 5  # router_settings.max_fallbacks' default
SOURCE_RANK = {"cloud": 0, "vllm": 0, "ollama": 1, "openrouter": 1}  # within a tier: Ollama Cloud before free OpenRouter
_KEEP = {"coder", "code", "vl", "vision", "embed", "oss", "r1", "math", "guard"}  # words that say what a model is


def short_name(model: str) -> str:
    """`kimi-k2:1t` -> kimi, `qwen3-coder:480b` -> qwen-coder, `Qwen/Qwen2.5-7B-Instruct-AWQ` -> qwen,
    `gpt-oss:120b-cloud` -> gpt-oss, `nomic-embed-text` -> nomic-embed."""
    base = names.strip_cloud(model).lower().rsplit("/", 1)[-1].split(":", 1)[0]
    tokens = [t for t in re.split(r"[-_.\s]+", base) if t]
    if not tokens:
        return "model"
    first = re.sub(r"[\d.]+$", "", tokens[0]) or tokens[0]
    words = [first] + [t for t in tokens[1:] if t in _KEEP]
    return re.sub(r"[^a-z0-9-]", "", "-".join(dict.fromkeys(words))) or "model"


def _tag(model: str) -> str:
    """What tells two models of one family apart: the Ollama tag, else the whole base name."""
    base = names.strip_cloud(model).lower().rsplit("/", 1)[-1]
    name, _, tag = base.partition(":")
    part = tag if tag and tag != "latest" else name
    return re.sub(r"[^a-z0-9]+", "-", part).strip("-") or "x"


def primary_purpose(purposes: tuple[str, ...]) -> str:
    for p in ("embeddings", "vision", "coder"):
        if p in purposes:
            return p
    return "chat"


@dataclass(slots=True)
class Alias:
    name: str
    deployments: list[Found]
    fallbacks: list[str] = field(default_factory=list)

    @property
    def first(self) -> Found:
        return self.deployments[0]

    @property
    def tier(self) -> str:
        return self.first.tier

    @property
    def purposes(self) -> tuple[str, ...]:
        return self.first.purposes

    @property
    def purpose(self) -> str:
        return primary_purpose(self.purposes)

    @property
    def paid(self) -> bool:
        return self.tier == "paid"

    @property
    def context(self) -> int | None:
        values = [d.context for d in self.deployments if d.context]
        return min(values) if values else None  # what every deployment of the alias can take

    @property
    def instances(self) -> set[str]:
        return {d.instance for d in self.deployments}

    def as_json(self) -> dict[str, Any]:
        return {
            "alias": self.name,
            "tier": self.tier,
            "purpose": self.purpose,
            "purposes": list(self.purposes),
            "models": [f"{d.prefix}/{d.model}" for d in self.deployments],
            "instances": sorted(self.instances),
            "context": self.context,
            "explicit_only": self.paid,
            "free": all(d.free for d in self.deployments),
            "loaded": any(d.loaded for d in self.deployments),
            "fallbacks": self.fallbacks,
            "notes": sorted({d.note for d in self.deployments if d.note}),
        }


@dataclass(slots=True)
class Plan:
    aliases: list[Alias]  # in config order: the default chat alias first
    chains: dict[str, list[str]]  # purpose -> head alias, then its fallbacks
    default_chat: str | None
    sources: list[SourceReport]

    def alias(self, name: str) -> Alias | None:
        return next((a for a in self.aliases if a.name == name), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "default_chat": self.default_chat,
            "chains": self.chains,
            "aliases": [a.as_json() for a in self.aliases],
            "sources": [
                {"kind": s.kind, "url": s.url, "status": s.status, "detail": s.detail, "models": s.models, "tier": s.tier}
                for s in self.sources
            ],
        }


def _alias_name(f: Found) -> str:
    vendor = next((v for v in PAID if v.name == f.source), None)
    return vendor.alias if vendor else f"{f.source}-{short_name(f.model)}"


def _same_model(a: Found, b: Found) -> bool:
    return names.ollama_canonical(names.strip_cloud(a.model)) == names.ollama_canonical(names.strip_cloud(b.model))


PURPOSE_WORD = {"chat": "", "vision": "-vision", "coder": "-coder", "embeddings": "-embed"}


def _disambiguated(name: str, deps: list[Found], rivals: list[list[Found]]) -> str:
    """A name shared by several models: the purpose word tells them apart if it can, else the tag."""
    if len(rivals) == 1:
        return name
    purpose = primary_purpose(deps[0].purposes)
    word = "" if PURPOSE_WORD[purpose] in name else PURPOSE_WORD[purpose]
    same = [g for g in rivals if primary_purpose(g[0].purposes) == purpose]
    return f"{name}{word}" if len(same) == 1 else f"{name}{word}-{_tag(deps[0].model)}"


def name_aliases(found: list[Found]) -> list[Alias]:
    """Group models into aliases: one name per (name, tier); the same model on several instances is
    one alias with several deployments; different models that would share a name get their tag."""
    groups: dict[tuple[str, str], list[list[Found]]] = {}
    for f in found:
        models = groups.setdefault((_alias_name(f), f.tier), [])
        same = next((g for g in models if _same_model(g[0], f)), None)
        if same is not None:
            same.append(f)
        else:
            models.append([f])
    tiers_of: dict[str, list[str]] = {}
    for name, tier in groups:
        tiers_of.setdefault(name, []).append(tier)
    out: list[Alias] = []
    for (name, tier), models in groups.items():
        if tiers_of[name].index(tier) > 0:
            name = f"{name}-{tier}"
        for deps in models:
            out.append(Alias(_disambiguated(name, deps, models), deps))
    seen: set[str] = set()
    for a in out:  # last resort against a clash the rules above did not foresee
        base, n = a.name, 2
        while a.name in seen:
            a.name, n = f"{base}-{n}", n + 1
        seen.add(a.name)
    return out


def _rank(a: Alias, purpose: str) -> tuple[int, int, int, int, int, str]:
    return (
        TIERS.index(a.tier),
        0 if a.purpose == purpose else 1,
        SOURCE_RANK.get(a.first.source, 2),
        0 if any(d.loaded for d in a.deployments) else 1,  # a warm model answers without a load
        -(a.context or 0),
        a.name,
    )


def members(aliases: list[Alias], purpose: str) -> list[Alias]:
    """The aliases that can serve a purpose, best first (paid ones never)."""
    if purpose == "embeddings":
        pool = [a for a in aliases if a.purpose == "embeddings"]
    elif purpose == "vision":
        pool = [a for a in aliases if "vision" in a.purposes]
    else:  # chat and coder: every model that chats; the purpose's own models first within a tier
        pool = [a for a in aliases if a.purpose != "embeddings"]
    return sorted((a for a in pool if not a.paid), key=lambda a: _rank(a, purpose))


def fallbacks_for(a: Alias, candidates: list[Alias], every_tier: bool = False) -> list[str]:
    """The next alias of the same tier and purpose (on another instance if there is one), then the best
    alias of each lower tier (of every tier for a paid or chosen head, which nothing falls back to). No
    cycles: every step goes to a lower tier or forward in one purpose's order."""
    out: list[Alias] = []
    if a in candidates:
        after = candidates[candidates.index(a) + 1 :]
        same = [c for c in after if c.tier == a.tier and c.purpose == a.purpose]
        other_instance = [c for c in same if not (c.instances & a.instances)]
        if other_instance or same:
            out.append((other_instance or same)[0])
    start = 0 if a.paid or every_tier else TIERS.index(a.tier) + 1
    for tier in TIERS[start:]:
        best = next((c for c in candidates if c.tier == tier and c is not a and c not in out), None)
        if best is not None:
            out.append(best)
    if a.purpose == "embeddings":
        out = [c for c in out if short_name(c.first.model) == short_name(a.first.model)]
    return [c.name for c in out][:MAX_FALLBACKS]


def plan(discovery: Discovery, default_chat: str | None = None, drop: set[str] | frozenset[str] = frozenset()) -> Plan:
    """Aliases, chains and the default chat alias; `drop` removes aliases, `default_chat` picks the
    chat chain's head (any alias that chats, a paid one included). The chosen head falls back to the
    best of every tier and no other alias falls back to it, so its chain cannot loop."""
    aliases = [a for a in name_aliases(discovery.found) if a.name not in drop]
    chosen = next((a for a in aliases if a.name == default_chat and a.purpose != "embeddings"), None)
    pools = {p: [a for a in members(aliases, p) if a is not chosen] for p in PURPOSES}
    for a in aliases:
        if not a.paid and a is not chosen:
            a.fallbacks = fallbacks_for(a, pools[a.purpose])
    chains: dict[str, list[str]] = {}
    for p in PURPOSES:
        heads = [a for a in pools[p] if a.purpose == p or p == "chat"]
        if heads:
            chains[p] = [heads[0].name, *heads[0].fallbacks]
    if chosen is not None:
        chosen.fallbacks = fallbacks_for(chosen, [chosen, *pools["chat"]], every_tier=True)
        chains["chat"] = [chosen.name, *chosen.fallbacks]
    head = chains.get("chat", [None])[0]
    order = sorted(aliases, key=lambda a: (a.name != head, TIERS.index(a.tier), PURPOSES.index(a.purpose), a.name))
    return Plan(order, chains, head, discovery.sources)
