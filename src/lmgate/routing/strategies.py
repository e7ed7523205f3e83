"""Ordering an alias's deployments: LiteLLM's routing strategies over live per-deployment stats."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from lmgate.core import Deployment

LATENCY_ALPHA = 0.3  # weight of the newest sample in the moving average


@dataclass(slots=True)
class DeploymentStats:
    """Live numbers for one deployment (kept across config reloads, keyed by deployment name)."""

    in_flight: int = 0
    latency: float | None = None  # EWMA seconds: whole answer, or time to first frame of a stream
    requests: int = 0
    failures: int = 0
    last_error: str = ""
    tokens_minute: int = 0
    _minute: int = -1

    def observe_latency(self, seconds: float) -> None:
        prev = self.latency
        self.latency = seconds if prev is None else prev + LATENCY_ALPHA * (seconds - prev)

    def add_tokens(self, tokens: int) -> None:
        minute = int(time.time() // 60)
        if minute != self._minute:
            self._minute, self.tokens_minute = minute, 0
        self.tokens_minute += tokens

    def recent_tokens(self) -> int:
        return self.tokens_minute if self._minute == int(time.time() // 60) else 0


_IDLE = DeploymentStats()  # what a deployment with no stats yet looks like

# name -> live stats, or None for a deployment that has none yet (reading never creates entries)
Stats = Callable[[str], DeploymentStats | None]


def weighted_shuffle(deps: list[Deployment], rng: random.Random) -> list[Deployment]:
    """simple-shuffle: a deployment with a larger weight (or rpm) comes first more often."""
    keyed = [(rng.random() ** (1.0 / d.weight) if d.weight > 0 else 0.0, i) for i, d in enumerate(deps)]
    return [deps[i] for _, i in sorted(keyed, reverse=True)]


def _by(deps: list[Deployment], key: Callable[[Deployment], Any], rng: random.Random) -> list[Deployment]:
    """Ascending by `key`, ties broken at random so equal deployments share the load."""
    return [d for _, _, d in sorted((key(d), rng.random(), d) for d in deps)]


def _usage_share(d: Deployment, stats: Stats) -> float:
    tokens = (stats(d.name) or _IDLE).recent_tokens()
    return tokens / d.tpm if d.tpm else float(tokens)


def _cost(d: Deployment) -> float:
    info = d.info
    if info is None:
        return 0.0
    return (info.input_cost_per_token or 0.0) + (info.output_cost_per_token or 0.0)


def _key(strategy: str, stats: Stats) -> Callable[[Deployment], Any] | None:
    """The value the strategy minimises, read without creating stats entries (a missing one is idle).

    Called once per deployment per request on the pick path, so each is a single small function."""
    if strategy == "least-busy":

        def busy(d: Deployment) -> int:
            s = stats(d.name)
            return s.in_flight if s is not None else 0

        return busy
    if strategy == "latency-based-routing":

        def latency(d: Deployment) -> float:
            s = stats(d.name)
            return (s.latency or 0.0) if s is not None else 0.0

        return latency
    if strategy in ("usage-based-routing", "usage-based-routing-v2"):
        minute = int(time.time() // 60)

        def share(d: Deployment) -> float:
            s = stats(d.name)
            if s is None or s._minute != minute:
                return 0.0
            return s.tokens_minute / d.tpm if d.tpm else float(s.tokens_minute)

        return share
    if strategy == "cost-based-routing":
        return _cost
    return None


def pick(strategy: str, deps: list[Deployment], stats: Stats, rng: random.Random, cum_weights: list[float]) -> Deployment:
    """The first candidate, in one pass and without sorting.

    simple-shuffle draws by weight (the first of a weighted shuffle is distributed by weight too); the
    other strategies take the lowest key, scanning from a random start so equal deployments share load.
    """
    n = len(deps)
    key = _key(strategy, stats)
    if key is None:
        if cum_weights and cum_weights[-1] > 0:
            return rng.choices(deps, cum_weights=cum_weights)[0]
        return deps[int(rng.random() * n)]
    start = int(rng.random() * n)
    best = deps[start]
    best_key = key(best)
    for i in range(1, n):
        d = deps[(start + i) % n]
        k = key(d)
        if k < best_key:
            best, best_key = d, k
    return best


def candidates(
    strategy: str, deps: list[Deployment], stats: Stats, rng: random.Random, cum_weights: list[float]
) -> Iterator[Deployment]:
    """The alias's deployments in the order to try them, lazily: the usual request needs only the first,
    so the rest are ordered only after it failed."""
    if len(deps) == 1:
        yield deps[0]
        return
    first = pick(strategy, deps, stats, rng, cum_weights)
    yield first
    yield from (d for d in order(strategy, deps, stats, rng) if d is not first)


def order(strategy: str, deps: list[Deployment], stats: Stats, rng: random.Random) -> list[Deployment]:
    """The alias's deployments in the order to try them."""
    if len(deps) == 1:
        return deps
    if strategy == "least-busy":
        return _by(deps, lambda d: (stats(d.name) or _IDLE).in_flight, rng)
    if strategy == "latency-based-routing":
        return _by(deps, lambda d: (stats(d.name) or _IDLE).latency or 0.0, rng)
    if strategy in ("usage-based-routing", "usage-based-routing-v2"):
        return _by(deps, lambda d: _usage_share(d, stats), rng)
    if strategy == "cost-based-routing":
        return _by(deps, _cost, rng)
    return weighted_shuffle(deps, rng)
