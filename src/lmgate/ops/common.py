"""What the operator commands share: tolerant config loading and one-shot HTTP probes.

Unlike the gateway, an operator command must still be useful when the config cannot fully load (the
usual reason being an `os.environ/` variable that is not exported in this shell), so `load_tolerant`
compiles in the loader's tolerant mode: missing variables come back by name (with the file:line that
named them) and resolve to a recognisable placeholder, and nothing is written to the environment.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from lmgate.config import ConfigError, RuntimeConfig, compile_config
from lmgate.config.loader import UNSET_PLACEHOLDER, default_config_text

PLACEHOLDER = UNSET_PLACEHOLDER
DEFAULT_PROBE_TIMEOUT_S = 10.0


@dataclass(slots=True)
class LoadedConfig:
    """A config loaded for an operator command, with what had to be papered over."""

    config: RuntimeConfig | None
    missing_env: list[str] = field(default_factory=list)  # variables replaced by placeholders
    errors: list[str] = field(default_factory=list)  # problems other than missing variables
    env_errors: list[str] = field(default_factory=list)  # the loader's lines for the missing variables

    def unset_var(self, api_key: str | None) -> str | None:
        """The variable a deployment's key should have come from, when it was not set."""
        if api_key and api_key.startswith(PLACEHOLDER):
            return api_key[len(PLACEHOLDER) :]
        return None


def _loaded(config: RuntimeConfig | None, unset: dict[str, list[str]], errors: list[str]) -> LoadedConfig:
    return LoadedConfig(config, sorted(unset), errors, [line for lines in unset.values() for line in lines])


def compile_tolerant(
    text: str, name: str, source: Path | None = None, env: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Compile config text; unset `os.environ/` variables are reported instead of being errors."""
    try:
        cfg = compile_config(text, name, source, env=env, tolerant=True)
    except ConfigError as exc:
        return _loaded(None, exc.unset_env, exc.errors)
    return _loaded(cfg, cfg.unset_env, [])


def load_tolerant(path: Path | None, env: Mapping[str, str] | None = None) -> LoadedConfig:
    if path is None:
        return compile_tolerant(default_config_text(), "<embedded default.yaml>", env=env)
    try:
        text = path.read_text()
    except OSError as exc:
        return LoadedConfig(None, errors=[f"{path}: cannot read the config file: {exc.strerror or exc}"])
    return compile_tolerant(text, str(path), source=path, env=env)


@dataclass(slots=True)
class Probe:
    """The outcome of one HTTP request made by an operator command."""

    url: str
    status: int | None = None  # None: no HTTP answer at all
    data: Any = None  # the JSON body, when it was JSON
    text: str = ""  # the start of the body, for messages
    failure: str | None = None  # dns | connect | tls | timeout | protocol
    detail: str = ""
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def error_message(self) -> str:
        """Ollama's `{"error": "..."}` or OpenAI's `{"error": {"message": ...}}`, else the body start."""
        if isinstance(self.data, dict):
            err = self.data.get("error")
            if isinstance(err, str):
                return err
            if isinstance(err, dict) and isinstance(err.get("message"), str):
                return str(err["message"])
        return self.text[:200]


def classify_failure(exc: BaseException) -> tuple[str, str]:
    """(kind, human detail) for a transport failure; order matters: TLS and DNS errors are connect errors too."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError | ssl.SSLError):
        return "tls", str(exc.__cause__ or exc) if not isinstance(exc, ssl.SSLError) else str(exc)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "dns", "the host name does not resolve"
    if isinstance(exc, aiohttp.ClientConnectorError):
        err = exc.os_error
        reason = "refused" if isinstance(err, ConnectionRefusedError) else (err.strerror or str(err))
        return "connect", f"connection {reason}"
    if isinstance(exc, TimeoutError):
        return "timeout", "no answer in time"
    return "protocol", f"{type(exc).__name__}: {exc}"


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


async def request_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: Any = None,
    timeout: float = DEFAULT_PROBE_TIMEOUT_S,
) -> Probe:
    """One request; never raises for transport or HTTP failures (they are in the Probe)."""
    probe = Probe(url)
    started = time.monotonic()
    try:
        async with session.request(
            method,
            url,
            headers=headers,
            data=orjson.dumps(body) if body is not None else None,
            timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 5.0)),
        ) as resp:
            raw = await resp.read()
            probe.status = resp.status
    except (TimeoutError, aiohttp.ClientError, ssl.SSLError, OSError) as exc:
        probe.failure, probe.detail = classify_failure(exc)
        probe.elapsed = time.monotonic() - started
        return probe
    probe.elapsed = time.monotonic() - started
    probe.text = raw[:2000].decode("utf-8", "replace")
    try:
        probe.data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        probe.data = None
    return probe


def new_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(headers={"User-Agent": "lmgate-ops"})


def as_url(spec: str) -> str:
    """A base URL from what an operator types: `host:port` (as `ollama ps` takes it) means http://host:port."""
    spec = spec.strip()
    return spec if "://" in spec else f"http://{spec}"


def ollama_root(base: str) -> str:
    """An Ollama instance root from a URL an operator might paste (`host:port`, `.../api`, `.../v1`,
    trailing slash)."""
    base = as_url(base).rstrip("/")
    for suffix in ("/api/tags", "/api", "/v1"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def human_size(n: int | float | None) -> str:
    if not n:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1000
    return f"{size:.1f} TB"
