"""Relay of an OpenAI-protocol SSE stream.

The upstream's bytes go through untouched, cut only at event boundaries. Events are parsed only when
they mention `usage` (to capture it, and to drop the usage-only chunk a client did not ask for) — the
rest of the stream is never decoded on the pass-through path.

Line endings: SSE allows CRLF, LF and a lone CR. Every one becomes LF before framing, however the
upstream's bytes were split across reads (a CRLF whose CR ends one read and whose LF starts the next
is one line end, not two).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from lmgate.core import UpstreamStream, Usage
from lmgate.errors import UpstreamProtocolError
from lmgate.providers.http import transport_error

if TYPE_CHECKING:
    from lmgate.core import Deployment

DONE = b"data: [DONE]\n\n"


def _payload(event: bytes) -> bytes | None:
    """The data of one SSE event (data lines joined), or None for comments/keep-alives."""
    lines = [ln[5:].lstrip(b" ") for ln in event.split(b"\n") if ln.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


class OpenAISSEStream(UpstreamStream):
    wire = "openai"

    def __init__(self, resp: aiohttp.ClientResponse, deployment: Deployment, strip_usage: bool) -> None:
        self._resp = resp
        self._deployment = deployment
        self._strip_usage = strip_usage
        self.usage: Usage | None = None
        self._finished = False  # saw a finish_reason or [DONE]
        self._done = False
        self._after_cr = False  # the last read ended in CR: an LF starting the next belongs to it

    def _inspect(self, block: bytes) -> bytes:
        """Parse only the events that mention usage (capture it; drop a usage-only chunk when stripping).

        `block` ends on an event boundary; everything around those events passes through as slices.
        """
        out: list[bytes] = []
        start = 0  # start of the not-yet-emitted part of block
        pos = block.find(b'"usage"')
        while pos >= 0:
            begin = block.rfind(b"\n\n", 0, pos) + 2 if block.rfind(b"\n\n", 0, pos) >= 0 else 0
            end = block.find(b"\n\n", pos) + 2
            if self._keep(block[begin:end]):
                pos = block.find(b'"usage"', end)
                continue
            out.append(block[start:begin])  # drop this event
            start = end
            pos = block.find(b'"usage"', end)
        if not out:
            return block
        out.append(block[start:])
        return b"".join(out)

    def _keep(self, event: bytes) -> bool:
        data = _payload(event.rstrip(b"\n"))
        if data is None or data == b"[DONE]":
            return True
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return True
        if isinstance(obj, dict) and isinstance(obj.get("usage"), dict):
            self.usage = Usage.from_openai(obj["usage"])
            return not (self._strip_usage and not obj.get("choices"))
        return True

    def _lf(self, data: bytes) -> bytes:
        """`data` with CRLF and lone CR line endings as LF, a CRLF split across reads included."""
        if self._after_cr and data.startswith(b"\n"):
            data = data[1:]
        self._after_cr = data.endswith(b"\r")
        return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    def _note_end(self, block: bytes) -> None:
        """Whether the stream is complete: `[DONE]` in the block's last bytes, or a finish_reason."""
        if block.find(b"[DONE]", len(block) - 64) >= 0 and (
            block.find(b"data: [DONE]", len(block) - 64) >= 0 or block.find(b"data:[DONE]", len(block) - 64) >= 0
        ):
            self._done = True
        if not self._finished and b'"finish_reason"' in block and (
            b'"finish_reason":"' in block or b'"finish_reason": "' in block
        ):
            self._finished = True

    async def frames(self) -> AsyncIterator[bytes]:
        # The hot loop of every pass-through stream: one turn per upstream read, no copies when the
        # read ends on an event boundary (the usual case), readany() rather than an iterator layer.
        buf = b""
        content = self._resp.content
        try:
            while data := await content.readany():
                if self._after_cr or b"\r" in data:
                    data = self._lf(data)
                buf = buf + data if buf else data
                if buf.endswith(b"\n\n"):
                    block, buf = buf, b""
                else:
                    cut = buf.rfind(b"\n\n")
                    if cut < 0:
                        continue
                    block, buf = buf[: cut + 2], buf[cut + 2 :]
                self._note_end(block)
                if b'"usage"' in block:
                    block = self._inspect(block)
                if block:
                    yield block
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_error(exc, self._deployment, "in the middle of the stream") from None
        finally:
            self._resp.release()
        if buf.strip():
            block = buf.rstrip(b"\n") + b"\n\n"
            self._note_end(block)
            yield self._inspect(block)
        if not self._done:
            if not self._finished:
                raise UpstreamProtocolError(
                    f"upstream '{self._deployment.name}' ended the stream before it was complete",
                    deployment=self._deployment.name,
                )
            yield DONE  # complete but unterminated: finish it the way clients expect

    async def batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        async for block in self.frames():
            batch = []
            for event in block.split(b"\n\n"):
                data = _payload(event)
                if data is None or data == b"[DONE]":
                    continue
                try:
                    obj = orjson.loads(data)
                except orjson.JSONDecodeError:
                    raise UpstreamProtocolError(
                        f"upstream '{self._deployment.name}' sent a stream event that is not JSON",
                        deployment=self._deployment.name,
                    ) from None
                if isinstance(obj, dict):
                    batch.append(obj)
            if batch:
                yield batch

    async def aclose(self) -> None:
        self._resp.release()
        if not self._resp.closed and not self._done:
            self._resp.close()
