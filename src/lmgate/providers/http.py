"""Pooled upstream HTTP: one keep-alive aiohttp session per origin, and the mapping of transport
failures and HTTP error statuses onto the `UpstreamError` tree (with secrets scrubbed)."""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from yarl import URL

from lmgate.errors import (
    UpstreamConnectFailed,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatus,
    UpstreamTimeout,
    UpstreamUnreachable,
)

if TYPE_CHECKING:
    from lmgate.core import Deployment

MAX_ERROR_BODY = 64 * 1024
_KEYLIKE = re.compile(r"\b(sk|rk|pk|gsk|xai|sk-or-v1|AIza)[-_A-Za-z0-9]{8,}")


class UpstreamPool:
    """Keep-alive sessions keyed by origin; sessions for unchanged origins survive config reloads."""

    def __init__(self) -> None:
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._by_base: dict[str, aiohttp.ClientSession] = {}  # api_base -> its origin's session

    def session(self, api_base: str) -> aiohttp.ClientSession:
        s = self._by_base.get(api_base)
        if s is not None and not s.closed:
            return s
        s = self._by_base[api_base] = self._origin_session(api_base)
        return s

    def _origin_session(self, api_base: str) -> aiohttp.ClientSession:
        origin = URL(api_base).origin().human_repr() if "://" in api_base else api_base
        s = self._sessions.get(origin)
        if s is None or s.closed:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300)
            s = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                skip_auto_headers=("User-Agent",),
                headers={"User-Agent": "lmgate"},
            )
            self._sessions[origin] = s
        return s

    def warm(self, deployments: list[Deployment]) -> None:
        for d in deployments:
            if d.adapter.needs_network:
                self.session(d.api_base)

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        self._by_base = {}
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)


def scrub(text: str, deployment: Deployment) -> str:
    """Remove our upstream key (and anything key-shaped) from an upstream's message."""
    if deployment.api_key:
        text = text.replace(deployment.api_key, "***")
    return _KEYLIKE.sub("***", text)


def parse_retry_after(headers: Any) -> float | None:
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def error_message(raw: bytes) -> str:
    """Pull the human message out of the error shapes upstreams use (OpenAI, vLLM flat, Ollama, text)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace").strip()[:500] or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, str):
            return err
        if isinstance(err, dict):
            for key in ("message", "detail", "msg"):
                if isinstance(err.get(key), str):
                    return str(err[key])
        for key in ("message", "detail"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return raw.decode("utf-8", "replace")[:500]


Describe = Callable[[bytes], str]  # an error body -> its message (a provider's own error shape)


async def status_error(
    resp: aiohttp.ClientResponse, deployment: Deployment, describe: Describe = error_message
) -> UpstreamStatus:
    """Turn an upstream error response into an UpstreamStatus (reads and releases the body)."""
    try:
        raw = await resp.content.read(MAX_ERROR_BODY)
    except (TimeoutError, aiohttp.ClientError):
        raw = b""
    finally:
        resp.release()
    message = scrub(describe(raw), deployment)
    return UpstreamStatus(
        resp.status,
        f"upstream '{deployment.name}' answered {resp.status}: {message}",
        deployment=deployment.name,
        retry_after=parse_retry_after(resp.headers),
    )


def transport_error(exc: BaseException, deployment: Deployment, during: str) -> UpstreamError:
    """Map an aiohttp/asyncio failure to our tree; the message never includes URLs or keys."""
    name = deployment.name
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # no connection within connect_timeout: a dead host
        return UpstreamConnectFailed(f"upstream '{name}' is unreachable (connect timed out)", deployment=name)
    if isinstance(exc, asyncio.TimeoutError):
        return UpstreamTimeout(f"upstream '{name}' timed out {during}", deployment=name)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return UpstreamUnreachable(f"upstream '{name}' cut the response off {during}", deployment=name)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamConnectFailed(f"upstream '{name}' is unreachable (connection failed)", deployment=name)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return UpstreamUnreachable(f"upstream '{name}' closed the connection {during}", deployment=name)
    if isinstance(exc, aiohttp.ClientError):
        return UpstreamProtocolError(f"upstream '{name}' failed {during}: {type(exc).__name__}", deployment=name)
    return UpstreamProtocolError(f"upstream '{name}' failed {during}", deployment=name)


async def post(
    pool: UpstreamPool,
    deployment: Deployment,
    url: str,
    body: bytes,
    stream: bool,
    headers: dict[str, str] | None = None,
    describe: Describe = error_message,
) -> aiohttp.ClientResponse:
    """POST and return a response with a 2xx status (body unread); raise UpstreamError otherwise.
    `headers` default to the deployment's prepared ones; `describe` reads an error body's message."""
    session = pool.session(deployment.api_base)
    try:
        resp = await session.post(
            url, data=body, headers=deployment.headers if headers is None else headers,
            timeout=deployment.timeout_for(stream),
        )
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise transport_error(exc, deployment, "before answering") from None
    if resp.status >= 400:
        raise await status_error(resp, deployment, describe)
    return resp


async def read_json(resp: aiohttp.ClientResponse, deployment: Deployment) -> tuple[bytes, dict[str, Any]]:
    """Read a whole JSON body; garbage or a non-object is an UpstreamProtocolError."""
    try:
        raw = await resp.read()
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise transport_error(exc, deployment, "while sending its answer") from None
    finally:
        resp.release()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        ctype = resp.headers.get("content-type", "?")
        raise UpstreamProtocolError(
            f"upstream '{deployment.name}' sent a body that is not JSON (content-type {ctype})",
            deployment=deployment.name,
        ) from None
    if not isinstance(data, dict):
        raise UpstreamProtocolError(
            f"upstream '{deployment.name}' sent JSON that is not an object", deployment=deployment.name
        )
    return raw, data
