"""The aiohttp application factory and its lifespan (upstream sessions opened and closed here)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from lmgate.config.runtime import RuntimeConfig
from lmgate.inbound import PROTOCOLS
from lmgate.inbound.common import STATE, GatewayState
from lmgate.providers.http import UpstreamPool
from lmgate.routing import Router
from lmgate.server import health, middleware, observe, reload


def create_app(config: RuntimeConfig) -> web.Application:
    app = web.Application(
        client_max_size=config.max_body_bytes,
        middlewares=[observe.observe, middleware.errors, middleware.auth],
        handler_args={"max_field_size": 65536},
    )
    pool = UpstreamPool()
    app[STATE] = GatewayState(config=config, router=Router(config, pool), pool=pool)
    app[observe.OBSERVER] = observe.build_observer(config)
    app.add_routes(health.routes())
    app.add_routes(observe.routes())
    for protocol in PROTOCOLS:
        app.add_routes(protocol.routes())
    app.cleanup_ctx.append(_upstream_sessions)
    reload.install(app)
    app.cleanup_ctx.append(observe.observer_lifespan)
    return app


async def _upstream_sessions(app: web.Application) -> AsyncIterator[None]:
    st = app[STATE]
    st.pool.warm(st.config.deployments)
    yield
    await st.pool.close()
