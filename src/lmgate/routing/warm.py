"""Warm-model-aware Ollama routing (`router_settings.ollama_prefer_loaded`).

An Ollama instance answers a model it holds in memory at once and pays seconds to load a cold one
(evicting another when `OLLAMA_MAX_LOADED_MODELS` is reached). For an alias whose deployments are on
several Ollama instances, the candidates are reordered so that instances with the model loaded come
first, then the instances holding the fewest models (a cold load there evicts the least); ties keep the
routing strategy's order. What each instance holds is polled from `/api/ps` every
`ollama_ps_interval` seconds and corrected from answers at once: an answer means its model is loaded
now, and an answer whose `load_duration` shows a cold load (for a stream: a first frame that slow)
means the others' places are unknown (they may have been evicted) until the next poll, which it
brings forward.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import aiohttp
import orjson

from lmgate.core import UpstreamReply, UpstreamStream

if TYPE_CHECKING:
    from lmgate.config.runtime import RuntimeConfig
    from lmgate.core import Deployment
    from lmgate.providers.http import UpstreamPool
    from lmgate.routing.router import Router

log = logging.getLogger("lmgate.warm")
DEFAULT_PS_INTERVAL_S = 2.0
COLD_LOAD_S = 0.5  # a load_duration at least this long was a cold load
PS_TIMEOUT = aiohttp.ClientTimeout(total=2.0, sock_connect=1.0)
IDLE_S = 1.0  # how often to look again while the feature is off (a reload may switch it on)


def model_key(name: str) -> str:
    """Ollama's own spelling of a model name: a bare name means its `:latest` tag."""
    return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"


def warm_aliases(config: RuntimeConfig) -> frozenset[str]:
    """The aliases to route by loaded model: on, and with deployments on several Ollama instances."""
    if not config.file.router_settings.ollama_prefer_loaded:
        return frozenset()
    found = set()
    for alias, deps in config.aliases.items():
        instances = {d.api_base for d in deps if d.adapter.loaded_models_url(d)}
        if len(instances) > 1:
            found.add(alias)
    return frozenset(found)


def ps_interval(config: RuntimeConfig) -> float:
    return config.file.router_settings.ollama_ps_interval or DEFAULT_PS_INTERVAL_S


def load_seconds(answer: UpstreamReply | UpstreamStream, took: float) -> float:
    """How long the answer may have spent loading its model: a whole answer's `load_duration`; for a
    stream (whose durations come only at its end) the time to its first frame, an upper bound."""
    if not isinstance(answer, UpstreamReply):
        return took
    ns = answer.data.get("load_duration")
    return ns / 1e9 if isinstance(ns, int | float) else 0.0


class WarmModels:
    """Which models each Ollama instance (by api_base) holds in memory, as far as this process knows.
    Kept across reloads (on RouterState)."""

    def __init__(self) -> None:
        self.loaded: dict[str, set[str]] = {}  # api_base -> model keys; absent = not known yet
        self.wake = asyncio.Event()  # a cold load was seen: poll now

    def is_loaded(self, d: Deployment) -> bool | None:
        held = self.loaded.get(d.api_base)
        return None if held is None else model_key(d.upstream_model) in held

    def _rank(self, d: Deployment) -> tuple[int, int]:
        held = self.loaded.get(d.api_base)
        if held is None:
            return 1, 1  # unknown: behind a known-warm instance, level with a busy one
        return (0 if model_key(d.upstream_model) in held else 1), len(held)

    def prefer(self, ordered: Iterable[Deployment]) -> list[Deployment]:
        """`ordered` (the strategy's order) with warm instances first, then the emptiest (stable)."""
        return sorted(ordered, key=self._rank)

    def answered(self, d: Deployment, answer: UpstreamReply | UpstreamStream, took: float) -> None:
        """`d` answered (`took` seconds to the answer, or to a stream's first frame)."""
        held = self.loaded.setdefault(d.api_base, set())
        if load_seconds(answer, took) >= COLD_LOAD_S:
            held.clear()  # a cold load may have evicted the others: unknown until /api/ps says
            self.wake.set()
        held.add(model_key(d.upstream_model))

    def update(self, api_base: str, models: set[str]) -> None:
        self.loaded[api_base] = models


def parse_ps(raw: bytes) -> set[str] | None:
    """The model keys of an /api/ps answer; None when it is not one."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list):
        return None
    names = (m.get("model") or m.get("name") for m in models if isinstance(m, dict))
    return {model_key(n) for n in names if isinstance(n, str) and n}


class WarmPoller:
    """Polls /api/ps of every instance behind a warm-routed alias; `current` gives the router and pool
    in use now (they change on reload). One per process, run from the app's lifespan."""

    def __init__(self, current: Callable[[], tuple[Router, UpstreamPool]]) -> None:
        self._current = current

    async def run(self) -> None:
        while True:
            router, pool = self._current()
            config = router.config
            aliases = warm_aliases(config)
            if not aliases:
                await asyncio.sleep(IDLE_S)
                continue
            warm = router.state.warm
            warm.wake.clear()
            instances = {
                d.api_base: (url, d)
                for alias in aliases
                for d in config.aliases[alias]
                if (url := d.adapter.loaded_models_url(d))
            }
            await asyncio.gather(*(self._poll(pool, warm, base, url, d) for base, (url, d) in instances.items()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(warm.wake.wait(), ps_interval(config))

    async def _poll(self, pool: UpstreamPool, warm: WarmModels, api_base: str, url: str, d: Deployment) -> None:
        try:
            async with pool.session(api_base).get(url, headers=d.headers, timeout=PS_TIMEOUT) as resp:
                raw = await resp.read() if resp.status == 200 else b""
        except (TimeoutError, aiohttp.ClientError):
            return  # unreachable: the health checks and the router deal with that; keep what we knew
        models = parse_ps(raw)
        if models is not None:
            warm.update(api_base, models)

