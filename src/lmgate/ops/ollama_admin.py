"""`lmgate ollama ps|pull|rm`: manage the models on the Ollama instances a config names.

An instance is given by URL, by `host:port`, or by the name of a config alias / deployment that uses
it (its key, if any, is sent too). Pull reads Ollama's streamed NDJSON status lines
(`{"status", "digest", "total", "completed"}`) and hands each to a callback for the progress bar; an
`{"error": ...}` line (Ollama keeps HTTP 200 once the stream began) is a failure like an error status.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp
import orjson

from lmgate.config import RuntimeConfig
from lmgate.ops.common import Probe, auth_headers, classify_failure, new_session, ollama_root, request_json

PULL_READ_TIMEOUT_S = 600.0  # between status lines; a layer download reports progress far more often


class AdminError(Exception):
    """The instance refused or could not be reached; the message says what to do next."""


@dataclass(slots=True)
class Instance:
    label: str
    base: str
    api_key: str | None = None


@dataclass(slots=True)
class LoadedModel:
    name: str
    size: int
    size_vram: int
    context_length: int | None
    expires_at: str


@dataclass(slots=True)
class PullStatus:
    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None


def instances(config: RuntimeConfig | None) -> dict[str, list[str]]:
    """Instance root -> the aliases that use it (Ollama deployments only)."""
    out: dict[str, list[str]] = {}
    for d in config.deployments if config else []:
        if d.adapter.is_ollama_instance:
            out.setdefault(ollama_root(d.api_base), []).append(d.alias)
    return out


def resolve_instance(spec: str, config: RuntimeConfig | None) -> Instance:
    ollama_deps = [d for d in (config.deployments if config else []) if d.adapter.is_ollama_instance]
    if "://" in spec or (":" in spec and spec.rsplit(":", 1)[1].isdigit()):
        base = ollama_root(spec)
        key = next((d.api_key for d in ollama_deps if ollama_root(d.api_base) == base and d.api_key), None)
        return Instance(spec, base, key)
    for d in ollama_deps:
        if spec in (d.alias, d.name):
            return Instance(spec, ollama_root(d.api_base), d.api_key)
    known = "; ".join(f"{base} ({', '.join(aliases)})" for base, aliases in instances(config).items())
    where = f"known instances: {known}" if known else "the config has no Ollama deployments"
    raise AdminError(f"'{spec}' is not a URL, host:port, or an Ollama alias in the config; {where}")


def _error(probe: Probe, inst: Instance, doing: str) -> AdminError:
    if probe.failure:
        return AdminError(f"{doing} on {inst.base}: {probe.failure} failure ({probe.detail}); is Ollama running there? (`ollama serve`)")
    if probe.status in (401, 403):
        return AdminError(f"{doing} on {inst.base}: {probe.status} {probe.error_message()}; this instance needs a key (Ollama Cloud: OLLAMA_API_KEY)")
    return AdminError(f"{doing} on {inst.base}: HTTP {probe.status}: {probe.error_message() or 'unexpected answer'}")


async def ps(inst: Instance) -> list[LoadedModel]:
    async with new_session() as session:
        probe = await request_json(session, "GET", inst.base + "/api/ps", headers=auth_headers(inst.api_key))
    models = probe.data.get("models") if probe.ok and isinstance(probe.data, dict) else None
    if not isinstance(models, list):
        raise _error(probe, inst, "listing loaded models")
    return [
        LoadedModel(
            name=str(m.get("name") or m.get("model")),
            size=int(m.get("size") or 0),
            size_vram=int(m.get("size_vram") or 0),
            context_length=m.get("context_length"),
            expires_at=str(m.get("expires_at") or ""),
        )
        for m in models
        if isinstance(m, dict)
    ]


async def remove(inst: Instance, model: str) -> None:
    async with new_session() as session:
        probe = await request_json(session, "DELETE", inst.base + "/api/delete", headers=auth_headers(inst.api_key), body={"model": model})
    if probe.status == 404:
        raise AdminError(f"'{model}' is not on {inst.base}; `lmgate catalog ollama --base {inst.base}` lists what is")
    if not probe.ok:
        raise _error(probe, inst, f"deleting {model}")


def _status(line: bytes, model: str, inst: Instance) -> PullStatus | None:
    try:
        obj: Any = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    if "error" in obj:
        raise AdminError(f"pulling {model} on {inst.base} failed: {obj['error']} (check the name: `ollama search` or ollama.com/library)")
    return PullStatus(str(obj.get("status", "")), obj.get("digest"), obj.get("total"), obj.get("completed"))


async def pull(inst: Instance, model: str, on_status: Callable[[PullStatus], None]) -> PullStatus:
    """Pull `model`, reporting each status line; return the last one (`success`)."""
    last = PullStatus("")
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=PULL_READ_TIMEOUT_S)
    headers = {"Content-Type": "application/json", **auth_headers(inst.api_key)}
    try:
        async with new_session() as session, session.post(
            inst.base + "/api/pull", data=orjson.dumps({"model": model, "stream": True}), headers=headers, timeout=timeout
        ) as resp:
            if resp.status >= 400:
                raw = await resp.read()
                probe = Probe(inst.base + "/api/pull", resp.status, text=raw.decode("utf-8", "replace"))
                with contextlib.suppress(orjson.JSONDecodeError):
                    probe.data = orjson.loads(raw)
                raise _error(probe, inst, f"pulling {model}")
            async for raw_line in resp.content:
                if not raw_line.strip():
                    continue
                status = _status(raw_line, model, inst)
                if status is not None:
                    last = status
                    on_status(status)
    except (TimeoutError, aiohttp.ClientError) as exc:
        kind, detail = classify_failure(exc)
        raise AdminError(f"pulling {model} on {inst.base}: {kind} failure ({detail}); is Ollama running there? (`ollama serve`)") from None
    if last.status != "success":
        raise AdminError(f"pulling {model} on {inst.base} ended without 'success' (last status: {last.status or 'none'}); run it again")
    return last


def as_json(models: list[LoadedModel]) -> list[dict[str, Any]]:
    return [asdict(m) for m in models]
