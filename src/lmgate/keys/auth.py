"""Virtual keys on the request path: authenticate a key that is not the master key, check the model a
request names against the key's allow-list, and filter model listings. No database round trip for a
key the process knows (see ring.py)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from aiohttp import web

from lmgate.errors import AuthenticationFailed, PermissionDenied
from lmgate.observability.tracking import current_record
from lmgate.routing.privacy import PRIVACY_HEADER, header_strict

if TYPE_CHECKING:
    from lmgate.keys.model import Principal
    from lmgate.keys.ring import KeyRing

KEYS: web.AppKey[KeyRing] = web.AppKey("lmgate_keys")
# request[PRINCIPAL]: the virtual key's Principal; absent for the master key
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("lmgate_principal")
# Paths a virtual key may not reach (the admin API, health details, reload, metrics); /key/info is
# allowed and answers only about the caller's own key.
MASTER_ONLY = ("/key/", "/team/", "/health", "/config/", "/metrics", "/spend/", "/global/")
OWN_RECORD = "/key/info"


async def authenticate(request: web.Request, key: str) -> None:
    """`key` is not the master key: accept it as a virtual key or raise 401 (403 for admin paths)."""
    ring = request.app.get(KEYS)
    if ring is None:
        raise AuthenticationFailed("invalid API key")
    found = ring.remembered.get(key) or await ring.resolve(key)
    if found is None:
        raise AuthenticationFailed("invalid API key")
    rec = current_record()
    if rec is not None:  # refusals below are attributed to the key too
        rec.key_alias = found.label
        rec.team = found.team
        rec.api_key = found.token
        rec.team_id = found.team_id
    if found.blocked is not None:
        raise AuthenticationFailed(found.blocked)
    if found.expires is not None and time.time() >= found.expires:
        raise AuthenticationFailed("this API key has expired")
    path = request.path
    if path.startswith(MASTER_ONLY) and path != OWN_RECORD:
        raise PermissionDenied("this endpoint needs the master key")
    request[PRINCIPAL] = found


def check_model(request: web.Request, alias: str) -> None:
    """403 naming the allowed models when the request's key may not use `alias`."""
    found: Principal | None = request.get(PRINCIPAL)
    if found is not None and not found.allows(alias):
        allowed = ", ".join(found.allowed_names()) or "none"
        raise PermissionDenied(
            f"this API key may not use model '{alias}'; it may use: {allowed}", param="model", code="model_not_allowed"
        )


def strict_privacy(request: web.Request) -> bool:
    """Whether the request asks for strict data privacy: its key's or team's `privacy: strict`, or an
    `x-lmgate-privacy: strict` header (which can only tighten); 400 for a header value not understood."""
    found: Principal | None = request.get(PRINCIPAL)
    if found is not None and found.strict:
        return True
    return header_strict(request.headers.get(PRIVACY_HEADER))


def visible(request: web.Request, aliases: Iterable[str]) -> list[str]:
    """The aliases the request's key may use (all of them for the master key or an open gateway)."""
    found: Principal | None = request.get(PRINCIPAL)
    return list(aliases) if found is None else [a for a in aliases if found.allows(a)]
