"""Probes: liveliness (process up) and readiness (config loaded, upstream pool open)."""

from __future__ import annotations

import orjson
from aiohttp import web

from lmgate import __version__
from lmgate.inbound.common import state


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
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/health/liveliness", liveliness),
        web.get("/health/liveness", liveliness),
        web.get("/health/readiness", readiness),
    ]
