"""One pipelined RESP2 connection for the Lua scripts on the request path (RedisLink.run).

redis-py costs about a third of a core at a few thousand scripts a second: a pool checkout, an
`asyncio.wait_for` task and a timeout context per command, and its own packing. Here every caller
writes its EVALSHA on one shared connection at once and awaits a future; replies come back in order
(Redis answers a connection's commands in the order it got them) and hiredis parses them. Concurrent
requests thus share round trips without any batching delay. A watchdog, armed only while replies are
owed, drops the connection when the oldest one is more than `timeout` seconds late (a hung Redis),
which fails every pending call: the caller marks the link down, as for any Redis error.

Only plain TCP and Unix sockets (with AUTH and SELECT); TLS stays on redis-py (RedisLink decides).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from typing import Any, cast

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

_CRLF = b"\r\n"


def _arg(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, float):
        return repr(value).encode()
    return str(value).encode()


def pack(*words: Any) -> bytes:
    """One command in RESP: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(words)]
    for w in words:
        b = _arg(w)
        parts.append(b"$%d\r\n" % len(b))
        parts.append(b)
        parts.append(_CRLF)
    return b"".join(parts)


def sha1(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


class Wire(asyncio.Protocol):
    """The connection: `call` writes a command and returns the future of its reply."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader(replyError=ResponseError)
        self.pending: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.closed = False
        self.loaded: set[bytes] = set()  # scripts sent whole on this connection (EVALSHA works after)
        self._watch: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()

    @classmethod
    async def open(cls, kwargs: dict[str, Any], timeout: float) -> Wire:
        loop = asyncio.get_running_loop()
        if kwargs.get("path"):
            connect = loop.create_unix_connection(lambda: cls(timeout), kwargs["path"])
        else:
            connect = loop.create_connection(lambda: cls(timeout), kwargs.get("host") or "127.0.0.1", int(kwargs.get("port") or 6379))
        try:
            _, wire = await asyncio.wait_for(connect, timeout)
        except TimeoutError as exc:
            raise RedisTimeoutError("timed out connecting to Redis") from exc
        if kwargs.get("password"):
            user = kwargs.get("username")
            await wire.call(*(("AUTH", user, kwargs["password"]) if user else ("AUTH", kwargs["password"])))
        if kwargs.get("db"):
            await wire.call("SELECT", kwargs["db"])
        return wire

    # ---- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        reader, pending = self.reader, self.pending
        reader.feed(data)
        while True:
            try:
                reply = reader.gets()
            except hiredis.ProtocolError as exc:
                self._drop(RedisConnectionError(f"Redis protocol error: {exc}"))
                return
            if reply is False:
                return
            if not pending:
                self._drop(RedisConnectionError("Redis sent a reply nobody asked for"))
                return
            fut, _ = pending.popleft()
            if not fut.done():
                if isinstance(reply, ResponseError):
                    fut.set_exception(NoScriptError(str(reply)) if str(reply).startswith("NOSCRIPT") else reply)
                else:
                    fut.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(RedisConnectionError(f"connection to Redis lost{f': {exc}' if exc else ''}"))

    # ---- calls -----------------------------------------------------------------------------------

    def call(self, *words: Any) -> asyncio.Future[Any]:
        return self.send(pack(*words))

    def script(self, script: str, sha: bytes, keys: list[str], args: list[Any]) -> asyncio.Future[Any]:
        """EVALSHA; EVAL the first time on this connection, so that even a script's first call keeps
        its place in the order of this process's calls (a NOSCRIPT retry would lose it)."""
        if sha in self.loaded:
            return self.send(pack(b"EVALSHA", sha, len(keys), *keys, *args))
        self.loaded.add(sha)
        return self.send(pack(b"EVAL", script, len(keys), *keys, *args))

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = self._loop.create_future()
        if self.closed or self.transport is None:
            fut.set_exception(RedisConnectionError("connection to Redis closed"))
            return fut
        self.transport.write(packed)
        self.pending.append((fut, time.monotonic()))
        if self._watch is None:
            self._watch = self._loop.call_later(self.timeout, self._check)
        return fut

    def close(self) -> None:
        self._drop(RedisConnectionError("connection to Redis closed"))

    # ---- the watchdog ----------------------------------------------------------------------------

    def _check(self) -> None:
        self._watch = None
        if not self.pending:
            return
        late = time.monotonic() - self.pending[0][1]
        if late >= self.timeout:
            self._drop(RedisTimeoutError(f"Redis did not answer within {self.timeout:g} s"))
        else:
            self._watch = self._loop.call_later(self.timeout - late, self._check)

    def _drop(self, exc: Exception) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        while self.pending:
            fut, _ = self.pending.popleft()
            if not fut.done():
                fut.set_exception(exc)
