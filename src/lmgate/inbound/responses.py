"""The OpenAI Responses API served to clients: POST /v1/responses (stream and not), GET and DELETE
/v1/responses/{id}, GET /v1/responses/{id}/input_items. Codex CLI and the Agents SDK speak it.

Upstreams get chat completions (or Ollama /api/chat): translate/responses*.py turn the request into
the canonical chat body and the answer or chunks back into a Response or its event stream. lmgate
owns the state: ids are its own (`resp_…`), `store: true` keeps the response and its input in the
response store (store/responses.py) before `response.completed` is sent, and `previous_response_id`
rebuilds the conversation from there. Hosted tools no upstream here can run are dropped and named in
the `x-lmgate-warning` header. See docs/responses.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from lmgate.core import GatewayRequest
from lmgate.errors import BadRequest, GatewayError, RouteNotFound, UpstreamError
from lmgate.inbound import relay
from lmgate.inbound.base import BY_PATH, NOT_MINE, InboundProtocol, Renderer, retry_after_headers
from lmgate.inbound.common import read_json_body, require_model
from lmgate.inbound.openai import JSON, SSE_HEADERS, error_body
from lmgate.inbound.sealing import Sealer
from lmgate.observability import tracking
from lmgate.observability.requestlog import default_state_dir
from lmgate.server.state import STATE, state
from lmgate.store.responses import ResponseStore, owner_of
from lmgate.translate.responses import chat_request, dropped_tools, input_items
from lmgate.translate.responses_answer import listed_input_items, new_response_id, response_object
from lmgate.translate.responses_stream import StreamTranslator, frame
from lmgate.validate import responses as validate

log = logging.getLogger("lmgate.responses")
NAME = "responses"
WARNING_HEADER = "x-lmgate-warning"
ENCRYPTED_REASONING = "reasoning.encrypted_content"
PURGE_EVERY_S = 3600.0


@dataclass(slots=True)
class ResponsesState:
    """The response store (None when general_settings.responses_store is false) and the reasoning sealer."""

    store: ResponseStore | None
    sealer: Sealer


RESPONSES: web.AppKey[ResponsesState] = web.AppKey("lmgate_responses", ResponsesState)


@dataclass(slots=True)
class ResponsesRequest(GatewayRequest):
    """A Responses call: the chat request the router sends, plus what the answer needs."""

    response_id: str = ""
    created_at: int = 0
    history: list[Any] = field(default_factory=list)  # items of the turns before previous_response_id
    sealer: Sealer | None = None
    seal_output: bool = False  # the client asked for reasoning.encrypted_content
    store: ResponseStore | None = None  # where to keep this response; None: not kept
    owner: str = ""


def _canonical(greq: GatewayRequest) -> dict[str, Any]:
    assert isinstance(greq, ResponsesRequest)
    opener = greq.sealer.open if greq.sealer is not None else _opens_nothing
    return chat_request(greq.body, greq.model, greq.history, opener)


def _opens_nothing(_: str) -> str | None:
    return None


class _Renderer:
    """Response JSON or the Responses event stream for one request; keeps the final object to store."""

    __slots__ = ("greq", "final", "_stream", "_started")

    def __init__(self, greq: ResponsesRequest) -> None:
        self.greq = greq
        self.final: dict[str, Any] | None = None
        self._stream = StreamTranslator(greq.body, greq.response_id, greq.model, greq.created_at, self._seal())
        self._started = False

    def _seal(self) -> Any:
        return self.greq.sealer.seal if self.greq.sealer is not None and self.greq.seal_output else None

    def _opening(self) -> list[dict[str, Any]]:
        if self._started:
            return []
        self._started = True
        return self._stream.start()

    def body(self, canonical: dict[str, Any]) -> bytes:
        g = self.greq
        self.final = response_object(g.body, canonical, g.response_id, g.model, g.created_at, self._seal())
        return orjson.dumps(self.final)

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        return frame(self._opening() + self._stream.feed(chunk))

    def end(self) -> bytes:
        events = self._opening() + self._stream.end()
        self.final = self._stream.response
        return frame(events)

    def error(self, exc: UpstreamError) -> bytes:
        return frame(self._opening() + self._stream.fail(exc.status, exc.message))


class ResponsesProtocol(InboundProtocol):
    name = NAME
    content_type = JSON
    stream_headers = SSE_HEADERS
    content_keys = ("input", "instructions")

    def routes(self) -> list[web.RouteDef]:
        table: list[web.RouteDef] = []
        for prefix in ("/v1", ""):
            table += [
                web.post(f"{prefix}/responses", create),
                web.get(prefix + "/responses/{id}", retrieve, allow_head=False),
                web.delete(prefix + "/responses/{id}", remove),
                web.get(prefix + "/responses/{id}/input_items", list_input_items, allow_head=False),
                web.post(prefix + "/responses/{id}/cancel", cancel),
            ]
        return table

    def claim(self, request: web.Request) -> int:
        path = request.path.removeprefix("/v1")
        return BY_PATH if path == "/responses" or path.startswith("/responses/") else NOT_MINE

    def render_error(self, err: GatewayError) -> web.Response:
        body = orjson.dumps(error_body(err))
        return web.Response(status=err.status, body=body, content_type=JSON, headers=retry_after_headers(err))

    def renderer(self, greq: GatewayRequest) -> _Renderer:
        assert isinstance(greq, ResponsesRequest)
        return _Renderer(greq)

    async def settle(self, greq: GatewayRequest, renderer: Renderer | None) -> None:
        """Stores the finished response before its last bytes (response.completed) are sent."""
        if not isinstance(greq, ResponsesRequest) or greq.store is None or not isinstance(renderer, _Renderer):
            return
        if renderer.final is None or renderer.final.get("status") == "failed":
            return
        try:
            await greq.store.save(greq.owner, input_items(greq.body), renderer.final)
        except Exception:  # the answer still reaches the client; only a follow-up cannot find it
            log.exception("could not store response %s", greq.response_id)


RESPONSES_PROTOCOL = ResponsesProtocol()


# ---- handlers -------------------------------------------------------------------------------------


def _caller(request: web.Request) -> tuple[str, str | None]:
    """(owner recorded on new responses, owner filter for reads: None = the master key reads all)."""
    from lmgate.server.middleware import presented_key  # the middleware imports the protocol registry

    key = presented_key(request)
    owner = owner_of(key)
    master = state(request).config.master_key
    return owner, (None if master is not None and key == master else owner)


async def _history(rs: ResponsesState, previous: Any, reader: str | None) -> list[Any]:
    if previous is None:
        return []
    if not isinstance(previous, str) or not previous:
        raise BadRequest("'previous_response_id' must be a response id", param="previous_response_id")
    if rs.store is None:
        raise BadRequest(
            "previous_response_id needs the response store, which is off on this gateway "
            "(general_settings.responses_store); send the whole conversation as 'input'",
            param="previous_response_id",
        )
    async with _store_errors():
        chain = await rs.store.chain(previous, reader)
    if chain is None:
        raise BadRequest(f"Previous response with id '{previous}' not found.", param="previous_response_id", code="previous_response_not_found")
    return [item for turn in chain for item in (*turn.input, *turn.response.get("output", ()))]


@tracking.model_endpoint(NAME)
async def create(request: web.Request) -> web.StreamResponse:
    body = await read_json_body(request)
    model = require_model(body)
    validate.create(body)  # types and structure, before the store or an upstream is asked anything
    if body.get("background") is True:
        raise BadRequest("'background: true' is not supported by this gateway yet", param="background")
    rs = request.app[RESPONSES]
    owner, reader = _caller(request)
    include = body.get("include")
    include = include if isinstance(include, list) else []
    keep = body.get("store") is not False and rs.store is not None
    greq = ResponsesRequest(
        "chat",
        NAME,
        body,
        model,
        stream=body.get("stream") is True,
        wants_usage=True,
        to_canonical=_canonical,
        response_id=new_response_id(),
        created_at=int(time.time()),
        history=await _history(rs, body.get("previous_response_id"), reader),
        sealer=rs.sealer,
        seal_output=ENCRYPTED_REASONING in include,
        store=rs.store if keep else None,
        owner=owner,
    )
    greq.canonical()  # a client's mistake is a 400 here, before any upstream is tried
    headers = {}
    dropped = dropped_tools(body)
    if dropped:
        headers[WARNING_HEADER] = f"hosted tools dropped, no upstream here runs them: {', '.join(dropped)}"
    return await relay.respond(request, greq, RESPONSES_PROTOCOL, headers)


def _not_found(response_id: str) -> RouteNotFound:
    return RouteNotFound(f"No response found with id '{response_id}'.", param="response_id")


@asynccontextmanager
async def _store_errors() -> AsyncIterator[None]:
    """A database failure is a 503 in OpenAI shape, not an internal error."""
    try:
        yield
    except (SQLAlchemyError, OSError) as exc:
        log.warning("response store unavailable: %s", type(exc).__name__)
        raise GatewayError("the response store is unavailable; try again", status=503, code="store_unavailable") from None


async def _stored(request: web.Request) -> Any:
    rs = request.app[RESPONSES]
    response_id = request.match_info["id"]
    found = None
    if rs.store is not None:
        async with _store_errors():
            found = await rs.store.get(response_id, _caller(request)[1])
    if found is None:
        raise _not_found(response_id)
    return found


async def retrieve(request: web.Request) -> web.Response:
    found = await _stored(request)
    return web.Response(body=orjson.dumps(found.response), content_type=JSON)


async def remove(request: web.Request) -> web.Response:
    rs = request.app[RESPONSES]
    response_id = request.match_info["id"]
    deleted = False
    if rs.store is not None:
        async with _store_errors():
            deleted = await rs.store.delete(response_id, _caller(request)[1])
    if not deleted:
        raise _not_found(response_id)
    return web.Response(body=orjson.dumps({"id": response_id, "object": "response", "deleted": True}), content_type=JSON)


async def cancel(request: web.Request) -> web.Response:
    """Only background responses can be cancelled, and this gateway runs none: every response it
    stored is already finished."""
    await _stored(request)  # 404 for an unknown id, as OpenAI answers
    raise BadRequest("only background responses can be cancelled; this response has already finished", param="response_id")


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise BadRequest("'limit' must be an integer from 1 to 100", param="limit")
    return int(raw)


async def list_input_items(request: web.Request) -> web.Response:
    found = await _stored(request)
    items = listed_input_items(found.input, found.id)
    order = request.query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadRequest("'order' must be asc or desc", param="order")
    if order == "desc":
        items.reverse()
    after = request.query.get("after")
    if after:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    limit = _limit(request)
    page = items[:limit]
    out = {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    }
    return web.Response(body=orjson.dumps(out), content_type=JSON)


# ---- lifespan -------------------------------------------------------------------------------------


def _sealer_secret(app: web.Application) -> str:
    config = app[STATE].config
    secret = config.file.general_settings.responses_secret
    if secret is not None:
        return str(secret.get_secret_value())
    # else the master key; else one per process (blobs open in the worker that made them; the
    # reasoning summary still carries the text everywhere)
    return config.master_key or os.urandom(32).hex()


def open_store(app: web.Application) -> ResponseStore | None:
    """The store in general_settings.database_url, else in a SQLite file of its own in the state
    directory (not the keys' lmgate.db, which exists only once a key does)."""
    gs = app[STATE].config.file.general_settings
    if not gs.responses_store:
        return None
    if gs.database_url is not None:
        url = gs.database_url.get_secret_value()
    else:
        directory = default_state_dir()
        directory.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{directory / 'responses.db'}"
    return ResponseStore.open(url, gs.responses_retention_days * 86400)


async def _purging(store: ResponseStore) -> None:
    """Deletes expired responses every hour, once this process has used the store (a gateway that
    never serves /v1/responses never opens the database)."""
    while True:
        await asyncio.sleep(PURGE_EVERY_S)
        if not store.used:
            continue
        try:
            await store.purge()
        except Exception:
            log.warning("could not purge expired responses", exc_info=True)


def install(app: web.Application) -> None:
    """The response store and sealer on the app (settings read once: restart to change them), and the
    lifespan that purges expired responses and closes the store."""
    store = open_store(app)
    app[RESPONSES] = ResponsesState(store, Sealer(_sealer_secret(app)))
    if store is None:
        return

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        purge = asyncio.create_task(_purging(store))
        yield
        purge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purge
        await store.close()

    app.cleanup_ctx.append(lifespan)
