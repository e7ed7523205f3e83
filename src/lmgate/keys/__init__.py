"""Virtual keys and teams: LiteLLM's admin API, stored in the database, cached per process.

`install(app, config)` is the one hook in the app factory; the auth middleware calls
`auth.authenticate` for keys that are not the master key. Nothing is installed without a master key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import web

from lmgate.keys.auth import KEYS

if TYPE_CHECKING:
    from lmgate.config.runtime import RuntimeConfig


def install(app: web.Application, config: RuntimeConfig) -> None:
    if config.master_key is None:
        return
    from lmgate.keys import admin
    from lmgate.keys.ring import KeyRing
    from lmgate.observability.requestlog import default_state_dir

    app[KEYS] = KeyRing(config, default_state_dir())
    app.add_routes(admin.routes())
    app.cleanup_ctx.append(_lifespan)


async def _lifespan(app: web.Application) -> AsyncIterator[None]:
    from lmgate.server.state import STATE

    ring = app[KEYS]
    await ring.start(app[STATE].router.state.redis)  # the process's Redis link, opened before this
    yield
    await ring.close()
