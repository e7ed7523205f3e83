"""Virtual keys and teams: LiteLLM's admin API, stored in the database, cached per process.

`install(app, config)` is the one hook in the app factory; the auth middleware calls
`auth.authenticate` for keys that are not the master key. Nothing is installed without a master key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lmgate.keys.auth import KEYS

if TYPE_CHECKING:
    from lmgate.config.runtime import RuntimeConfig


def install(app: web.Application, config: RuntimeConfig) -> None:
    if config.master_key is None:
        return
    from lmgate.keys import admin, spend_api
    from lmgate.keys.ring import KeyRing
    from lmgate.observability.requestlog import default_state_dir

    app[KEYS] = KeyRing(config, default_state_dir())
    app.add_routes(admin.routes())
    _limits(app, config)
    app.add_routes(spend_api.routes())
    app.cleanup_ctx.append(_lifespan)


def _limits(app: web.Application, config: RuntimeConfig) -> None:
    """The key counters (on the router's Redis link when there is one) and the spend log's feedback."""
    from lmgate.keys import limits
    from lmgate.observability.observer import OBSERVER
    from lmgate.observability.sinks import DatabaseSink
    from lmgate.server.state import STATE

    router = app[STATE].router
    observer = app[OBSERVER]
    key_limits = limits.KeyLimits(
        router.state.redis, router.worker.count, observer.metrics,
        config.file.general_settings.budget_default_max_tokens,
    )
    app[limits.LIMITS] = key_limits

    def seen(settled: list[Any]) -> None:
        for s in settled:
            key_limits.saw_spend(s.scope, s.period_end, s.spend)

    for sink in observer.request_log.sinks if observer.request_log is not None else ():
        if isinstance(sink, DatabaseSink) and sink.spend:
            sink.on_spend = seen


async def _lifespan(app: web.Application) -> AsyncIterator[None]:
    from lmgate.server.state import STATE

    ring = app[KEYS]
    await ring.start(app[STATE].router.state.redis)  # the process's Redis link, opened before this
    yield
    await ring.close()
