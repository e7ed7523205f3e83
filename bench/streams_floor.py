#!/usr/bin/env python3
"""Two floors for relaying slow streams in Python, to read lmgate's per-event cost against (issue 26).

    streams_floor.py aiohttp PORT UPSTREAM_PORT   # featureless aiohttp pass-through (iter_any + write)
    streams_floor.py raw PORT UPSTREAM_PORT       # asyncio protocols on uvloop: bytes in, bytes out

`aiohttp` is what any aiohttp gateway pays per relayed read: the client's StreamReader, one task
wake-up per read, the server's chunked writer. `raw` is the least a Python process can pay: one
`data_received` callback and one `transport.write` per read, no task, no parsing (the request is
forwarded as it came, the answer relayed byte for byte, the connection closed after one answer).
Neither routes, authenticates, counts or logs anything: they are baselines, not gateways.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import uvloop
from aiohttp import web


def aiohttp_floor(port: int, upstream: str) -> None:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        sess: aiohttp.ClientSession = request.app["session"]
        async with sess.post(upstream, data=body, headers={"Content-Type": "application/json"}) as up:
            resp = web.StreamResponse(headers={"Content-Type": up.headers.get("Content-Type", "text/event-stream")})
            await resp.prepare(request)
            async for data in up.content.iter_any():
                await resp.write(data)
            await resp.write_eof()
            return resp

    async def session(app: web.Application):  # type: ignore[no-untyped-def]
        app["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        yield
        await app["session"].close()

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.cleanup_ctx.append(session)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/api/chat", chat)
    app.router.add_get("/health/liveliness", health)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


class _Upstream(asyncio.Protocol):
    """The upstream side of one relayed request: every read goes straight to the client's transport."""

    def __init__(self, client: asyncio.Transport) -> None:
        self.client = client

    def data_received(self, data: bytes) -> None:
        self.client.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.close()


class _Client(asyncio.Protocol):
    """One client connection: buffer the request head (and body by Content-Length), then forward it."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.buf = b""
        self.up: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.up is not None:
            return
        self.buf += data
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return
        length = 0
        for line in self.buf[:head_end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(self.buf) >= head_end + 4 + length:
            asyncio.ensure_future(self._forward(self.buf))

    async def _forward(self, request: bytes) -> None:
        loop = asyncio.get_running_loop()
        self.up, _ = await loop.create_connection(lambda: _Upstream(self.transport), "127.0.0.1", self.upstream_port)
        self.up.write(request)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.up is not None:
            self.up.close()


def raw_floor(port: int, upstream_port: int) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Client(upstream_port), "127.0.0.1", port, backlog=4096)
        await server.serve_forever()

    uvloop.run(main())


if __name__ == "__main__":
    kind, port, up = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if kind == "aiohttp":
        aiohttp_floor(port, f"http://127.0.0.1:{up}/v1/chat/completions")
    else:
        raw_floor(port, up)
