"""`lmgate doctor`: probe every deployment of a config and say what is wrong and how to fix it.

Per deployment: reachability (DNS, connect, TLS), auth accepted, model present upstream (Ollama
`/api/tags`, OpenAI-style `/models`) and, with `deep`, a one-token inference through the real provider
adapter. A wrong answer is followed by a few extra probes to name the cause (a `/v1` base given to an
Ollama adapter, a doubled `/api`, a `-cloud` suffix used against Ollama Cloud directly ...). Then each
alias's fallback chain is judged: the command fails when some chain has no healthy tier left.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from lmgate.config import Deployment
from lmgate.config.runtime import UnsupportedDeployment
from lmgate.core import GatewayRequest
from lmgate.errors import GatewayError
from lmgate.ops import names
from lmgate.ops.common import PLACEHOLDER, LoadedConfig, Probe, auth_headers, new_session, request_json
from lmgate.providers.http import UpstreamPool

CONCURRENCY = 16


@dataclass(slots=True)
class Finding:
    check: str  # config | env | reach | auth | path | model | inference
    level: str  # ok | warn | fail
    message: str
    fix: str | None = None


@dataclass(slots=True)
class DeploymentReport:
    deployment: str
    alias: str
    target: str  # provider/upstream model
    api_base: str
    findings: list[Finding] = field(default_factory=list)
    latency_ms: float | None = None  # the one-token inference, with deep

    @property
    def healthy(self) -> bool:
        return all(f.level != "fail" for f in self.findings)

    def add(self, check: str, level: str, message: str, fix: str | None = None) -> None:
        self.findings.append(Finding(check, level, message, fix))


@dataclass(slots=True)
class ChainReport:
    alias: str
    tiers: list[str]
    healthy_tiers: list[str]

    @property
    def healthy(self) -> bool:
        return bool(self.healthy_tiers)


@dataclass(slots=True)
class DoctorReport:
    deployments: list[DeploymentReport] = field(default_factory=list)
    chains: list[ChainReport] = field(default_factory=list)
    config_errors: list[str] = field(default_factory=list)
    missing_env: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.config_errors:
            return 2
        return 1 if any(not c.healthy for c in self.chains) else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.exit_code == 0,
            "exit_code": self.exit_code,
            "config_errors": self.config_errors,
            "missing_env": self.missing_env,
            "deployments": [{**asdict(d), "healthy": d.healthy} for d in self.deployments],
            "chains": [{**asdict(c), "healthy": c.healthy} for c in self.chains],
        }


_REACH_FIX = {
    "dns": "check the host name in api_base (this machine cannot resolve it: typo, or a cluster-only name?)",
    "timeout": "nothing answered within the probe time: check firewalls and that the host is up",
    "protocol": "the server answered something that is not HTTP: check the port in api_base",
}


def _reach_fix(kind: str, base: str, ollama: bool) -> str:
    url = URL(base)
    if kind == "connect":
        if ollama:
            return (
                f"start Ollama on {url.host}:{url.port} (`ollama serve`; set OLLAMA_HOST=0.0.0.0:{url.port} "
                "to accept other machines) or fix the port in api_base"
            )
        return f"start the server on {url.host}:{url.port} or fix the host/port in api_base"
    if kind == "tls":
        plain = str(url.with_scheme("http"))
        return (
            f"TLS handshake failed: if the server speaks plain HTTP use api_base: {plain}; if its certificate "
            "is self-signed or private, add its CA to the system trust store (SSL_CERT_FILE)"
        )
    return _REACH_FIX.get(kind, "check api_base")


def _auth_fix(d: Deployment, env: str | None) -> str:
    if names.is_ollama_cloud(d.api_base):
        return "set OLLAMA_API_KEY (or api_key: os.environ/OLLAMA_API_KEY) to a key from https://ollama.com/settings/keys"
    where = f"the key in {env}" if env else "api_key for this deployment"
    return f"{URL(d.api_base).host} refused {where}: check it, or rotate it at the provider"


def _path_of(base: str) -> str:
    return URL(base).path.rstrip("/")


def _server_failing(probe: Probe, rep: DeploymentReport) -> bool:
    """A 5xx is the server failing, not a wrong api_base: say so instead of guessing at the URL."""
    if probe.status is None or probe.status < 500:
        return False
    rep.add(
        "reach",
        "fail",
        f"GET {probe.url} answered {probe.status}: {probe.error_message() or '(no message)'}",
        f"{URL(probe.url).host} is reachable but failing (HTTP {probe.status}): check that server's logs or "
        "status page and run doctor again; api_base looks right",
    )
    return True


async def _ollama(session: aiohttp.ClientSession, d: Deployment, key: str | None, rep: DeploymentReport) -> bool:
    """Reach, auth, path and model checks for an Ollama deployment; True when inference may be tried."""
    base = d.api_base
    tags = await request_json(session, "GET", base + "/api/tags", headers=auth_headers(key))
    if not _transport_ok(tags, base, rep, ollama=True) or not _auth_ok(tags, d, rep):
        return False
    models = tags.data.get("models") if tags.ok and isinstance(tags.data, dict) else None
    if not isinstance(models, list):
        if _server_failing(tags, rep):
            return False
        origin = str(URL(base).origin())
        if _path_of(base):
            root = await request_json(session, "GET", origin + "/api/tags", headers=auth_headers(key))
            if root.ok:
                rep.add(
                    "path",
                    "fail",
                    f"api_base has the path '{_path_of(base)}', but Ollama's API lives at the instance root: "
                    f"requests would go to {base}/api/chat",
                    f"api_base: {origin}",
                )
                return False
        v1 = await request_json(session, "GET", base.rstrip("/") + "/v1/models", headers=auth_headers(key))
        if v1.ok:
            rep.add(
                "path",
                "fail",
                f"{base} answers the OpenAI API (/v1/models) but not Ollama's native /api/tags",
                f"use model: openai/{d.upstream_model} with api_base: {base.rstrip('/')}/v1, or point api_base at an Ollama instance",
            )
            return False
        rep.add("path", "fail", f"GET {base}/api/tags answered {tags.status}: {tags.error_message()}", "check that api_base is an Ollama instance root (http://host:11434)")
        return False
    listed = [str(m.get("name") or m.get("model")) for m in models if isinstance(m, dict)]
    rep.add("reach", "ok", f"Ollama answered /api/tags in {tags.elapsed * 1000:.0f} ms ({len(listed)} models)")
    _ollama_model(d, listed, rep)
    return rep.healthy


def _ollama_model(d: Deployment, listed: list[str], rep: DeploymentReport) -> None:
    model, cloud = d.upstream_model, names.is_ollama_cloud(d.api_base)
    if found := names.present(model, listed):
        rep.add("model", "ok", f"model {found} is present")
        return
    # A listing with the bare name but not the suffixed one is Ollama Cloud's own (a local daemon lists
    # cloud models with the suffix), whatever the host is called.
    if names.has_cloud_suffix(model) and names.present(names.strip_cloud(model), listed):
        direct = names.strip_cloud(model)
        rep.add(
            "model",
            "fail",
            f"'{model}' carries the -cloud suffix used through a local daemon; this server (Ollama Cloud directly) calls it '{direct}'",
            f"model: {d.provider}/{direct}",
        )
        return
    proxied = [n for n in listed if names.has_cloud_suffix(n) and names.strip_cloud(n) == model]
    if proxied:
        rep.add(
            "model",
            "fail",
            f"this local daemon serves the cloud model as '{proxied[0]}' (with the suffix), not '{model}'",
            f"model: {d.provider}/{proxied[0]}",
        )
        return
    near = names.closest(model, listed)
    hint = f" (closest: {', '.join(near)})" if near else ""
    if cloud:
        rep.add("model", "fail", f"Ollama Cloud does not list '{model}'{hint}", "pick a listed name: lmgate catalog ollama --base https://ollama.com --api-key-env OLLAMA_API_KEY")
    elif names.has_cloud_suffix(model):
        rep.add("model", "fail", f"'{model}' is not registered on this daemon{hint}", f"ollama signin && ollama pull {model}")
    else:
        rep.add(
            "model",
            "fail",
            f"model '{model}' is not on this instance{hint}",
            f"ollama pull {model}   (or: lmgate ollama pull --instance {d.api_base} {model})",
        )


def _transport_ok(probe: Probe, base: str, rep: DeploymentReport, ollama: bool) -> bool:
    if probe.failure is None:
        return True
    rep.add("reach", "fail", f"{probe.url}: {probe.failure} failure: {probe.detail}", _reach_fix(probe.failure, base, ollama))
    return False


def _auth_ok(probe: Probe, d: Deployment, rep: DeploymentReport) -> bool:
    if probe.status not in (401, 403):
        return True
    env = d.adapter.api_key_env(d.provider)
    rep.add("auth", "fail", f"{probe.status}: {probe.error_message() or 'unauthorized'}", _auth_fix(d, env))
    return False


async def _openai(session: aiohttp.ClientSession, d: Deployment, key: str | None, rep: DeploymentReport) -> bool:
    base = d.api_base
    listing = await request_json(session, "GET", base + "/models", headers=auth_headers(key))
    if not _transport_ok(listing, base, rep, ollama=False) or not _auth_ok(listing, d, rep):
        return False
    data = listing.data.get("data") if listing.ok and isinstance(listing.data, dict) else None
    if not isinstance(data, list):
        await _openai_path(session, d, key, listing, rep)
        return False
    ids = [str(m.get("id")) for m in data if isinstance(m, dict)]
    rep.add("reach", "ok", f"{base}/models answered in {listing.elapsed * 1000:.0f} ms ({len(ids)} models)")
    check_path = d.adapter.key_check_path(d.provider)
    if check_path and not await _key_check(session, d, key, check_path, rep):
        return False
    return _model_listed(d, ids, f"{base}/models", rep)


async def _anthropic(session: aiohttp.ClientSession, d: Deployment, key: str | None, rep: DeploymentReport) -> bool:
    """Anthropic lists models at <base>/v1/models with its own auth (x-api-key, anthropic-version)."""
    url = d.api_base + "/v1/models"
    headers = {k: v for k, v in d.headers.items() if k.lower() != "x-api-key"} | ({"x-api-key": key} if key else {})
    listing = await request_json(session, "GET", url, headers=headers)
    if not _transport_ok(listing, d.api_base, rep, ollama=False) or not _auth_ok(listing, d, rep):
        return False
    data = listing.data.get("data") if listing.ok and isinstance(listing.data, dict) else None
    if not isinstance(data, list):
        fix = "api_base: the API's root, e.g. https://api.anthropic.com (lmgate appends /v1/messages)"
        rep.add("path", "fail", f"GET {url} answered {listing.status}: {listing.error_message() or '(no model list)'}", fix)
        return False
    ids = [str(m.get("id")) for m in data if isinstance(m, dict)]
    rep.add("reach", "ok", f"{url} answered in {listing.elapsed * 1000:.0f} ms ({len(ids)} models)")
    return _model_listed(d, ids, url, rep)


def _model_listed(d: Deployment, ids: list[str], listing_url: str, rep: DeploymentReport) -> bool:
    if d.upstream_model in ids:
        rep.add("model", "ok", f"model {d.upstream_model} is listed")
        return True
    base = d.api_base
    near = names.closest(d.upstream_model, ids)
    hint = f" (closest: {', '.join(near)})" if near else ""
    fix = f"model: {d.provider}/{near[0]}" if near else f"pick a model from GET {listing_url}"
    if source := d.adapter.catalog(d.provider):
        fix = f"lmgate catalog {source} --config <this file> (suggests replacements; --write applies them)"
    rep.add("model", "fail", f"{URL(base).host} does not list '{d.upstream_model}'{hint}", fix)
    return False


async def _key_check(
    session: aiohttp.ClientSession, d: Deployment, key: str | None, path: str, rep: DeploymentReport
) -> bool:
    """An upstream that lists models without a key (OpenRouter) has the key checked on `path` (its own
    details: free tier, credit left)."""
    if not key:
        env = d.adapter.api_key_env(d.provider) or "<KEY_VARIABLE>"
        rep.add("auth", "fail", f"no key for {URL(d.api_base).host}", f"export {env}=<key> (or api_key: os.environ/{env})")
        return False
    probe = await request_json(session, "GET", d.api_base + path, headers=auth_headers(key))
    if not _auth_ok(probe, d, rep):
        return False
    info = probe.data.get("data") if probe.ok and isinstance(probe.data, dict) else None
    if isinstance(info, dict):
        facts = [f"free tier: {'yes' if info.get('is_free_tier') else 'no'}"]
        if info.get("limit_remaining") is not None:
            facts.append(f"credit left: {info['limit_remaining']}")
        rep.add("auth", "ok", f"key accepted ({', '.join(facts)})")
    return True


async def _openai_path(
    session: aiohttp.ClientSession, d: Deployment, key: str | None, listing: Probe, rep: DeploymentReport
) -> None:
    """/models did not answer a model list: find out whether the base URL is the problem."""
    if _server_failing(listing, rep):
        return
    base = d.api_base
    origin = str(URL(base).origin())
    native = await request_json(session, "GET", origin + "/api/tags", headers=auth_headers(key))
    if native.ok and isinstance(native.data, dict) and "models" in native.data and _path_of(base) != "/v1":
        rep.add(
            "path",
            "fail",
            f"{origin} is an Ollama instance; its OpenAI-compatible API is under /v1, not '{_path_of(base) or '/'}'",
            f"api_base: {origin}/v1   (or model: ollama_chat/{d.upstream_model} with api_base: {origin})",
        )
        return
    if _path_of(base) != "/v1":
        alt = await request_json(session, "GET", origin + "/v1/models", headers=auth_headers(key))
        if alt.ok:
            rep.add("path", "fail", f"{base}/models answered {listing.status}, but {origin}/v1/models lists models", f"api_base: {origin}/v1")
            return
    rep.add(
        "path",
        "fail",
        f"GET {base}/models answered {listing.status}: {listing.error_message() or '(no model list)'}",
        "check api_base: OpenAI-compatible servers list their models at <api_base>/models",
    )


async def _infer(pool: UpstreamPool, d: Deployment, rep: DeploymentReport) -> None:
    """One tiny real request through the provider adapter the gateway uses."""
    if d.mode == "embedding":
        req = GatewayRequest("embedding", "openai", {"model": d.alias, "input": "ping"}, d.alias)
    else:
        body = {"model": d.alias, "messages": [{"role": "user", "content": "Reply with one word: ok"}], "max_tokens": 1}
        req = GatewayRequest("chat", "openai", body, d.alias)
    started = time.monotonic()
    try:
        answer = await d.adapter.send(pool, d, req)
        if hasattr(answer, "aclose"):
            await answer.aclose()
    except GatewayError as exc:
        rep.add("inference", "fail", f"one-token request failed: {exc.message}", "see the checks above; the upstream's own message is quoted")
        return
    rep.latency_ms = (time.monotonic() - started) * 1000
    rep.add("inference", "ok", f"one-token request answered in {rep.latency_ms:.0f} ms")


def _config_warnings(loaded: LoadedConfig, index: int, rep: DeploymentReport) -> None:
    cfg = loaded.config
    assert cfg is not None
    tag = f"model_list[{index}] "
    for w in cfg.warnings:
        if tag in w and ".api_base" in w:
            rep.add("path", "warn", w.split(": ", 1)[-1], "write the normalised api_base into the config")


async def check_deployment(
    session: aiohttp.ClientSession, pool: UpstreamPool, loaded: LoadedConfig, index: int, deep: bool
) -> DeploymentReport:
    cfg = loaded.config
    assert cfg is not None
    d = cfg.deployments[index]
    rep = DeploymentReport(d.name, d.alias, f"{d.provider}/{d.upstream_model}", d.api_base if d.adapter.needs_network else "-")
    _config_warnings(loaded, index, rep)
    key = d.api_key
    if unset := loaded.unset_var(d.api_key):
        rep.add("env", "fail", f"the key comes from os.environ/{unset}, which is not set in this shell", f"export {unset}=<key> (for the service: its Environment= or Secret)")
        key = None
    if PLACEHOLDER in d.api_base:
        var = d.api_base.split(PLACEHOLDER, 1)[1].split("/", 1)[0]
        rep.add("env", "fail", f"api_base comes from os.environ/{var}, which is not set in this shell", f"export {var}=<url>")
        return rep
    probe = d.adapter.probe
    if probe == "none":
        rep.add("reach", "ok", "no listing probe for this provider: --deep sends it one tiny request" if d.adapter.needs_network else "built in (no network)")
        usable = True
    elif probe == "ollama":
        usable = await _ollama(session, d, key, rep)
    elif probe == "anthropic":
        usable = await _anthropic(session, d, key, rep)
    else:
        usable = await _openai(session, d, key, rep)
    if deep and usable and rep.healthy:
        await _infer(pool, d, rep)
    return rep


def selected(loaded: LoadedConfig, alias: str | None) -> list[int]:
    """Indexes of the deployments to probe: all, or those of `alias` and of its fallback tiers."""
    cfg = loaded.config
    assert cfg is not None
    if alias is None:
        return list(range(len(cfg.deployments)))
    chain = cfg.chains.get(alias)
    tiers = {alias, *(chain.fallbacks if chain else ())}
    return [i for i, d in enumerate(cfg.deployments) if d.alias in tiers]


def judge_chains(loaded: LoadedConfig, reports: list[DeploymentReport], alias: str | None) -> list[ChainReport]:
    cfg = loaded.config
    assert cfg is not None
    health: dict[str, bool] = {}
    for r in reports:
        health[r.alias] = health.get(r.alias, False) or r.healthy
    out = []
    for name in [alias] if alias else list(cfg.aliases):
        chain = cfg.chains.get(name)
        tiers = [name, *(chain.fallbacks if chain else ())]
        out.append(ChainReport(name, tiers, [t for t in tiers if health.get(t)]))
    return out


async def run_doctor(
    loaded: LoadedConfig,
    alias: str | None = None,
    deep: bool = False,
    on_done: Callable[[DeploymentReport], None] | None = None,
) -> DoctorReport:
    report = DoctorReport(config_errors=list(loaded.errors), missing_env=list(loaded.missing_env))
    if loaded.config is None:
        return report
    if alias is not None and alias not in loaded.config.aliases:
        known = ", ".join(sorted(loaded.config.aliases))
        report.config_errors.append(f"--model {alias}: no such model_name in the config (known: {known})")
        return report
    gate = asyncio.Semaphore(CONCURRENCY)
    pool = UpstreamPool()

    async def one(session: aiohttp.ClientSession, index: int) -> DeploymentReport:
        async with gate:
            rep = await check_deployment(session, pool, loaded, index, deep)
        if on_done:
            on_done(rep)
        return rep

    try:
        async with new_session() as session:
            report.deployments = list(await asyncio.gather(*(one(session, i) for i in selected(loaded, alias))))
    finally:
        await pool.close()
    report.chains = judge_chains(loaded, report.deployments, alias)
    # after judging: a deployment never routed to makes no chain healthier
    report.deployments += [_unsupported(u) for u in loaded.config.unsupported if alias in (None, u.alias)]
    return report


def _unsupported(u: UnsupportedDeployment) -> DeploymentReport:
    rep = DeploymentReport("-", u.alias, u.model, "-")
    rep.add("provider", "warn", f"{u.reason} ({u.where}); never routed to", "serve this model through a supported provider, or leave it: the rest of the config works")
    return rep
