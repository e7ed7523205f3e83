"""Real HTTP servers on loopback for tests: the gateway itself, and upstreams that misbehave on purpose.

Each server runs an aiohttp app on its own event loop in a background thread, so sync SDK clients
(openai.OpenAI) and async ones can both talk to it over real sockets.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

import orjson
from aiohttp import web


def free_port() -> int:
    """A port free right now, for a server in another process that must be told its port up front.

    The port is released before it is returned, so something else may take it first: launchers that
    use it (tests/processes.py, tests/redis_server.py, tests/pg.py) retry on a fresh port when their
    server could not bind. In-process servers never need it: ServerThread keeps the socket it binds.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_HELD: list[socket.socket] = []  # kept bound for the whole test run, so no one else can take the ports


def closed_port() -> int:
    """A loopback port that refuses connections for the rest of the run.

    The port stays bound (never listening) by this process, so a connection to it is refused at once and
    no later server can take it over; a port merely found free could be taken by another test's server.
    """
    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # no SO_REUSEADDR: nobody else may bind it while we hold it
    _HELD.append(s)
    return int(s.getsockname()[1])


def bound_socket(port: int = 0) -> socket.socket:
    """A loopback TCP socket bound to `port` (0: the kernel picks a port no socket holds), not yet listening."""
    s = socket.socket()
    if port:  # a fixed port may still have connections in TIME_WAIT from an earlier server
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    return s


class ServerThread:
    """Run `make_app()` (called inside the server's loop) on 127.0.0.1:<port> until stop().

    Without a port the socket is bound at construction (the kernel picks the port) and kept, so `port`
    is known at once and cannot be taken by another server before start().
    """

    def __init__(self, make_app: Callable[[], web.Application], port: int | None = None) -> None:
        self._make_app = make_app
        self._sock = bound_socket(port or 0)
        self.port = int(self._sock.getsockname()[1])
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._runner: web.AppRunner | None = None
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as exc:  # surfaced by start()
            self.error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
        self.loop.close()
        self._stopped.set()

    async def _start(self) -> None:
        self.app = self._make_app()
        self._runner = web.AppRunner(self.app, access_log=None, handler_cancellation=True, shutdown_timeout=1)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(10)
        if self.error:
            raise self.error
        return self

    def call(self, coro: Awaitable[Any]) -> Any:
        """Run a coroutine on the server's loop (e.g. to inspect or swap state) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._stopped.wait(10)
        self._sock.close()


class FakeServer:
    """Base for loopback fakes: a subclass builds `_app()`; `base` is its URL plus `base_path`.

    Subclasses set `self.server = ServerThread(self._app)` in their constructor.
    """

    base_path = ""
    server: ServerThread

    def _app(self) -> web.Application:
        raise NotImplementedError

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def base(self) -> str:
        return self.server.url + self.base_path


# --------------------------------------------------------------------------------------------------
# A fake OpenAI-compatible upstream whose behaviour each test scripts.


@dataclass
class Behaviour:
    """What the upstream does for one request.

    kind: ok | slow | status | garbage | html | reset | cut | stall | json_for_stream | no_done | hang

    `tool_calls` ([{id, name, arguments}]) and `reasoning` shape a chat answer, streamed or not.

    `cut` resets the connection and `stall` stops sending (connection open) after `after_chunks`
    stream events; with after_chunks=0 both happen after the 200 headers, before the first event.
    """

    kind: str = "ok"
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    after_chunks: int = 2  # for `cut` / `stall`: events sent before the connection is reset / goes quiet
    content: str = "hello from upstream"
    reasoning: str = ""  # chat only: sent as `reasoning` before the content
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # chat only: [{id, name, arguments (JSON text)}]
    finish: str = "stop"


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    peer: tuple[str, int] | None = None  # the gateway's end of the TCP connection (keep-alive reuse)


def closed_base() -> str:
    """An OpenAI base URL on a loopback port nobody listens on (connection refused; see closed_port)."""
    return f"http://127.0.0.1:{closed_port()}/v1"


class FakeOpenAIUpstream(FakeServer):
    """Speaks the OpenAI wire format exactly; `script` holds behaviours consumed one per request.

    GET /v1/models lists `ids`; with `api_key` set every request needs `Authorization: Bearer <key>`
    (OpenAI's 401 otherwise), as a vLLM started with --api-key does.
    """

    base_path = "/v1"

    def __init__(
        self, ids: list[str] | None = None, api_key: str | None = None, port: int | None = None,
        max_model_len: int | None = None,
    ) -> None:
        self.script: list[Behaviour] = []
        self.default = Behaviour()
        self.seen: list[SeenRequest] = []
        self.ids = ids if ids is not None else []
        self.api_key = api_key
        self.server = ServerThread(self._app, port)
        self.disconnects = 0
        self.listings: list[float] = []  # time.monotonic() of each GET /v1/models (health checks)
        self.listing_status = 200
        self.max_model_len = max_model_len  # vLLM lists each model's context length

    @property
    def calls(self) -> int:
        """How many requests reached this upstream (models listings aside)."""
        return len(self.seen)

    @property
    def chats(self) -> int:
        """How many chat completions reached this upstream."""
        return sum(s.path == "/v1/chat/completions" for s in self.seen)

    def _record(self, request: web.Request, body: dict[str, Any]) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.seen.append(SeenRequest(request.path, dict(request.headers), body, tuple(peer) if peer else None))

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            err = {"message": "Incorrect API key provided", "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
            return web.json_response({"error": err}, status=401)
        resp: web.StreamResponse = await handler(request)
        return resp

    async def _models(self, request: web.Request) -> web.Response:
        self.listings.append(time.monotonic())
        extra = {"max_model_len": self.max_model_len} if self.max_model_len else {}
        data = [{"id": i, "object": "model", "created": 1700000000, "owned_by": "me", **extra} for i in self.ids]
        return web.json_response({"object": "list", "data": data}, status=self.listing_status)

    def _next(self) -> Behaviour:
        return self.script.pop(0) if self.script else self.default

    async def _misbehave(self, request: web.Request, b: Behaviour) -> web.StreamResponse | None:
        if b.delay and b.kind != "slow_stream":  # slow_stream waits between events instead
            await asyncio.sleep(b.delay)
        if b.kind == "status":
            body = b.body if b.body is not None else {"error": {"message": f"upstream says {b.status}", "type": "x"}}
            raw = body if isinstance(body, bytes) else orjson.dumps(body)
            return web.Response(status=b.status, body=raw, content_type="application/json", headers=b.headers)
        if b.kind == "garbage":
            return web.Response(body=b"\x00\xffnot json at all{", content_type="application/json")
        if b.kind == "html":
            return web.Response(body=b"<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        if b.kind == "reset":
            assert request.transport is not None
            request.transport.abort()
            await asyncio.sleep(0.05)
            raise asyncio.CancelledError
        if b.kind == "hang":
            await asyncio.sleep(3600)
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        self._record(request, body)
        b = self._next()
        early = await self._misbehave(request, b)
        if early is not None:
            return early
        completion = request.path.endswith("/v1/completions")
        if body.get("stream"):
            return await self._stream(request, body, b, completion)
        usage = {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
        if completion:
            choice: dict[str, Any] = {"index": 0, "text": b.content, "finish_reason": "stop", "logprobs": None}
            obj = "text_completion"
        else:
            message: dict[str, Any] = {"role": "assistant", "content": b.content or None}
            if b.reasoning:
                message["reasoning"] = b.reasoning
            if b.tool_calls:
                message["tool_calls"] = [{"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in b.tool_calls]
            choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if b.tool_calls else b.finish}
            obj = "chat.completion"
        data = {"id": "up-1", "object": obj, "created": int(time.time()), "model": body["model"], "choices": [choice], "usage": usage}
        return web.json_response(data, dumps=lambda o: orjson.dumps(o).decode())

    async def _stream(self, request: web.Request, body: dict[str, Any], b: Behaviour, completion: bool) -> web.StreamResponse:
        if b.kind == "json_for_stream":
            return web.json_response({"id": "x", "object": "chat.completion", "choices": []})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        words = b.content.split()
        created = int(time.time())

        def event(obj: dict[str, Any]) -> bytes:
            return b"data: " + orjson.dumps(obj) + b"\n\n"

        def chunk(delta: dict[str, Any] | str, finish: str | None = None) -> dict[str, Any]:
            if completion:
                choice = {"index": 0, "text": delta, "finish_reason": finish}
                obj = "text_completion"
            else:
                choice = {"index": 0, "delta": delta, "finish_reason": finish}
                obj = "chat.completion.chunk"
            return {"id": "up-s", "object": obj, "created": created, "model": body["model"], "choices": [choice]}

        events = [event(chunk({"role": "assistant", "content": ""} if not completion else ""))]
        if b.reasoning and not completion:
            events.append(event(chunk({"reasoning": b.reasoning})))
        for i, w in enumerate(words):
            piece = w if i == 0 else " " + w
            events.append(event(chunk({"content": piece} if not completion else piece)))
        for n, c in enumerate(b.tool_calls):  # id and name first, then the arguments in two fragments
            half = len(c["arguments"]) // 2
            first = {"index": n, "id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"][:half]}}
            events.append(event(chunk({"tool_calls": [first]})))
            events.append(event(chunk({"tool_calls": [{"index": n, "function": {"arguments": c["arguments"][half:]}}]})))
        events.append(event(chunk({} if not completion else "", "tool_calls" if b.tool_calls else b.finish)))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 5, "completion_tokens": len(words), "total_tokens": 5 + len(words)}
            events.append(event({"id": "up-s", "object": "chat.completion.chunk", "created": created, "model": body["model"], "choices": [], "usage": usage}))
        if b.kind != "no_done":
            events.append(b"data: [DONE]\n\n")
        try:
            for i, e in enumerate(events):
                if b.kind == "cut" and i == b.after_chunks:
                    assert request.transport is not None
                    request.transport.abort()
                    return resp
                if b.kind == "stall" and i == b.after_chunks:
                    await asyncio.sleep(3600)
                if b.kind == "slow_stream" and i > 0:  # first event at once, then a gap before each
                    await asyncio.sleep(b.delay or 0.05)
                await resp.write(e)
            await resp.write_eof()
        except (asyncio.CancelledError, ConnectionResetError):
            self.disconnects += 1
            raise
        return resp

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        self._record(request, body)
        early = await self._misbehave(request, self._next())
        if early is not None:
            return early
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": [0.1 * (i + 1), 0.2, 0.3]} for i in range(len(inputs))]
        out = {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 3, "total_tokens": 3}}
        return web.json_response(out)
