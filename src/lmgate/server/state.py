"""The gateway's state on the aiohttp app: what handlers read, swapped as a whole on config reload."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from lmgate.config.runtime import RuntimeConfig
from lmgate.providers.http import UpstreamPool
from lmgate.routing import Router


@dataclass(slots=True)
class GatewayState:
    """What handlers need, swapped as a whole on config reload (in-flight requests keep theirs)."""

    config: RuntimeConfig
    router: Router
    pool: UpstreamPool


STATE: web.AppKey[GatewayState] = web.AppKey("lmgate_state", GatewayState)


def state(request: web.Request) -> GatewayState:
    return request.app[STATE]
