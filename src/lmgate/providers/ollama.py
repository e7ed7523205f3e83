"""Ollama upstreams, local or Ollama Cloud: `ollama_chat/<model>` and `ollama/<model>`.

Both prefixes send chat requests to POST /api/chat and `/v1/completions` to POST /api/generate;
embeddings go to POST /api/embed. (LiteLLM's `ollama/` flattens chat messages into a /api/generate
prompt; lmgate does not, because that loses tool calls, per-turn images and the model's own chat
template handling — see docs/ollama.md.) Ollama clients reaching an Ollama upstream are passed through
with only the model name rewritten. `api_key` is sent as `Authorization: Bearer` (Ollama Cloud).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import aiohttp
import orjson
from yarl import URL

from lmgate.core import GatewayRequest, UpstreamReply, UpstreamStream, Usage
from lmgate.errors import BadRequest, UpstreamProtocolError, UpstreamStatus
from lmgate.providers.base import Provider
from lmgate.providers.http import post, read_json, scrub, transport_error
from lmgate.translate import ollama as tr

if TYPE_CHECKING:
    from lmgate.core import Deployment
    from lmgate.providers.http import UpstreamPool

DEFAULT_BASE = "http://localhost:11434"
CLOUD_HOST = "ollama.com"  # Ollama Cloud's API, same protocol, Bearer OLLAMA_API_KEY
CLOUD_SUFFIXES = ("-cloud", ":cloud")  # a local daemon relays these models to Ollama Cloud
OPERATION_PATHS = {"chat": "/api/chat", "generate": "/api/generate", "embed": "/api/embed", "embeddings": "/api/embeddings"}
ENDPOINT_OPERATION = {"chat": "chat", "completion": "generate", "embedding": "embed"}
_TRAILING = ("/api/chat", "/api/generate", "/api/embed", "/api/embeddings", "/api/tags", "/api", "/v1")
MAX_REMOTE_IMAGE_BYTES = 20 * 1024 * 1024
REMOTE_IMAGE_TIMEOUT_S = 15.0
MAX_LINE = 16 * 1024 * 1024


@dataclass(slots=True)
class OllamaReply(UpstreamReply):
    """A whole Ollama answer; its OpenAI form is built only when asked for."""

    endpoint: str = "chat"
    model: str = ""
    as_base64: bool = False

    def canonical(self) -> dict[str, Any]:
        if self.endpoint == "embedding":
            return tr.embeddings(self.data, self.model, self.as_base64)
        if self.endpoint == "completion":
            return tr.text_completion(self.data, self.model)
        return tr.chat_completion(self.data, self.model)


def is_cloud(api_base: str) -> bool:
    """Ollama Cloud (billed) rather than an Ollama instance of the operator's own."""
    host = URL(api_base).host or ""
    return host == CLOUD_HOST or host.endswith("." + CLOUD_HOST)


def ollama_usage(data: dict[str, Any]) -> Usage:
    """Ollama's counters (absent counters mean 0)."""
    return Usage(int(data.get("prompt_eval_count") or 0), int(data.get("eval_count") or 0))


def _line_error(line: bytes, deployment: Deployment) -> UpstreamStatus | None:
    """An UpstreamStatus for an `{"error": ...}` line, else None."""
    if b'"error"' not in line:
        return None
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or "error" not in obj:
        return None
    err = obj["error"]
    message = scrub(err if isinstance(err, str) else orjson.dumps(err).decode(), deployment)
    status = tr.error_status(message)
    return UpstreamStatus(status, f"upstream '{deployment.name}' failed: {message}", deployment=deployment.name)


def _is_done(line: bytes) -> bool:
    return b'"done":true' in line or b'"done": true' in line


class OllamaStream(UpstreamStream):
    """An Ollama NDJSON stream: raw lines relayed, or translated to OpenAI chunks."""

    wire = "ollama"

    def __init__(
        self, resp: aiohttp.ClientResponse, deployment: Deployment, first: bytes, endpoint: str, model: str
    ) -> None:
        self._resp = resp
        self._deployment = deployment
        self._first = first
        self._endpoint = endpoint
        self._model = model
        self._done = False
        self.usage: Usage | None = None

    def _check(self, line: bytes) -> None:
        err = _line_error(line, self._deployment)
        if err is not None:
            raise err
        if _is_done(line):
            self._done = True
            with contextlib.suppress(orjson.JSONDecodeError):
                self.usage = ollama_usage(orjson.loads(line))

    async def frames(self) -> AsyncIterator[bytes]:
        buf = self._first
        try:
            while True:
                cut = buf.rfind(b"\n")
                if cut >= 0:
                    block, buf = buf[: cut + 1], buf[cut + 1 :]
                    for line in block.splitlines():
                        if line.strip():
                            self._check(line)
                    yield block
                    if self._done:
                        return
                data = await self._resp.content.readany()
                if not data:
                    break
                buf += data
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_error(exc, self._deployment, "in the middle of the stream") from None
        finally:
            self._resp.release()
        if buf.strip():
            self._check(buf)
            yield buf + b"\n"
        if not self._done:
            raise UpstreamProtocolError(
                f"upstream '{self._deployment.name}' ended the stream before it was complete",
                deployment=self._deployment.name,
            )

    async def batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        translator = tr.ChunkTranslator(self._model, completion=self._endpoint == "completion")
        async for block in self.frames():
            batch: list[dict[str, Any]] = []
            for line in block.splitlines():
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise UpstreamProtocolError(
                        f"upstream '{self._deployment.name}' sent a stream line that is not JSON",
                        deployment=self._deployment.name,
                    ) from None
                if isinstance(obj, dict):
                    batch.extend(translator.feed(obj))
            if batch:
                yield batch

    async def aclose(self) -> None:
        self._resp.release()
        if not self._resp.closed and not self._done:
            self._resp.close()


async def _fetch_image(session: aiohttp.ClientSession, url: str) -> str:
    def refuse(why: str) -> BadRequest:
        return BadRequest(f"could not fetch image {url[:200]}: {why}", param="messages")

    if not url.startswith(("http://", "https://")):
        raise refuse("only http(s) and data: URLs are supported")
    try:
        async with session.get(url) as resp:
            if resp.status >= 400:
                raise refuse(f"it answered HTTP {resp.status}")
            if resp.content_length is not None and resp.content_length > MAX_REMOTE_IMAGE_BYTES:
                raise refuse(f"larger than {MAX_REMOTE_IMAGE_BYTES // 1048576} MB")
            data = await resp.content.read(MAX_REMOTE_IMAGE_BYTES + 1)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise refuse(f"{type(exc).__name__} (limit {REMOTE_IMAGE_TIMEOUT_S:g} s)") from None
    if len(data) > MAX_REMOTE_IMAGE_BYTES:
        raise refuse(f"larger than {MAX_REMOTE_IMAGE_BYTES // 1048576} MB")
    return base64.b64encode(data).decode()


async def fetch_images(urls: list[str]) -> dict[str, str]:
    """Download remote images (size and time limited) as base64, keyed by URL."""
    timeout = aiohttp.ClientTimeout(total=REMOTE_IMAGE_TIMEOUT_S, sock_connect=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        data = await asyncio.gather(*(_fetch_image(session, u) for u in urls))
    return dict(zip(urls, data, strict=True))


class Ollama(Provider):
    prefixes: ClassVar[tuple[str, ...]] = ("ollama_chat", "ollama")
    wire = "ollama"
    param_keys = frozenset({"keep_alive", "think", *tr.OPTION_KEYS})
    probe = "ollama"
    is_ollama_instance = True

    def default_api_base(self, prefix: str) -> str | None:
        return DEFAULT_BASE

    def api_key_env(self, prefix: str, api_base: str = "") -> str | None:
        """OLLAMA_API_KEY is Ollama Cloud's key: never sent to an instance of the operator's own (the
        default base is local, so an unknown base gets none either)."""
        return "OLLAMA_API_KEY" if is_cloud(api_base) else None

    def health_check_url(self, deployment: Deployment) -> str | None:
        return deployment.api_base + "/api/tags"

    def loaded_models_url(self, deployment: Deployment) -> str | None:
        return None if is_cloud(deployment.api_base) else deployment.api_base + "/api/ps"

    def normalise_api_base(self, prefix: str, api_base: str) -> tuple[str, str | None]:
        base = api_base.rstrip("/")
        for suffix in _TRAILING:
            if base.endswith(suffix):
                return base[: -len(suffix)], f"removed '{suffix}' (lmgate appends /api/... itself)"
        return base, None

    def zero_cost(self, prefix: str, api_base: str, upstream_model: str) -> bool:
        return not is_cloud(api_base)  # the operator's own instance; Ollama Cloud is billed

    def always_remote(self, prefix: str, upstream_model: str) -> bool:
        """A `-cloud` / `:cloud` model is relayed to Ollama Cloud even by a local daemon (PROTOCOLS.md 1.11)."""
        return upstream_model.endswith(CLOUD_SUFFIXES)

    def _passthrough(self, deployment: Deployment, request: GatewayRequest) -> tuple[str, dict[str, Any]]:
        """An Ollama client's own body: model rewritten, the deployment's Ollama params as defaults."""
        body = dict(request.body)
        body["model"] = deployment.upstream_model
        op = request.operation or ENDPOINT_OPERATION[request.endpoint]
        if op in ("chat", "generate"):
            body["stream"] = request.stream
            options = {k: v for k, v in deployment.params.items() if k in tr.OPTION_KEYS}
            if options:
                body["options"] = {**options, **(body.get("options") or {})}
            if "think" in deployment.params:
                body.setdefault("think", deployment.params["think"])
        if "keep_alive" in deployment.params:
            body.setdefault("keep_alive", deployment.params["keep_alive"])
        return op, body

    async def _translate(self, deployment: Deployment, request: GatewayRequest) -> tuple[str, dict[str, Any]]:
        self.refuse_choices(deployment, request)
        body = request.canonical()
        if deployment.request_defaults:
            body = {**deployment.request_defaults, **body}
        model, params = deployment.upstream_model, deployment.params
        if request.endpoint == "embedding":
            return "embed", tr.embed_body(body, model, params)
        if request.endpoint == "completion":
            return "generate", tr.generate_body(body, model, request.stream, params)
        fetched: dict[str, str] = {}
        urls = tr.remote_image_urls(body.get("messages") or [])
        if urls:
            if not request.allow_remote_images:
                raise BadRequest(
                    "this gateway does not fetch image URLs for Ollama models; send the image as a base64 "
                    "data URL (or an operator sets general_settings.allow_remote_images: true)",
                    param="messages",
                )
            fetched = await fetch_images(urls)
        return "chat", tr.chat_body(body, model, request.stream, params, fetched)

    async def send(
        self, pool: UpstreamPool, deployment: Deployment, request: GatewayRequest
    ) -> UpstreamReply | UpstreamStream:
        if request.native_to(self.wire):
            op, body = self._passthrough(deployment, request)
        else:
            op, body = await self._translate(deployment, request)
        url = deployment.api_base + OPERATION_PATHS[op]
        resp = await post(pool, deployment, url, orjson.dumps(body), request.stream)
        if request.stream:
            return await self._open_stream(resp, deployment, request)
        raw, data = await read_json(resp, deployment)
        err = _line_error(raw, deployment) if "error" in data else None
        if err is not None:
            raise err
        usage = ollama_usage(data)
        as_base64 = not request.native_to(self.wire) and request.canonical().get("encoding_format") == "base64"
        return OllamaReply("ollama", raw, data, usage, request.endpoint, request.model, as_base64)

    async def _open_stream(
        self, resp: aiohttp.ClientResponse, deployment: Deployment, request: GatewayRequest
    ) -> OllamaStream:
        """Read the first line before answering, so an error there can still fall back."""
        try:
            first = await resp.content.readuntil(b"\n") if resp.content_type != "application/json" else b""
            if not first:
                first = await resp.content.read(MAX_LINE)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            resp.release()
            raise transport_error(exc, deployment, "before the first token") from None
        err = _line_error(first, deployment)
        if err is not None:
            resp.release()
            raise err
        return OllamaStream(resp, deployment, first, request.endpoint, request.model)


# ---- instance operations the Ollama API serves beside inference (inbound /api/show, load and unload) ----


async def show_model(pool: UpstreamPool, deployment: Deployment) -> dict[str, Any]:
    """The instance's own POST /api/show answer for the deployment's model. Raises UpstreamError."""
    body = orjson.dumps({"model": deployment.upstream_model})
    resp = await post(pool, deployment, deployment.api_base + "/api/show", body, stream=False)
    return (await read_json(resp, deployment))[1]


async def load_model(pool: UpstreamPool, deployment: Deployment, operation: str, keep_alive: Any) -> dict[str, Any]:
    """An empty chat or generate request: Ollama loads the model (or, with keep_alive 0, unloads it)
    and answers with done_reason "load" / "unload". Raises UpstreamError."""
    payload: dict[str, Any] = {"model": deployment.upstream_model, "stream": False}
    if operation == "chat":
        payload["messages"] = []
    if keep_alive is not None:
        payload["keep_alive"] = keep_alive
    url = deployment.api_base + OPERATION_PATHS[operation]
    resp = await post(pool, deployment, url, orjson.dumps(payload), stream=False)
    return (await read_json(resp, deployment))[1]


def unloads(keep_alive: Any) -> bool:
    """Ollama's keep_alive 0 (a number or a duration string such as "0s", "0m") unloads the model."""
    if isinstance(keep_alive, int | float) and not isinstance(keep_alive, bool):
        return keep_alive == 0
    return isinstance(keep_alive, str) and keep_alive.strip().rstrip("smh") in ("0", "0.0")
