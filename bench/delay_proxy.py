#!/usr/bin/env python3
"""A loopback TCP proxy that adds DELAY ms to every round trip (a far database, here).

    delay_proxy.py LISTEN_PORT TARGET_PORT [DELAY_MS=20]

Forwards both ways; each chunk read from one side is written to the other DELAY/2 ms after it arrived,
in order, so a query and its answer together take DELAY ms longer (the issue's "20 ms per round
trip"). Listens and connects on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hold: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(send())
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            queue.put_nowait((time.monotonic() + hold, data))
    queue.put_nowait((0.0, b""))
    with contextlib.suppress(ConnectionError):
        await sender


def main() -> None:
    listen, target = int(sys.argv[1]), int(sys.argv[2])
    hold = (float(sys.argv[3]) if len(sys.argv) > 3 else 20.0) / 1000 / 2  # half each way: DELAY per round trip

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pump(client_r, server_w, hold), _pump(server_r, client_w, hold))

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", listen)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
