"""Cross-cutting layers: error rendering (outermost) and authentication."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from lmgate.errors import AuthenticationFailed, BodyTooLarge, GatewayError, RouteNotFound
from lmgate.inbound import protocol_for
from lmgate.keys import auth as keys_auth
from lmgate.observability.tracking import current_record, id_headers, note_error
from lmgate.server.state import STATE
from lmgate.ui import is_ui_path

log = logging.getLogger("lmgate.server")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Paths any caller may reach: probes for orchestrators, and the two an Ollama client asks before it sends
# any key ("Ollama is running", the version); none of them reveals a model, a deployment or a key.
PUBLIC_PATHS = frozenset({"/health/liveliness", "/health/liveness", "/health/readiness", "/", "/api/version"})


def _from_http_exception(exc: web.HTTPException) -> GatewayError:
    if exc.status == 404:
        return RouteNotFound("no such endpoint; see the README for the paths lmgate serves")
    if exc.status == 405:
        return GatewayError("method not allowed on this endpoint", status=405, code="method_not_allowed")
    if exc.status == 413:
        return BodyTooLarge("request body is too large (general_settings.max_request_body_mb raises the limit)")
    return GatewayError(exc.reason or "request failed", status=exc.status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every failure in the protocol the client spoke; never a stack trace. Every answer not
    already sent carries its `x-request-id` (streams and proxied answers set theirs in the relay)."""
    response: web.StreamResponse
    try:
        response = await handler(request)
    except GatewayError as err:
        note_error(current_record(), err)
        response = protocol_for(request).render_error(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = protocol_for(request).render_error(_from_http_exception(exc))
    except Exception as exc:
        log.exception("unhandled error on %s %s", request.method, request.path)
        note_error(current_record(), exc)
        internal = GatewayError("internal error in the gateway; the operator's log has the details")
        response = protocol_for(request).render_error(internal)
    if not response.prepared and "x-request-id" not in response.headers:
        response.headers.update(id_headers(current_record(), request))
    return response


def presented_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else auth.strip()
    return request.headers.get("x-api-key") or request.headers.get("api-key")


def _metrics_are_public(request: web.Request) -> bool:
    gs = request.app[STATE].config.file.general_settings
    return request.path in ("/metrics", "/metrics/") and not gs.require_auth_for_metrics_endpoint


@web.middleware
async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """With general_settings.master_key set, every non-public path needs it or a virtual key; otherwise open.
    The admin UI (/ui) checks its own login cookie (ui/auth.py) and redirects to its login page."""
    master = request.app[STATE].config.master_key
    if master is None or request.path in PUBLIC_PATHS or _metrics_are_public(request) or is_ui_path(request.path):
        return await handler(request)
    key = presented_key(request)
    if not key:
        raise AuthenticationFailed("missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'")
    if not hmac.compare_digest(key.encode(), master.encode()):
        await keys_auth.authenticate(request, key)  # a virtual key, or 401
    return await handler(request)
