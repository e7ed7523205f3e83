"""Events that arrive together leave together: what one upstream read brings goes to the client in
one write (one HTTP chunk), on the pass-through and on the translated path, and a stream whose events
trickle in one by one still leaves one chunk per event (nothing is held back to batch it)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator

import orjson
import pytest
from aiohttp import web

from tests.servers import ServerThread

EVENTS = 6


def _event(i: int, finish: str | None = None) -> bytes:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": finish}]}
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


class BurstUpstream:
    """An OpenAI SSE upstream that sends the whole answer in ONE write (`burst`), or one event per
    write in lockstep with the client (`trickle`: the next event only after the client has read the
    last one, so no two can ever meet in one read)."""

    def __init__(self) -> None:
        self.mode = "burst"
        self.client_read = threading.Semaphore(0)  # released by the client per chunk it has read
        self.server = ServerThread(self._app)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        return app

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        events = [_event(i) for i in range(EVENTS - 1)] + [_event(EVENTS - 1, "stop"), b"data: [DONE]\n\n"]
        if self.mode == "burst":
            await resp.write(b"".join(events))
        else:
            for e in events[:-1]:  # [DONE] follows the finish event at once
                await resp.write(e)
                got = await asyncio.to_thread(self.client_read.acquire, timeout=10)
                assert got, "the client never read the event"
            await resp.write(events[-1])
        await resp.write_eof()
        return resp


@pytest.fixture
def burst() -> Iterator[BurstUpstream]:
    up = BurstUpstream()
    up.server.start()
    yield up
    up.server.stop()


def _http_chunks(port: int, path: str, body: dict, on_chunk: Callable[[bytes], None] = lambda c: None) -> list[bytes]:
    """POST over a raw socket and return the response body's HTTP chunks, as the gateway framed them;
    `on_chunk` sees each chunk as soon as it is complete."""
    raw = orjson.dumps(body)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Authorization: Bearer sk-test\r\nConnection: close\r\nContent-Length: "
                  + str(len(raw)).encode() + b"\r\n\r\n" + raw)
        data, head, chunks = b"", None, []
        while True:
            if head is None and b"\r\n\r\n" in data:
                head, _, data = data.partition(b"\r\n\r\n")
                assert b" 200 " in head.split(b"\r\n")[0], head
                assert b"chunked" in head.lower()
            if head is not None and b"\r\n" in data:
                size_line, _, rest = data.partition(b"\r\n")
                size = int(size_line, 16)
                if size == 0:
                    return chunks
                if len(rest) >= size + 2:
                    chunks.append(rest[:size])
                    on_chunk(rest[:size])
                    data = rest[size + 2:]
                    continue
            more = s.recv(65536)
            assert more, "the connection closed before the last chunk"
            data += more


def _config(port: int) -> str:
    return f"""
        model_list:
          - model_name: m
            litellm_params: {{model: openai/m, api_base: "http://127.0.0.1:{port}/v1", api_key: sk-up}}
        general_settings: {{master_key: sk-test}}
    """


OPENAI_IN = ("/v1/chat/completions", {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
OLLAMA_IN = ("/api/chat", {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
ANTHROPIC_IN = ("/v1/messages", {"model": "m", "stream": True, "max_tokens": 50,
                                 "messages": [{"role": "user", "content": "hi"}]})


def _text(path: str, chunks: list[bytes]) -> str:
    body = b"".join(chunks)
    if path == "/api/chat":
        return "".join(orjson.loads(line)["message"]["content"] for line in body.splitlines() if line.strip())
    out = []
    for line in body.split(b"\n"):
        if line.startswith(b"data: {"):
            obj = orjson.loads(line[6:])
            if path == "/v1/messages":
                out.append(obj.get("delta", {}).get("text", "") if obj.get("type") == "content_block_delta" else "")
            elif obj.get("choices"):
                out.append(obj["choices"][0]["delta"].get("content") or "")
    return "".join(out)


@pytest.mark.parametrize("path,body", [OPENAI_IN, OLLAMA_IN, ANTHROPIC_IN], ids=["openai", "ollama", "anthropic"])
def test_one_upstream_read_leaves_in_one_write(burst: BurstUpstream, make_gateway, path: str, body: dict):
    gw = make_gateway(_config(burst.server.port))
    chunks = _http_chunks(gw.port, path, body)
    assert _text(path, chunks) == "".join(f"w{i} " for i in range(EVENTS))
    # The whole upstream answer came in one read: its events leave in one chunk; the protocol's own
    # opening (e.g. Anthropic's message_start) or closing events may add a chunk or two of their own.
    content = [c for c in chunks if b"w0 " in c or b"w5 " in c]
    assert len(content) == 1, f"events of one read were split over {len(content)} writes"
    assert b"w0 " in content[0] and b"w5 " in content[0]


@pytest.mark.parametrize("path,body", [OPENAI_IN, OLLAMA_IN], ids=["openai", "ollama"])
def test_trickled_events_are_not_held_back(burst: BurstUpstream, make_gateway, path: str, body: dict):
    burst.mode = "trickle"
    gw = make_gateway(_config(burst.server.port))

    def read_one(chunk: bytes) -> None:
        if b'"w' in chunk:  # a content event reached the client: the upstream may send the next
            burst.client_read.release()

    chunks = _http_chunks(gw.port, path, body, read_one)
    assert _text(path, chunks) == "".join(f"w{i} " for i in range(EVENTS))
    content = [c for c in chunks if b'"w' in c]
    assert len(content) == EVENTS, "events that came one by one must leave one by one"
