"""Compile and validate routing: the retry/cooldown policy and each alias's fallback chain.

Fallback lists come from `router_settings` (wins) or `litellm_settings`. Checked at load time: every
alias named must exist, explicit-only aliases (`model_info.fallback_target: false`) may not be a target,
and no alias falls back to itself. Cycles (`a: [b]`, `b: [a]`, legal in LiteLLM) are accepted: a chain
lists each alias once, never its own, and at most `max_fallbacks` of them. Fallbacks of fallbacks are
followed only with `router_settings.recursive_fallbacks: true`. Aliases served only by providers lmgate
does not support yet are left out of every chain (they are reported once, per deployment).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmgate.config.schema import ConfigFile
    from lmgate.core import Deployment

DEFAULT_NUM_RETRIES = 0  # fail over at once unless num_retries asks for retries (LiteLLM: 2 via the OpenAI SDK)
DEFAULT_ALLOWED_FAILS = 3
DEFAULT_COOLDOWN_S = 5.0
DEFAULT_MAX_FALLBACKS = 5
DEFAULT_BACKOFF_BASE_S = 0.25
DEFAULT_BACKOFF_MAX_S = 4.0

KINDS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
Problem = Callable[[tuple[str | int, ...], str], str]


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """router_settings as the router reads them (defaults filled in)."""

    strategy: str = "simple-shuffle"
    num_retries: int = DEFAULT_NUM_RETRIES
    allowed_fails: int = DEFAULT_ALLOWED_FAILS
    allowed_fails_explicit: bool = False
    cooldown_time: float = DEFAULT_COOLDOWN_S
    cooldowns: bool = True
    max_fallbacks: int = DEFAULT_MAX_FALLBACKS
    backoff_base: float = DEFAULT_BACKOFF_BASE_S
    backoff_max: float = DEFAULT_BACKOFF_MAX_S
    # router_settings.retry_policy / allowed_fails_policy, by LiteLLM error class (routing/error_classes.py)
    retry_by_class: dict[str, int] = field(default_factory=dict)
    fails_by_class: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FallbackChain:
    """Where a request for `alias` may go after the alias's own deployments failed."""

    alias: str
    fallbacks: tuple[str, ...] = ()
    context_window: tuple[str, ...] = ()  # only on context-length errors
    content_policy: tuple[str, ...] = ()  # only on content-policy refusals
    from_default: bool = False  # `fallbacks` came from default_fallbacks

    def describe(self) -> str:
        """`a -> b -> c`, plus the special chains when present."""
        text = " -> ".join((self.alias, *self.fallbacks))
        if self.from_default:
            text += " (default_fallbacks)"
        if self.context_window:
            text += f"; context window: {' -> '.join(self.context_window)}"
        if self.content_policy:
            text += f"; content policy: {' -> '.join(self.content_policy)}"
        return text


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def compile_policy(cfg: ConfigFile) -> RoutingPolicy:
    rs, ls = cfg.router_settings, cfg.litellm_settings
    return RoutingPolicy(
        strategy=rs.routing_strategy,
        num_retries=_first(rs.num_retries, ls.num_retries, DEFAULT_NUM_RETRIES),
        allowed_fails=_first(rs.allowed_fails, DEFAULT_ALLOWED_FAILS),
        allowed_fails_explicit=rs.allowed_fails is not None,
        cooldown_time=_first(rs.cooldown_time, DEFAULT_COOLDOWN_S),
        cooldowns=not rs.disable_cooldowns,
        max_fallbacks=_first(rs.max_fallbacks, DEFAULT_MAX_FALLBACKS),
        backoff_base=_first(rs.retry_backoff_base, DEFAULT_BACKOFF_BASE_S),
        backoff_max=_first(rs.retry_backoff_max, DEFAULT_BACKOFF_MAX_S),
    )


def explicit_only(deps: Sequence[Deployment]) -> bool:
    return any(d.info is not None and d.info.fallback_target is False for d in deps)


class _Checker:
    def __init__(
        self, aliases: dict[str, list[Deployment]], unserved: frozenset[str], problem: Problem, errors: list[str]
    ) -> None:
        self.aliases = aliases
        self.unserved = unserved
        self.problem = problem
        self.errors = errors

    def target(self, path: tuple[str | int, ...], name: str) -> bool:
        if name in self.unserved:
            return False
        if name not in self.aliases:
            self.errors.append(self.problem(path, f"'{name}' is not a model_name in model_list"))
            return False
        if explicit_only(self.aliases[name]):
            self.errors.append(
                self.problem(path, f"'{name}' is explicit-only (model_info.fallback_target: false); it cannot be in a chain")
            )
            return False
        return True

    def mapping(self, section: str, kind: str, entries: list[dict[str, list[str]]]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for i, entry in enumerate(entries):
            for alias, targets in entry.items():
                path: tuple[str | int, ...] = (section, kind, i, alias)
                if alias in self.unserved:
                    continue
                if alias not in self.aliases:
                    self.errors.append(self.problem(path, f"'{alias}' is not a model_name in model_list"))
                    continue
                if alias in out:
                    self.errors.append(self.problem(path, f"'{alias}' has {kind} listed twice"))
                    continue
                good: list[str] = []
                for j, name in enumerate(targets):
                    if name == alias:
                        continue  # a loop of one: the alias was just tried
                    if name in good:
                        self.errors.append(self.problem((*path, j), f"'{name}' is listed twice"))
                    elif self.target((*path, j), name):
                        good.append(name)
                out[alias] = good
        return out


def _expand(alias: str, graph: dict[str, list[str]], recursive: bool, limit: int) -> tuple[str, ...]:
    if not recursive:
        return tuple(graph.get(alias, ())[:limit])
    out: list[str] = []

    def walk(node: str) -> None:
        for nxt in graph.get(node, ()):
            if nxt != alias and nxt not in out and len(out) < limit:
                out.append(nxt)
                walk(nxt)

    walk(alias)
    return tuple(out)


def compile_chains(
    cfg: ConfigFile,
    aliases: dict[str, list[Deployment]],
    policy: RoutingPolicy,
    problem: Problem,
    errors: list[str],
    unserved: frozenset[str] = frozenset(),
) -> dict[str, FallbackChain]:
    """Validate every fallback list and resolve each alias's chain; problems go to `errors`."""
    rs, ls = cfg.router_settings, cfg.litellm_settings
    check = _Checker(aliases, unserved, problem, errors)
    graphs: dict[str, dict[str, list[str]]] = {}
    for kind in KINDS:
        section = "router_settings" if getattr(rs, kind) is not None else "litellm_settings"
        graphs[kind] = check.mapping(section, kind, getattr(rs, kind) or getattr(ls, kind) or [])
    default_section = "router_settings" if rs.default_fallbacks is not None else "litellm_settings"
    defaults = [
        name
        for j, name in enumerate(_first(rs.default_fallbacks, ls.default_fallbacks) or [])
        if check.target((default_section, "default_fallbacks", j), name)
    ]
    recursive = bool(rs.recursive_fallbacks)
    limit = policy.max_fallbacks
    chains: dict[str, FallbackChain] = {}
    for alias in aliases:
        own = alias in graphs["fallbacks"]
        general = (
            _expand(alias, graphs["fallbacks"], recursive, limit)
            if own
            else tuple(d for d in defaults if d != alias)[:limit]
        )
        chains[alias] = FallbackChain(
            alias=alias,
            fallbacks=general,
            context_window=tuple(graphs["context_window_fallbacks"].get(alias, ())[:limit]),
            content_policy=tuple(graphs["content_policy_fallbacks"].get(alias, ())[:limit]),
            from_default=not own and bool(general),
        )
    return chains
