"""`GET /metrics`: the observer's counts and each deployment's state, in Prometheus text format."""

from __future__ import annotations

from aiohttp import web

from lmgate.errors import RouteNotFound
from lmgate.observability.observer import OBSERVER
from lmgate.routing.status import deployment_states
from lmgate.server.state import state


async def metrics_endpoint(request: web.Request) -> web.Response:
    if not request.app[OBSERVER].metrics_enabled:
        raise RouteNotFound("metrics are off (general_settings.metrics: false)")
    request.app[OBSERVER].drain()
    metrics = request.app[OBSERVER].metrics
    router = state(request).router
    health = await deployment_states(router)
    provider = {d.name: d.provider for d in router.config.deployments}
    metrics.set_deployment_states(
        [(row["deployment"], row["model_name"], provider.get(row["deployment"], ""), row["state"]) for row in health["deployments"]]
    )
    body = metrics.render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def routes() -> list[web.RouteDef]:
    return [web.get("/metrics", metrics_endpoint), web.get("/metrics/", metrics_endpoint)]
