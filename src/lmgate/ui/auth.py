"""Who may see /ui: the session cookie checked on every page, login with the master key, logout.

An unauthenticated request to any page is redirected to the login page (never a JSON 401); a form
posted without its session's CSRF token is refused. Sign-outs are remembered until the session would
have expired: in this process, and in Redis (every worker and replica) when router_settings names one.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import time
from urllib.parse import quote

from aiohttp import web

from lmgate.server.state import STATE
from lmgate.ui import session as sessions
from lmgate.ui.session import COOKIE, Session

log = logging.getLogger("lmgate.ui")
LOGIN = "/ui/login"
SESSION: web.RequestKey[Session] = web.RequestKey("lmgate_ui_session")
_REVOKED_PREFIX = "lmgate:ui:signed-out:"


class SignedOut:
    """Session ids that logged out, until they would have expired anyway."""

    def __init__(self) -> None:
        self.local: dict[str, int] = {}

    def _prune(self, now: float) -> None:
        for sid in [s for s, until in self.local.items() if until <= now]:
            del self.local[sid]

    async def add(self, request: web.Request, session: Session) -> None:
        now = time.time()
        self._prune(now)
        self.local[session.id] = session.expires
        link = request.app[STATE].router.state.redis
        if link is not None and link.client is not None and link.ok:
            with contextlib.suppress(Exception):  # best effort: this process still refuses it
                await link.client.set(_REVOKED_PREFIX + session.id, "1", ex=max(1, int(session.expires - now)))

    async def has(self, request: web.Request, session: Session) -> bool:
        if session.id in self.local:
            return True
        link = request.app[STATE].router.state.redis
        if link is None or link.client is None or not link.ok:
            return False
        try:
            return bool(await link.client.exists(_REVOKED_PREFIX + session.id))
        except Exception as exc:  # Redis down: the signature and expiry still hold
            log.warning("ui: cannot ask Redis about signed-out sessions (%s)", type(exc).__name__)
            return False


SIGNED_OUT: web.AppKey[SignedOut] = web.AppKey("lmgate_ui_signed_out", SignedOut)


def secret(request: web.Request) -> bytes | None:
    master = request.app[STATE].config.master_key
    return sessions.session_secret(master) if master is not None else None


def to_login(request: web.Request) -> web.HTTPSeeOther:
    target = request.path_qs if request.method == "GET" and request.path != LOGIN else "/ui"
    return web.HTTPSeeOther(f"{LOGIN}?next={quote(target, safe='/')}")


async def current(request: web.Request) -> Session | None:
    key = secret(request)
    if key is None:
        return None
    found = sessions.verify(key, request.cookies.get(COOKIE))
    if found is None or await request.app[SIGNED_OUT].has(request, found):
        return None
    return found


async def require(request: web.Request) -> Session:
    """The request's session, or a redirect to the login page; POSTs must carry the CSRF token."""
    found = await current(request)
    if found is None:
        raise to_login(request)
    if request.method == "POST":
        form = await request.post()
        token = form.get("csrf")
        key = secret(request)
        if key is None or not found.csrf_ok(key, token if isinstance(token, str) else None):
            raise web.HTTPForbidden(text="This form has expired or did not come from this page: reload it and try again.")
    request[SESSION] = found
    return found


def master_key_ok(request: web.Request, given: str) -> bool:
    master = request.app[STATE].config.master_key
    return master is not None and bool(given) and hmac.compare_digest(given.encode(), master.encode())


def set_cookie(request: web.Request, response: web.StreamResponse, value: str, max_age: int) -> None:
    secure = request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    response.set_cookie(COOKIE, value, max_age=max_age, path="/ui", httponly=True, samesite="Strict", secure=secure)


def start(request: web.Request, response: web.StreamResponse) -> None:
    key = secret(request)
    assert key is not None
    _, value = sessions.issue(key)
    set_cookie(request, response, value, sessions.SESSION_S)


async def end(request: web.Request, response: web.StreamResponse, session: Session) -> None:
    await request.app[SIGNED_OUT].add(request, session)
    response.del_cookie(COOKIE, path="/ui")
