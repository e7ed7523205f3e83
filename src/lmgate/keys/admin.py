"""LiteLLM's key and team admin API over HTTP (master key only; /key/info also answers a virtual key
about itself). The operations live in service.py; this is their HTTP face."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from lmgate.errors import GatewayError, PermissionDenied
from lmgate.inbound.common import read_json_body
from lmgate.keys.auth import KEYS, OWN_RECORD, PRINCIPAL
from lmgate.keys.paths import ADMIN_PATHS
from lmgate.server.state import STATE

if TYPE_CHECKING:
    from lmgate.keys.ring import KeyRing
    from lmgate.keys.service import Result

WARNING_HEADER = "x-lmgate-warning"
log = logging.getLogger("lmgate.keys")


async def _handle(path: str, request: web.Request, extra: dict[str, Any] | None = None) -> web.Response:
    ring = request.app[KEYS]
    caller = request.get(PRINCIPAL)
    if caller is not None and request.path != OWN_RECORD:
        raise PermissionDenied("this endpoint needs the master key")
    if request.app[STATE].config.master_key is None:  # a reload removed it: the gateway is open now
        raise PermissionDenied("the key admin API needs general_settings.master_key")
    payload: dict[str, Any] = dict(request.query) if ADMIN_PATHS[path][0] == "GET" else await read_json_body(request)
    payload.update(extra or {})
    result = await perform(ring, path, payload, caller.token if caller is not None else None)
    headers = {WARNING_HEADER: "; ".join(result.warnings)} if result.warnings else None
    return web.Response(body=orjson.dumps(result.body), content_type="application/json", headers=headers)


async def perform(ring: KeyRing, path: str, payload: dict[str, Any], caller: str | None = None) -> Result:
    """One admin operation (by its LiteLLM path) on the ring's store; every process learns of a change.
    The HTTP routes and the web UI both call this."""
    from lmgate.keys.service import operation  # SQLAlchemy loads with the first admin call
    from lmgate.keys.store import UNREACHABLE

    try:
        await ring.open()
        result = await operation(path)(ring.admin, payload, caller)
        if result.changed:
            await ring.changed()
    except UNREACHABLE as exc:
        log.warning("key admin: database error on %s: %s", path, type(exc).__name__)
        raise GatewayError(
            "the key database is unreachable; the master key and keys already loaded keep working",
            status=503, code="key_store_unavailable",
        ) from None
    return result


async def _regenerate_in_path(request: web.Request) -> web.Response:
    """LiteLLM's `POST /key/{key}/regenerate` form."""
    return await _handle("/key/regenerate", request, {"key": request.match_info["key"]})


def routes() -> list[web.RouteDef]:
    table = [web.route(method, path, partial(_handle, path)) for path, (method, _) in ADMIN_PATHS.items()]
    table.append(web.post("/key/{key}/regenerate", _regenerate_in_path))
    return table
