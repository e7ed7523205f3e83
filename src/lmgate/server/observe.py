"""The observation middleware: one RequestRecord per model call, finished whatever happens.

Handlers marked with `tracking.model_endpoint` get a record (`tracking.current_record()`) that they fill
in (route, usage, first byte); this middleware opens it, counts the request in flight, and finishes it
whatever happens — success, error response, or a client that hung up (status 499) — into the
observer's batch (observability/observer.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from lmgate.observability.observer import DRAIN_BATCH, OBSERVER
from lmgate.observability.record import RequestRecord
from lmgate.observability.tracking import CLIENT_GONE, CURRENT

CLIENT_CLOSED = 499  # nginx's convention for "the client went away first"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    inbound = getattr(request.match_info.route.handler, "__lmgate_model_endpoint__", None)
    if inbound is None:
        return await handler(request)
    observer = request.app[OBSERVER]
    if observer.idle:
        return await handler(request)
    rec = RequestRecord(inbound, request.path)
    current = CURRENT.set(rec)
    in_flight = observer.in_flight[inbound]
    in_flight.value += 1  # a plain number until the next metrics flush (this path runs per request)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except asyncio.CancelledError:
        rec.error_class = rec.error_class or CLIENT_GONE
        raise
    finally:
        in_flight.value -= 1
        CURRENT.reset(current)
        rec.finish(CLIENT_CLOSED if rec.error_class == CLIENT_GONE else status)
        finished = observer.finished
        finished.append(rec)
        if len(finished) >= DRAIN_BATCH:
            observer.drain()
