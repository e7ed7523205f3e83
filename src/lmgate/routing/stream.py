"""A stream the router has peeked at: its first frame is already read, so nothing reached the client
while the upstream could still fail without a trace (hang after headers, cut, garbage).

Inbound handlers read `frames()` when the answer's wire is the client's protocol and `batches()`
otherwise; the router primes the same one, so each stream serves exactly one of the two.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from lmgate.core import UpstreamStream, Usage

OnClose = Callable[["PeekedStream"], Awaitable[None]]


class PeekedStream(UpstreamStream):
    def __init__(self, inner: UpstreamStream, items: AsyncIterator[Any], first: Any, frames: bool, on_close: OnClose):
        self.inner = inner
        self.wire = inner.wire
        self._items = items
        self._first = first
        self._frames = frames
        self._on_close: OnClose | None = on_close

    @classmethod
    async def open(cls, inner: UpstreamStream, frames: bool, on_close: OnClose) -> PeekedStream:
        """Read the first frame (or chunk); on any failure close the upstream and re-raise."""
        items: AsyncIterator[Any] = inner.frames() if frames else inner.batches()
        try:
            first = await anext(items, None)
        except BaseException:
            await _close_iter(items)
            await inner.aclose()
            raise
        return cls(inner, items, first, frames, on_close)

    @property
    def usage(self) -> Usage | None:  # type: ignore[override]
        return self.inner.usage

    async def _replay(self, frames: bool) -> AsyncIterator[Any]:
        if frames != self._frames:
            raise RuntimeError("this stream was opened for " + ("frames()" if self._frames else "batches()"))
        first, self._first = self._first, None
        if first is not None:
            yield first
        async for item in self._items:
            yield item

    def frames(self) -> AsyncIterator[bytes]:
        return self._replay(True)

    def batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        return self._replay(False)

    async def aclose(self) -> None:
        await _close_iter(self._items)
        await self.inner.aclose()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            await on_close(self)


async def _close_iter(items: AsyncIterator[Any]) -> None:
    close = getattr(items, "aclose", None)
    if close is not None:
        await close()
