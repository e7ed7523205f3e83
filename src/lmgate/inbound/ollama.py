"""The Ollama native API served to clients: `/`, `/api/version`, `/api/tags`, `/api/show`, `/api/ps`,
`/api/chat`, `/api/generate`, `/api/embed`, `/api/embeddings`.

Every alias is served, whatever its upstream. Ollama -> Ollama upstream is a pass-through (only the
model name rewritten, NDJSON bytes relayed); other upstreams are translated (translate/ollama_inbound).
Streaming is the default, as in Ollama. Model management (`/api/pull` ...) belongs to the instances.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from lmgate.core import Deployment, Endpoint, GatewayRequest
from lmgate.errors import BadRequest, GatewayError, ModelNotFound, UpstreamError
from lmgate.inbound import relay
from lmgate.inbound.base import BY_PREFIX, NOT_MINE, InboundProtocol, retry_after_headers
from lmgate.inbound.common import read_json_body
from lmgate.keys import auth as keys_auth
from lmgate.observability import tracking
from lmgate.providers.ollama import load_model, show_model, unloads
from lmgate.server.state import state
from lmgate.translate.ollama_inbound import (
    StreamRenderer,
    Timing,
    chat_reply,
    embed_reply,
    now_rfc3339,
    openai_request,
)
from lmgate.validate import ollama as validate

log = logging.getLogger("lmgate.ollama")
NAME = "ollama"
JSON = "application/json"
NDJSON = "application/x-ndjson"
# The Ollama API version lmgate's /api matches (clients gate features on it).
OLLAMA_VERSION = "0.12.6"
MANAGEMENT = ("pull", "push", "create", "copy", "delete")


def _json(obj: Any) -> web.Response:
    return web.Response(body=orjson.dumps(obj), content_type=JSON)


def _resolve(request: web.Request, name: Any) -> str:
    """The alias an Ollama client means (`alias` or `alias:latest`); 404 in Ollama's words otherwise."""
    cfg = state(request).config
    if isinstance(name, str) and name:
        if cfg.resolve(name) is not None:
            return name
        if name.endswith(":latest") and cfg.resolve(name[: -len(":latest")]) is not None:
            return name[: -len(":latest")]
    if not isinstance(name, str) or not name:
        raise BadRequest("model is required")
    raise ModelNotFound(f"model '{name}' not found; GET /api/tags lists the models this gateway serves")


# ---- listing -------------------------------------------------------------------------------------------


async def root(request: web.Request) -> web.Response:
    return web.Response(text="Ollama is running", content_type="text/plain")


async def version(request: web.Request) -> web.Response:
    return _json({"version": OLLAMA_VERSION})


def _stamp(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat().replace("+00:00", "Z")


def _details(dep: Deployment) -> dict[str, Any]:
    """Nothing is known of a model behind a non-Ollama upstream: empty, not invented."""
    return {"parent_model": "", "format": "", "family": "", "families": None, "parameter_size": "", "quantization_level": ""}


def _card(alias: str, dep: Deployment, loaded_at: int) -> dict[str, Any]:
    return {
        "name": alias,
        "model": alias,
        "modified_at": _stamp(loaded_at),
        "size": 0,
        "digest": hashlib.sha256(alias.encode()).hexdigest(),
        "details": _details(dep),
    }


async def tags(request: web.Request) -> web.Response:
    cfg = state(request).config
    names = keys_auth.visible(request, cfg.listed_models())  # as /v1/models lists them for this key
    return _json({"models": [_card(n, cfg.aliases[cfg.resolve(n) or n][0], cfg.loaded_at) for n in names]})


def _capabilities(dep: Deployment) -> list[str]:
    if dep.mode == "embedding":
        return ["embedding"]
    caps = ["completion", "tools"]
    if dep.info is not None and dep.info.supports_vision:
        caps.append("vision")
    return caps


async def show(request: web.Request) -> web.Response:
    """An Ollama deployment's own /api/show answer (the first one not cooling down), else what the
    config says of the alias: context length from model_info, capabilities from its mode."""
    body = await read_json_body(request)
    st = state(request)
    cfg = st.config
    requested = _resolve(request, body.get("model") or body.get("name"))
    keys_auth.check_model(request, requested)
    alias = st.router.resolve(requested)
    for dep in st.router.admissible(alias):
        if dep.adapter.is_ollama_instance:
            try:
                return _json(await show_model(st.pool, dep))
            except UpstreamError as exc:
                log.warning("/api/show for '%s': %s; answering from the config", alias, exc.message)
                break
    dep = cfg.aliases[alias][0]
    model_info: dict[str, Any] = {"general.basename": alias}
    limit = dep.info.max_input_tokens or dep.info.max_tokens if dep.info else None
    if limit:
        model_info["lmgate.context_length"] = limit
    return _json(
        {
            "modelfile": f"# served by lmgate: {alias} -> {dep.provider}/{dep.upstream_model}\n",
            "parameters": "",
            "template": "",
            "details": _details(dep),
            "model_info": model_info,
            "capabilities": _capabilities(dep),
            "modified_at": _stamp(cfg.loaded_at),
        }
    )


async def ps(request: web.Request) -> web.Response:
    """The gateway holds no model in memory; the instances behind it do (ask them)."""
    return _json({"models": []})


async def management(request: web.Request) -> web.Response:
    op = request.path.split("/")[2]
    raise GatewayError(
        f"/api/{op} is not available through lmgate: model management goes to the Ollama instance "
        "itself (e.g. `curl http://<instance>:11434/api/pull`); lmgate only routes inference",
        status=501,
        code="not_implemented",
    )


# ---- inference -----------------------------------------------------------------------------------------


async def _load(request: web.Request, alias: str, operation: str, keep_alive: Any) -> web.Response:
    """An empty chat/generate request loads the model (keep_alive 0 unloads it). Forwarded to the
    alias's Ollama instances: a load to the first one not cooling down, an unload to every one.
    An alias with no Ollama deployment has nothing to load: answered here, as Ollama would."""
    keys_auth.check_model(request, alias)
    st = state(request)
    unload = unloads(keep_alive)
    routed = st.router.resolve(alias)
    candidates = st.router.deployments(routed) if unload else st.router.admissible(routed)
    targets = [d for d in candidates if d.adapter.is_ollama_instance]
    answer: dict[str, Any] | None = None
    for dep in targets if unload else targets[:1]:
        reply = await load_model(st.pool, dep, operation, keep_alive)
        answer = answer or reply
    out: dict[str, Any] = dict(answer) if answer else {"created_at": now_rfc3339()}
    out["model"] = alias
    if answer is None:
        if operation == "generate":
            out["response"] = ""
        else:
            out["message"] = {"role": "assistant", "content": ""}
        out["done_reason"] = "unload" if unload else "load"
        out["done"] = True
    return _json(out)


class _Renderer:
    """Ollama JSON and NDJSON for answers from other wires (it carries the request's timing)."""

    __slots__ = ("greq", "timing", "generate", "stream")

    def __init__(self, greq: GatewayRequest) -> None:
        self.greq = greq
        self.timing = timing = Timing(greq.received_ns)
        self.generate = greq.operation == "generate"
        self.stream = StreamRenderer(greq.model, timing, generate=self.generate)

    def body(self, canonical: dict[str, Any]) -> bytes:
        greq = self.greq
        self.timing.end = time.perf_counter_ns()
        if greq.endpoint == "embedding":
            return orjson.dumps(embed_reply(canonical, greq.model, self.timing, legacy=greq.operation == "embeddings"))
        return orjson.dumps(chat_reply(canonical, greq.model, self.timing, generate=self.generate))

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        return self.stream.feed(chunk, time.perf_counter_ns())

    def end(self) -> bytes:
        return self.stream.close(time.perf_counter_ns())

    def error(self, exc: UpstreamError) -> bytes:
        return orjson.dumps({"error": exc.message}) + b"\n"  # Ollama's mid-stream error line


class OllamaProtocol(InboundProtocol):
    """The Ollama native API under /api (and `GET /`)."""

    name = NAME
    content_type = JSON
    stream_headers = {"Content-Type": NDJSON}
    content_keys = ("messages", "prompt", "input", "system")

    def routes(self) -> list[web.RouteDef]:
        return _routes()

    def claim(self, request: web.Request) -> int:
        path = request.path
        return BY_PREFIX if path == "/" or path.startswith("/api/") else NOT_MINE

    def render_error(self, err: GatewayError) -> web.Response:
        body = orjson.dumps({"error": err.message})
        return web.Response(status=err.status, body=body, content_type=JSON, headers=retry_after_headers(err))

    def renderer(self, greq: GatewayRequest) -> _Renderer:
        return _Renderer(greq)


OLLAMA = OllamaProtocol()


VALIDATORS = {
    "chat": validate.chat, "generate": validate.generate, "embed": validate.embed, "embeddings": validate.embeddings,
}


async def _inference(request: web.Request, endpoint: Endpoint, operation: str) -> web.StreamResponse:
    received = time.perf_counter_ns()
    body = await read_json_body(request)
    alias = _resolve(request, body.get("model"))
    streams = operation in ("chat", "generate")
    stream = streams and body.get("stream") is not False
    VALIDATORS[operation](body)
    if operation == "chat":
        if not body.get("messages"):
            return await _load(request, alias, operation, body.get("keep_alive"))
    elif operation == "generate" and not body.get("prompt") and not body.get("images"):
        return await _load(request, alias, operation, body.get("keep_alive"))
    greq = GatewayRequest(
        endpoint, NAME, body, alias, stream, wants_usage=stream, operation=operation,
        to_canonical=openai_request, received_ns=received,
    )
    return await relay.respond(request, greq, OLLAMA)


@tracking.model_endpoint(NAME)
async def chat(request: web.Request) -> web.StreamResponse:
    return await _inference(request, "chat", "chat")


@tracking.model_endpoint(NAME)
async def generate(request: web.Request) -> web.StreamResponse:
    return await _inference(request, "chat", "generate")


@tracking.model_endpoint(NAME)
async def embed(request: web.Request) -> web.StreamResponse:
    return await _inference(request, "embedding", "embed")


@tracking.model_endpoint(NAME)
async def embeddings(request: web.Request) -> web.StreamResponse:
    return await _inference(request, "embedding", "embeddings")


def _routes() -> list[web.RouteDef]:
    table = [
        web.get("/", root),
        web.get("/api/version", version),
        web.get("/api/tags", tags),
        web.post("/api/show", show),
        web.get("/api/ps", ps),
        web.post("/api/chat", chat),
        web.post("/api/generate", generate),
        web.post("/api/embed", embed),
        web.post("/api/embeddings", embeddings),
    ]
    table += [web.route("*", f"/api/{op}", management) for op in MANAGEMENT]
    table.append(web.route("*", "/api/blobs/{digest}", management))
    return table
