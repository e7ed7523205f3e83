"""Alias -> deployments, tried in order until one answers.

This is the gateway core's router: it picks among an alias's deployments with weights (LiteLLM's
`simple-shuffle`) and moves to the next deployment when an attempt fails in a way another deployment
may not (see `UpstreamError.retryable`). Retries with backoff, cooldowns, quotas and cross-alias
fallback chains build on this seam.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from lmgate.config.runtime import Deployment, RuntimeConfig
from lmgate.errors import ModelNotFound, UpstreamError
from lmgate.providers.base import GatewayRequest, UpstreamReply, UpstreamStream
from lmgate.providers.http import UpstreamPool


@dataclass(slots=True)
class RouteResult:
    deployment: Deployment
    answer: UpstreamReply | UpstreamStream
    attempts: list[tuple[str, str]] = field(default_factory=list)  # (deployment name, outcome)


class Router:
    def __init__(self, config: RuntimeConfig, pool: UpstreamPool, rng: random.Random | None = None) -> None:
        self.config = config
        self.pool = pool
        self._rng = rng or random.Random()

    def deployments(self, alias: str) -> list[Deployment]:
        deps = self.config.aliases.get(alias)
        if not deps:
            raise ModelNotFound(
                f"model '{alias}' is not served by this gateway; GET /v1/models lists the available models",
                param="model",
            )
        return deps

    def order(self, deps: list[Deployment]) -> list[Deployment]:
        """Weighted shuffle: deployments with a larger weight (or rpm) are tried first more often."""
        if len(deps) == 1:
            return deps
        keyed = [(self._rng.random() ** (1.0 / d.weight) if d.weight > 0 else 0.0, i) for i, d in enumerate(deps)]
        return [deps[i] for _, i in sorted(keyed, reverse=True)]

    async def send(self, request: GatewayRequest) -> RouteResult:
        attempts: list[tuple[str, str]] = []
        last: UpstreamError | None = None
        for dep in self.order(self.deployments(request.model)):
            try:
                answer = await dep.adapter.send(self.pool, dep, request)
            except UpstreamError as exc:
                attempts.append((dep.name, exc.outcome))
                if not exc.retryable:
                    raise
                last = exc
                continue
            attempts.append((dep.name, "ok"))
            return RouteResult(dep, answer, attempts)
        assert last is not None
        raise last
