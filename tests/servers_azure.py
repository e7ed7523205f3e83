"""A loopback Azure OpenAI data plane, answering in Azure's documented shapes.

It checks what Azure checks: the path `/openai/deployments/{deployment}/chat/completions|completions|
embeddings`, the `api-version` query (404 `Resource not found` when absent or unknown), and the
`api-key` header (401 with Azure's message). Answers carry Azure's extras (`prompt_filter_results`,
per-choice `content_filter_results`; a stream opens with a choices-less filter-results chunk). A prompt
containing `BLOCKED` gets Azure's 400 content-filter refusal; one containing `FILTER-OUTPUT` gets a 200
whose choice was cut with `finish_reason: content_filter` and no content.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from tests.servers import FakeServer, SeenRequest, ServerThread

VERSIONS = frozenset({"2023-05-15", "2024-02-01", "2024-06-01", "2024-10-21", "2025-01-01-preview"})
SAFE = {k: {"filtered": False, "severity": "safe"} for k in ("hate", "self_harm", "sexual", "violence")}
PROMPT_FILTER = [{"prompt_index": 0, "content_filter_results": SAFE}]


def _error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, **extra}}, status=status)


CONTENT_FILTER_400 = {
    "code": "content_filter",
    "message": (
        "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. "
        "Please modify your prompt and retry. To learn more about our content filtering policies please read "
        "our documentation: https://go.microsoft.com/fwlink/?linkid=2198766"
    ),
    "param": "prompt",
    "status": 400,
    "innererror": {
        "code": "ResponsibleAIPolicyViolation",
        "content_filter_result": {**SAFE, "violence": {"filtered": True, "severity": "medium"}},
    },
}


class FakeAzure(FakeServer):
    def __init__(self, key: str = "azure-test-key", deployments: tuple[str, ...] = ("gpt-4o-eu", "embed-eu")) -> None:
        self.key = key
        self.deployments = set(deployments)
        self.seen: list[SeenRequest] = []
        self.queries: list[dict[str, str]] = []
        self.server = ServerThread(self._app)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/openai/deployments/{dep}/chat/completions", self._chat)
        app.router.add_post("/openai/deployments/{dep}/completions", self._chat)
        app.router.add_post("/openai/deployments/{dep}/embeddings", self._embeddings)
        return app

    async def _check(self, request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
        body = orjson.loads(await request.read())
        self.seen.append(SeenRequest(request.path, dict(request.headers), body))
        self.queries.append(dict(request.query))
        if request.query.get("api-version") not in VERSIONS:
            return body, _error(404, "404", "Resource not found")
        if request.headers.get("api-key") != self.key:
            return body, _error(
                401,
                "401",
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
                "key for an active subscription and use a correct regional API endpoint for your resource.",
            )
        if request.match_info["dep"] not in self.deployments:
            return body, _error(
                404,
                "DeploymentNotFound",
                "The API deployment for this resource does not exist. If you created the deployment within the "
                "last 5 minutes, please wait a moment and try again.",
            )
        return body, None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, refused = await self._check(request)
        if refused is not None:
            return refused
        prompt = orjson.dumps(body.get("messages") or body.get("prompt")).decode()
        if "BLOCKED" in prompt:
            return web.json_response({"error": CONTENT_FILTER_400}, status=400)
        completion = request.path.endswith("/completions") and not request.path.endswith("/chat/completions")
        dep = request.match_info["dep"]
        if body.get("stream"):
            return await self._stream(request, body, dep)
        filtered = "FILTER-OUTPUT" in prompt
        finish = "content_filter" if filtered else "stop"
        text = None if filtered else f"hello from azure {dep}"
        if completion:
            choice: dict[str, Any] = {"index": 0, "text": text or "", "finish_reason": finish, "logprobs": None}
        else:
            choice = {"index": 0, "finish_reason": finish, "logprobs": None,
                      "message": {"role": "assistant", "content": text, "refusal": None}}
        choice["content_filter_results"] = {**SAFE, "violence": {"filtered": True, "severity": "high"}} if filtered else SAFE
        return web.json_response({
            "id": "chatcmpl-AZ1", "object": "text_completion" if completion else "chat.completion",
            "created": int(time.time()), "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_azure",
            "prompt_filter_results": PROMPT_FILTER, "choices": [choice],
            "usage": {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11},
        })

    async def _stream(self, request: web.Request, body: dict[str, Any], dep: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)

        def event(obj: dict[str, Any]) -> bytes:
            return b"data: " + orjson.dumps(obj) + b"\n\n"

        base = {"id": "chatcmpl-AZs", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_azure"}
        events = [event({"choices": [], "created": 0, "id": "", "model": "", "object": "", "prompt_filter_results": PROMPT_FILTER})]
        events.append(event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                   "finish_reason": None, "content_filter_results": {}}]}))
        for word in ("hello", " from", f" azure {dep}"):
            events.append(event({**base, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None,
                                                       "content_filter_results": SAFE}]}))
        events.append(event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop",
                                                   "content_filter_results": {}}]}))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(event({**base, "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}))
        events.append(b"data: [DONE]\n\n")
        for e in events:
            await resp.write(e)
        await resp.write_eof()
        return resp

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body, refused = await self._check(request)
        if refused is not None:
            return refused
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": [0.01 * (i + 1), -0.02, 0.03]} for i in range(len(inputs))]
        return web.json_response({"object": "list", "data": data, "model": "text-embedding-3-small",
                                  "usage": {"prompt_tokens": 2, "total_tokens": 2}})
