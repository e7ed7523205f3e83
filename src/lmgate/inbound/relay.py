"""Route a parsed request and answer it in the client's protocol — shared by every inbound protocol.

When the router says the answer is native (in the client's own wire) its bytes are relayed untouched;
otherwise the protocol's `Renderer` writes the canonical (OpenAI-shaped) answer or chunks in its
format. The request's record (metrics, request log) is filled in here, once, for all protocols.
"""

from __future__ import annotations

import time

from aiohttp import web

from lmgate.core import GatewayRequest, UpstreamReply
from lmgate.errors import GatewayError, UpstreamError
from lmgate.inbound.base import InboundProtocol
from lmgate.inbound.model_name import ModelSplicer
from lmgate.keys import auth as keys_auth
from lmgate.keys import limits as key_limits
from lmgate.keys.limits import Ticket
from lmgate.observability import tracking
from lmgate.routing.router import ROUTE_HEADER, RouteResult
from lmgate.server.state import state


def answer_headers(request: web.Request, result: RouteResult) -> dict[str, str]:
    headers = {"x-lmgate-deployment": result.deployment.name, ROUTE_HEADER: result.trace.header()}
    headers.update(tracking.id_headers(tracking.current_record(), request))
    return headers


async def respond(
    request: web.Request, greq: GatewayRequest, protocol: InboundProtocol, extra_headers: dict[str, str] | None = None
) -> web.StreamResponse:
    """`extra_headers` go on the answer (e.g. a protocol's warning about what it left out)."""
    st = state(request)
    settings = st.config.file.general_settings
    greq.allow_remote_images = bool(settings.allow_remote_images)
    rec = tracking.current_record()
    tracking.note_request(rec, greq, protocol.content_keys, bool(settings.log_content))
    keys_auth.check_model(request, greq.model)
    greq.strict = keys_auth.strict_privacy(request)
    ticket = await key_limits.admit(request, greq, st.router)  # None: the master key, or a key without limits
    if ticket is None:
        return await _serve(request, greq, protocol, extra_headers, None)
    try:
        return await _serve(request, greq, protocol, extra_headers, ticket)
    finally:
        await ticket.settle()


async def _serve(
    request: web.Request, greq: GatewayRequest, protocol: InboundProtocol, extra_headers: dict[str, str] | None,
    ticket: Ticket | None,
) -> web.StreamResponse:
    st = state(request)
    rec = tracking.current_record()
    started = time.perf_counter()
    try:
        result = await st.router.send(greq)
    except GatewayError as exc:
        tracking.note_failed_route(rec, exc.route_trace, st.config)
        raise
    tracking.note_route(rec, result, st.config)
    answer = result.answer
    headers = answer_headers(request, result)
    if ticket is not None:
        ticket.result = result
        headers.update(ticket.headers())
    if extra_headers:
        headers.update(extra_headers)
    if isinstance(answer, UpstreamReply):
        tracking.note_upstream_done(rec, time.perf_counter() - started, answer.usage)
        if rec is not None and rec.content is not None:
            tracking.note_completion(rec, answer.canonical())
        renderer = None if result.native else protocol.renderer(greq)
        body = ModelSplicer(greq.model)(answer.raw) if renderer is None else renderer.body(answer.canonical())
        await protocol.settle(greq, renderer)
        headers["Content-Type"] = protocol.content_type
        return web.Response(body=body, headers=headers)

    resp = web.StreamResponse(headers={**protocol.stream_headers, **headers})
    renderer = None if result.native else protocol.renderer(greq)
    try:
        await resp.prepare(request)
        try:
            if renderer is None:
                splice = ModelSplicer(greq.model)
                async for frame in answer.frames():
                    if rec is not None and rec.ttft_s is None:
                        rec.mark_first_byte()
                    await resp.write(splice(frame))
            else:
                async for batch in answer.batches():  # what arrived together leaves in one write
                    data = b"".join([renderer.chunk(chunk) for chunk in batch])
                    if data:
                        if rec is not None and rec.ttft_s is None:
                            rec.mark_first_byte()
                        await resp.write(data)
                tail = renderer.end()
                await protocol.settle(greq, renderer)
                await resp.write(tail)
        except UpstreamError as exc:
            tracking.note_error(rec, exc)
            # bytes already reached the client: end in-protocol
            await resp.write((renderer or protocol.renderer(greq)).error(exc))
        await resp.write_eof()
    except ConnectionResetError:  # the client went away (also while the last bytes were written)
        tracking.note_client_gone(rec)
    finally:
        await answer.aclose()  # closes the upstream request when the client left early
        tracking.note_upstream_done(rec, time.perf_counter() - started, answer.usage)
    return resp
