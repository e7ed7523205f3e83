"""Inbound protocols: one object per client API. `PROTOCOLS` is the only list of them.

To add a protocol, write `inbound/<name>.py` with an `InboundProtocol` object (see inbound/base.py) and
add it here. Errors are rendered by the protocol that claims the request most surely (`claim`); a
request no protocol claims (an unknown path) is answered by `DEFAULT`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from lmgate.inbound.anthropic import ANTHROPIC
from lmgate.inbound.base import NOT_MINE, InboundProtocol
from lmgate.inbound.ollama import OLLAMA
from lmgate.inbound.openai import OPENAI
from lmgate.inbound.responses import RESPONSES_PROTOCOL

PROTOCOLS: tuple[InboundProtocol, ...] = (OPENAI, OLLAMA, ANTHROPIC, RESPONSES_PROTOCOL)
DEFAULT: InboundProtocol = OPENAI  # renders errors for requests no protocol claims

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def protocol_for(request: web.Request) -> InboundProtocol:
    best, surest = DEFAULT, NOT_MINE
    for protocol in PROTOCOLS:
        claim = protocol.claim(request)
        if claim > surest:
            best, surest = protocol, claim
    return best


def _dispatch(handlers: dict[str, Handler]) -> Handler:
    """One handler for a route several protocols serve: the claiming protocol's own handler answers."""

    async def dispatch(request: web.Request) -> web.StreamResponse:
        handler = handlers.get(protocol_for(request).name) or next(iter(handlers.values()))
        return await handler(request)

    return dispatch


def routes() -> list[web.RouteDef]:
    """Every protocol's routes; a (method, path) served by several protocols is dispatched per request."""
    table: dict[tuple[str, str], dict[str, web.RouteDef]] = {}
    for protocol in PROTOCOLS:
        for route in protocol.routes():
            table.setdefault((route.method, route.path), {})[protocol.name] = route
    out: list[web.RouteDef] = []
    for (method, path), by_protocol in table.items():
        if len(by_protocol) == 1:
            out.extend(by_protocol.values())
            continue
        handlers: dict[str, Handler] = {name: r.handler for name, r in by_protocol.items()}
        kwargs = next(iter(by_protocol.values())).kwargs
        out.append(web.route(method, path, _dispatch(handlers), **kwargs))
    return out
