"""The aiohttp application factory and its lifespan (upstream sessions and the Redis client opened and
closed here)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial

from aiohttp import web

from lmgate import inbound, keys, ui
from lmgate.config.runtime import RuntimeConfig
from lmgate.inbound import responses
from lmgate.limits.accounts import AccountPoller
from lmgate.observability.observer import OBSERVER, build_observer, observer_lifespan
from lmgate.providers.http import UpstreamPool
from lmgate.routing import Router, RouterState
from lmgate.routing.health_checks import HealthChecker
from lmgate.routing.warm import WarmPoller
from lmgate.server import health, metrics_endpoint, middleware, observe, reload
from lmgate.server.state import HEALTH_CHECKS, STATE, GatewayState
from lmgate.workers import SOLO, WorkerIdentity


def create_app(config: RuntimeConfig, worker: WorkerIdentity = SOLO) -> web.Application:
    """The gateway for one process; `worker` says which of `--workers N` it is (quota shares, log file)."""
    app = web.Application(
        client_max_size=config.max_body_bytes,
        middlewares=[observe.observe, middleware.errors, middleware.auth],
        handler_args={"max_field_size": 65536},
    )
    pool = UpstreamPool()
    router = Router(config, pool, router_state(config, worker), worker=worker)
    app[STATE] = GatewayState(config=config, router=router, pool=pool)
    app[OBSERVER] = build_observer(config, worker)
    app.add_routes(health.routes())
    app.add_routes(metrics_endpoint.routes())
    app.add_routes(inbound.routes())
    responses.install(app)
    app.cleanup_ctx.append(_upstream_sessions)
    app.cleanup_ctx.append(_shared_state)
    app[HEALTH_CHECKS] = HealthChecker(partial(_current, app))
    app.cleanup_ctx.append(_background)
    reload.install(app)
    app.cleanup_ctx.append(observer_lifespan)
    keys.install(app, config)  # virtual keys and their admin API (with a master key)
    ui.install(app)  # the admin web UI at /ui (its modules load with the first /ui request)
    return app


async def _upstream_sessions(app: web.Application) -> AsyncIterator[None]:
    st = app[STATE]
    st.pool.warm(st.config.deployments)
    yield
    await st.pool.close()


def router_state(config: RuntimeConfig, worker: WorkerIdentity = SOLO) -> RouterState:
    """In-memory quotas and cooldowns, or Redis-backed ones when router_settings names a Redis.

    The Redis settings are read once, at start-up: a reload keeps the RouterState and so the connection
    (restart to point lmgate at another Redis).
    """
    settings = config.redis_settings
    if settings is None:
        return RouterState()
    from lmgate.limits.parallel_redis import RedisParallel
    from lmgate.limits.redis import RedisQuotas  # redis-py is imported only when configured
    from lmgate.redis_link import RedisLink
    from lmgate.routing.cooldowns_redis import RedisCooldowns

    link = RedisLink(settings)
    return RouterState(
        cooldowns=RedisCooldowns(link),
        quotas=RedisQuotas(link, workers=worker.count),
        parallel=RedisParallel(link, workers=worker.count),
        redis=link,
    )


async def _shared_state(app: web.Application) -> AsyncIterator[None]:
    """Connect to Redis (an unreachable one is logged, not fatal) and refresh shared cooldowns."""
    state = app[STATE].router.state
    link = state.redis
    if link is None:
        yield
        return
    await link.open()
    cooldowns = state.cooldowns
    refresh = getattr(cooldowns, "refresh", None)
    if refresh is not None:
        if link.ok:
            await refresh()
        link.every(getattr(cooldowns, "refresh_s", 0.5), refresh)
    yield
    await link.close()



def _current(app: web.Application) -> tuple[Router, UpstreamPool]:
    """The router and pool serving now (both change on reload)."""
    st = app[STATE]
    return st.router, st.pool


async def _background(app: web.Application) -> AsyncIterator[None]:
    """Background health checks (general_settings.background_health_checks) and the Ollama /api/ps
    poller (router_settings.ollama_prefer_loaded): one each per process; they idle while switched off
    and follow reloads."""
    checker = app[HEALTH_CHECKS]
    tasks = [
        asyncio.create_task(checker.run()),
        asyncio.create_task(WarmPoller(partial(_current, app)).run()),
        asyncio.create_task(AccountPoller(partial(_current, app)).run()),  # free tiers' GET /key
    ]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await checker.close()
