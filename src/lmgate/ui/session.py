"""The admin UI's login session: a signed cookie any worker or replica accepts, and its CSRF token.

The signing secret is derived from the master key (HMAC-SHA256 of a fixed label), so every process
that shares the master key accepts every session, nothing new has to be configured or stored, and
changing the master key ends every session. A session is `<id>.<expires>.<signature>`; its CSRF token
is an HMAC of the session id, so a form is only accepted with the session it was rendered for.
Logging out forgets the session id in this process and, with Redis configured, in every process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

COOKIE = "lmgate_ui"
SESSION_S = 12 * 3600  # a session ends 12 hours after login
_LABEL = b"lmgate admin ui session v1"


def session_secret(master_key: str) -> bytes:
    return hmac.new(master_key.encode(), _LABEL, hashlib.sha256).digest()


def _mac(secret: bytes, text: str) -> str:
    digest = hmac.new(secret, text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    expires: int  # unix seconds

    def csrf(self, secret: bytes) -> str:
        """The token every form of this session carries."""
        return _mac(secret, "csrf:" + self.id)

    def csrf_ok(self, secret: bytes, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf(secret), token or "")


def issue(secret: bytes, now: float | None = None, lifetime: float = SESSION_S) -> tuple[Session, str]:
    """A new session and its cookie value."""
    session = Session(secrets.token_urlsafe(16), int((time.time() if now is None else now) + lifetime))
    body = f"{session.id}.{session.expires}"
    return session, f"{body}.{_mac(secret, body)}"


def verify(secret: bytes, cookie: str | None, now: float | None = None) -> Session | None:
    """The session a cookie value carries, or None (forged, malformed or expired)."""
    if not cookie:
        return None
    sid, _, rest = cookie.partition(".")
    expires, _, signature = rest.partition(".")
    if not sid or not expires.isdigit() or not signature:
        return None
    if not hmac.compare_digest(_mac(secret, f"{sid}.{expires}"), signature):
        return None
    if int(expires) <= (time.time() if now is None else now):
        return None
    return Session(sid, int(expires))
