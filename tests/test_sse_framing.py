"""SSE framing: however an upstream frames (CRLF, LF, lone CR) and however its bytes are split across
reads, the relay cuts at event boundaries and every event parses: comments, multi-line data and
`event:` lines included.

The exhaustive split is checked on the stream reader (every split position of every framing); a real
loopback upstream that writes one byte at a time checks the same through the gateway and the SDK.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import openai
import orjson
import pytest
from aiohttp import web

from lmgate.core import Deployment
from lmgate.providers.sse import OpenAISSEStream
from tests.servers import FakeServer, ServerThread

WORDS = ["Hel", "lo", " wor", "ld"]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return orjson.dumps(
        {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    )


def stream_bytes(eol: bytes) -> bytes:
    """An OpenAI stream with what SSE allows: comments, an event line, one event's JSON spread
    over several data lines, a usage chunk, [DONE]; every line ended by `eol`."""
    lines: list[list[bytes]] = [[b": keep-alive"]]
    lines.append([b"event: message", b"data: " + _chunk({"role": "assistant", "content": ""})])
    for w in WORDS:
        lines.append([b"data:" + _chunk({"content": w})])  # no space after the colon is allowed too
    multi = _chunk({}, "stop")
    half = multi.index(b'"choices"')  # between two members: the joining LF is JSON whitespace
    lines.append([b"data: " + multi[:half], b"data: " + multi[half:]])  # one JSON spread over two lines
    lines.append([b": OPENROUTER PROCESSING"])
    usage = {"id": "c1", "object": "chat.completion.chunk", "choices": [],
             "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
    lines.append([b"data: " + orjson.dumps(usage)])
    lines.append([b"data: [DONE]"])
    return b"".join(eol.join(event) + eol + eol for event in lines)


FRAMINGS = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}


class _Content:
    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = list(pieces)

    async def readany(self) -> bytes:
        """aiohttp's StreamReader.readany: the next read, b"" at the end."""
        return self._pieces.pop(0) if self._pieces else b""


class _Response:
    """The two things OpenAISSEStream reads of an aiohttp response: its body in reads, and release."""

    closed = False

    def __init__(self, pieces: list[bytes]) -> None:
        self.content = _Content(pieces)

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass


def _dep() -> Deployment:
    from lmgate.providers import adapter_for

    adapter = adapter_for("openai")
    assert adapter is not None
    return Deployment("a", "a", "openai", "m", "http://127.0.0.1:1/v1", None, adapter)


async def _read(pieces: list[bytes]) -> tuple[list[dict[str, Any]], OpenAISSEStream]:
    s = OpenAISSEStream(_Response(pieces), _dep(), strip_usage=False)  # type: ignore[arg-type]
    return [c async for batch in s.batches() for c in batch], s


def _text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def _splits(data: bytes) -> Iterator[list[bytes]]:
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]


@pytest.mark.parametrize("framing", FRAMINGS)
def test_every_split_position_parses(framing: str) -> None:
    data = stream_bytes(FRAMINGS[framing])

    async def run() -> None:
        whole, _ = await _read([data])
        assert _text(whole) == "".join(WORDS)
        assert whole[-2]["choices"][0]["finish_reason"] == "stop"
        for pieces in _splits(data):
            chunks, s = await _read(pieces)
            assert chunks == whole, pieces
            assert s.usage is not None and s.usage.output_tokens == 4
        bytewise, _ = await _read([data[i : i + 1] for i in range(len(data))])
        assert bytewise == whole

    asyncio.run(run())


@pytest.mark.parametrize("framing", FRAMINGS)
def test_pass_through_frames_end_on_event_boundaries(framing: str) -> None:
    """The bytes relayed untouched to a client are whole LF-framed events, whatever the split."""
    data = stream_bytes(FRAMINGS[framing])
    expected = stream_bytes(b"\n")

    async def run() -> None:
        for pieces in _splits(data):
            s = OpenAISSEStream(_Response(pieces), _dep(), strip_usage=False)  # type: ignore[arg-type]
            frames = [f async for f in s.frames()]
            assert all(f.endswith(b"\n\n") for f in frames)
            assert b"".join(frames) == expected

    asyncio.run(run())


class BytewiseUpstream(FakeServer):
    """An OpenAI upstream that streams with the given framing, one byte per write."""

    base_path = "/v1"

    def __init__(self, eol: bytes) -> None:
        self.eol = eol
        self.server = ServerThread(self._app)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        return app

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        data = stream_bytes(self.eol)
        for i in range(len(data)):
            await resp.write(data[i : i + 1])
        await resp.write_eof()
        return resp


@pytest.mark.parametrize("framing", FRAMINGS)
def test_bytewise_upstream_through_the_gateway(framing: str, make_gateway: Any) -> None:
    up = BytewiseUpstream(FRAMINGS[framing]).start()
    try:
        gw = make_gateway(
            f"""
            model_list:
              - model_name: m
                litellm_params: {{model: openai/m, api_base: "{up.base}", api_key: k}}
            """
        )
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0, timeout=10)
        for _ in range(3):
            stream = client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], stream=True,
                stream_options={"include_usage": True},
            )
            parts = list(stream)
            assert "".join(p.choices[0].delta.content or "" for p in parts if p.choices) == "".join(WORDS)
            assert parts[-1].usage is not None and parts[-1].usage.completion_tokens == 4
    finally:
        up.stop()
