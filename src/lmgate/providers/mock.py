"""`mock/`: a deterministic built-in model for demos, docs, benchmarks and tests. No network.

Chat and completions echo the last user text (or `mock_response`), one whitespace-separated word per
token; embeddings are unit vectors derived from a hash of each input. Knobs in litellm_params:
`mock_response`, `mock_tokens` (exact output length), `mock_latency` (seconds before the first
token), `mock_token_latency` (seconds between streamed tokens), `mock_dimensions` (embedding size).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import struct
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from lmgate.core import GatewayRequest, UpstreamReply, UpstreamStream, Usage
from lmgate.errors import BadRequest
from lmgate.providers.base import Provider

if TYPE_CHECKING:
    from lmgate.core import Deployment
    from lmgate.providers.http import UpstreamPool


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _prompt_words(request: GatewayRequest) -> tuple[list[str], int]:
    """(words to echo, prompt token count) for chat or completion bodies."""
    body = request.canonical()
    if request.endpoint == "completion":
        prompt = body.get("prompt", "")
        text = prompt if isinstance(prompt, str) else " ".join(str(p) for p in prompt)
        words = text.split()
        return words, len(words)
    messages = body.get("messages") or []
    count = sum(len(_text_of(m.get("content")).split()) for m in messages if isinstance(m, dict))
    last_user = next(
        (_text_of(m.get("content")) for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"),
        "",
    )
    return last_user.split(), count


def _max_tokens(body: dict[str, Any]) -> int | None:
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    return value if isinstance(value, int) and value >= 0 else None


def _completion_tokens(deployment: Deployment, request: GatewayRequest) -> tuple[list[str], int, str]:
    """(output tokens, prompt tokens, finish_reason) — the whole deterministic answer."""
    words, prompt_tokens = _prompt_words(request)
    fixed = deployment.params.get("mock_response")
    out = str(fixed).split() if fixed is not None else ["echo:", *words]
    wanted = deployment.params.get("mock_tokens")
    if isinstance(wanted, int) and wanted >= 0:
        cycle = out or ["echo:"]
        out = [cycle[i % len(cycle)] for i in range(wanted)]
    limit = _max_tokens(request.canonical())
    finish = "stop"
    if limit is not None and len(out) > limit:
        out, finish = out[:limit], "length"
    # stream tokens keep their separating space so concatenated deltas equal the whole text
    tokens = [w if i == 0 else " " + w for i, w in enumerate(out)]
    return tokens, prompt_tokens, finish


def _embedding(text: str, dims: int) -> list[float]:
    raw = b""
    counter = 0
    while len(raw) < dims * 4:
        raw += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    values = [v / 2**31 - 1.0 for v in struct.unpack(f"<{dims}I", raw[: dims * 4])]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


class MockStream(UpstreamStream):
    wire = "openai"

    def __init__(self, deployment: Deployment, request: GatewayRequest) -> None:
        self._deployment = deployment
        self._request = request
        self.usage = None

    async def _chunks(self) -> AsyncIterator[dict[str, Any]]:
        d, req = self._deployment, self._request
        tokens, prompt_tokens, finish = _completion_tokens(d, req)
        gap = float(d.params.get("mock_token_latency") or 0)
        ident = "cmpl-mock" if req.endpoint == "completion" else "chatcmpl-mock"
        created = int(time.time())
        obj = "text_completion" if req.endpoint == "completion" else "chat.completion.chunk"
        model = d.upstream_model

        def chunk(piece: str | None, finish_reason: str | None, first: bool = False) -> dict[str, Any]:
            if req.endpoint == "completion":
                choice: dict[str, Any] = {"index": 0, "text": piece or "", "finish_reason": finish_reason}
            else:
                delta: dict[str, Any] = {"role": "assistant", "content": ""} if first else {}
                if piece is not None:
                    delta["content"] = piece
                choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            return {"id": ident, "object": obj, "created": created, "model": model, "choices": [choice]}

        if req.endpoint == "chat":
            yield chunk(None, None, first=True)
        for i, tok in enumerate(tokens):
            if gap and i:
                await asyncio.sleep(gap)
            yield chunk(tok, None)
        yield chunk(None, finish)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(tokens), "total_tokens": prompt_tokens + len(tokens)}
        self.usage = Usage(prompt_tokens, len(tokens))
        if req.wants_usage:
            yield {"id": ident, "object": obj, "created": created, "model": model, "choices": [], "usage": usage}

    async def batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        async for c in self._chunks():  # one per (simulated) upstream read
            yield [c]

    async def frames(self) -> AsyncIterator[bytes]:
        async for c in self._chunks():
            yield b"data: " + orjson.dumps(c) + b"\n\n"
        yield b"data: [DONE]\n\n"

    async def aclose(self) -> None:
        return None


class Mock(Provider):
    prefixes: ClassVar[tuple[str, ...]] = ("mock",)
    wire = "openai"
    needs_network = False
    probe = "none"
    param_keys = frozenset(
        {"mock_response", "mock_tokens", "mock_latency", "mock_token_latency", "mock_dimensions"}
    )

    def default_api_base(self, prefix: str) -> str | None:
        return "builtin:mock"

    def zero_cost(self, prefix: str, api_base: str, upstream_model: str) -> bool:
        return True

    async def send(
        self, pool: UpstreamPool, deployment: Deployment, request: GatewayRequest
    ) -> UpstreamReply | UpstreamStream:
        self.refuse_choices(deployment, request)
        latency = float(deployment.params.get("mock_latency") or 0)
        if latency:
            await asyncio.sleep(latency)
        if request.endpoint == "embedding":
            return self._embeddings(deployment, request)
        if request.stream:
            return MockStream(deployment, request)
        tokens, prompt_tokens, finish = _completion_tokens(deployment, request)
        text = "".join(tokens)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(tokens), "total_tokens": prompt_tokens + len(tokens)}
        if request.endpoint == "completion":
            choice: dict[str, Any] = {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}
            ident, obj = "cmpl-mock", "text_completion"
        else:
            message = {"role": "assistant", "content": text}
            choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            ident, obj = "chatcmpl-mock", "chat.completion"
        data = {
            "id": ident,
            "object": obj,
            "created": int(time.time()),
            "model": deployment.upstream_model,
            "choices": [choice],
            "usage": usage,
        }
        return UpstreamReply("openai", orjson.dumps(data), data, Usage.from_openai(usage))

    def _embeddings(self, deployment: Deployment, request: GatewayRequest) -> UpstreamReply:
        body = request.canonical()
        raw_input = body.get("input")
        inputs = raw_input if isinstance(raw_input, list) else [raw_input]
        if not inputs or any(not isinstance(i, (str, int, list)) for i in inputs):
            raise BadRequest("'input' must be a string, an array of strings, or token arrays", param="input")
        dims = int(body.get("dimensions") or deployment.params.get("mock_dimensions") or 16)
        texts = [i if isinstance(i, str) else orjson.dumps(i).decode() for i in inputs]
        tokens = sum(max(1, len(t.split())) for t in texts)
        as_base64 = body.get("encoding_format") == "base64"
        vectors: list[Any] = [_embedding(t, dims) for t in texts]
        if as_base64:  # little-endian float32, as OpenAI sends it
            vectors = [base64.b64encode(struct.pack(f"<{dims}f", *v)).decode() for v in vectors]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        data = {
            "object": "list",
            "data": [{"object": "embedding", "index": n, "embedding": v} for n, v in enumerate(vectors)],
            "model": deployment.upstream_model,
            "usage": usage,
        }
        return UpstreamReply("openai", orjson.dumps(data), data, Usage.from_openai(usage))
