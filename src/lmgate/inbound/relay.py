"""Route a parsed request and answer it in the client's protocol — shared by every inbound protocol.

When the upstream's wire equals the client's protocol the bytes are relayed untouched; otherwise the
protocol's `Rendering` turns the canonical (OpenAI-shaped) answer or chunks into its own format. The
request's record (metrics, request log) is filled in here, once, for all protocols.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from aiohttp import web

from lmgate.errors import GatewayError, UpstreamError
from lmgate.inbound.common import state
from lmgate.keys import auth as keys_auth
from lmgate.observability import tracking
from lmgate.providers.base import GatewayRequest, UpstreamReply
from lmgate.routing.router import ROUTE_HEADER, RouteResult


class Rendering(Protocol):
    """How one inbound protocol writes answers that did not arrive in its own wire format."""

    wire: str
    content_type: str  # of whole answers
    stream_headers: dict[str, str]

    def body(self, greq: GatewayRequest, canonical: dict[str, Any]) -> bytes: ...

    def chunk(self, greq: GatewayRequest, chunk: dict[str, Any]) -> bytes: ...

    def end(self, greq: GatewayRequest) -> bytes: ...

    def error(self, exc: UpstreamError) -> bytes:
        """The protocol's in-stream error frame, for failures after the first byte."""


def route_headers(result: RouteResult) -> dict[str, str]:
    return {"x-lmgate-deployment": result.deployment.name, ROUTE_HEADER: result.trace.header()}


async def respond(request: web.Request, greq: GatewayRequest, rendering: Rendering) -> web.StreamResponse:
    st = state(request)
    settings = st.config.file.general_settings
    greq.allow_remote_images = bool(settings.allow_remote_images)
    rec = tracking.current_record()
    tracking.note_request(rec, greq.model, greq.stream, greq.body, bool(settings.log_content))
    keys_auth.check_model(request, greq.model)
    started = time.perf_counter()
    try:
        result = await st.router.send(greq)
    except GatewayError as exc:
        tracking.note_failed_route(rec, exc.route_trace, st.config)
        raise
    tracking.note_route(rec, result, st.config)
    answer = result.answer
    headers = route_headers(result)
    if isinstance(answer, UpstreamReply):
        tracking.note_upstream_done(rec, time.perf_counter() - started, answer.usage)
        if rec is not None and rec.content is not None:
            tracking.note_completion(rec, answer.canonical())
        native = answer.wire == rendering.wire
        body = answer.raw if native else rendering.body(greq, answer.canonical())
        headers["Content-Type"] = rendering.content_type
        return web.Response(body=body, headers=headers)

    resp = web.StreamResponse(headers={**rendering.stream_headers, **headers})
    try:
        await resp.prepare(request)
        try:
            if answer.wire == rendering.wire:
                async for frame in answer.frames():
                    if rec is not None and rec.ttft_s is None:
                        rec.mark_first_byte()
                    await resp.write(frame)
            else:
                async for chunk in answer.chunks():
                    data = rendering.chunk(greq, chunk)
                    if data:
                        if rec is not None and rec.ttft_s is None:
                            rec.mark_first_byte()
                        await resp.write(data)
                await resp.write(rendering.end(greq))
        except UpstreamError as exc:
            tracking.note_error(rec, exc)
            await resp.write(rendering.error(exc))  # bytes already reached the client: end in-protocol
        await resp.write_eof()
    except ConnectionResetError:  # the client went away (also while the last bytes were written)
        tracking.note_client_gone(rec)
    finally:
        await answer.aclose()  # closes the upstream request when the client left early
        tracking.note_upstream_done(rec, time.perf_counter() - started, answer.usage)
    return resp
