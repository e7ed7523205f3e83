#!/usr/bin/env python3
"""A loopback upstream that hangs: it accepts TCP connections, reads whatever the client sends, and
never answers (no status line, no bytes), until the client gives up and closes the connection.

    hang_server.py [--port 18190] [--max-seconds 900]

Used by route_ollama_bench.sh to measure how fast lmgate falls back when the first tier of a chain
hangs (`stream_timeout`). Standard library only; binds 127.0.0.1 only; exits by itself after
--max-seconds so a forgotten instance does not linger. Prints "hang_server listening PORT" when ready.
"""
from __future__ import annotations

import argparse
import asyncio


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=18190)
    ap.add_argument("--max-seconds", type=float, default=900.0)
    a = ap.parse_args()
    stats = {"accepted": 0, "open": 0}

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stats["accepted"] += 1
        stats["open"] += 1
        try:
            while await reader.read(65536):  # swallow the request(s); never write a byte
                pass
        except (ConnectionError, OSError):
            pass
        finally:
            stats["open"] -= 1
            writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", a.port, backlog=1024)
    print(f"hang_server listening {a.port}", flush=True)
    try:
        await asyncio.wait_for(server.serve_forever(), a.max_seconds)
    except (asyncio.TimeoutError, asyncio.CancelledError):
        pass
    finally:
        print(f"hang_server done: {stats['accepted']} connections accepted, {stats['open']} still open", flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
