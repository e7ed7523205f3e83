"""Probes: liveliness (process up), readiness (config loaded; where quotas and cooldowns are kept, and
whether Redis is reachable), and GET /health: every deployment's
state (master key, like every non-probe path)."""

from __future__ import annotations

import orjson
from aiohttp import web

from lmgate import __version__
from lmgate.observability.observer import OBSERVER
from lmgate.routing.status import deployment_states
from lmgate.server.state import state


async def liveliness(request: web.Request) -> web.Response:
    return web.Response(body=b'"I\'m alive!"', content_type="application/json")


async def readiness(request: web.Request) -> web.Response:
    st = state(request)
    body = {
        "status": "healthy",
        "version": __version__,
        "models": len(st.config.aliases),
        "deployments": len(st.config.deployments),
        "config": str(st.config.source) if st.config.source else "embedded default",
    }
    redis = st.router.state.redis
    # Redis down does not make the gateway unready: each process counts quotas and cooldowns locally.
    body["shared_state"] = redis.status() if redis is not None else {"backend": "memory"}
    log = request.app[OBSERVER].request_log
    if log is not None:
        # A failing sink does not make the gateway unready: records are spooled and replayed.
        body["request_log"] = {"sinks": [s.name for s in log.sinks], "spooling": sorted(log.failing)}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def deployments(request: web.Request) -> web.Response:
    body = await deployment_states(state(request).router)
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/health", deployments),
        web.get("/health/liveliness", liveliness),
        web.get("/health/liveness", liveliness),
        web.get("/health/readiness", readiness),
    ]
