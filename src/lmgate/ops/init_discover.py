"""`lmgate init`, step 1: find what is already running and which keys are exported, without asking.

Every source is probed at once: Ollama instances (`/api/tags`, `/api/ps`, `/api/show` per model for
context length and capabilities), Ollama Cloud (its `/api/tags`, with `OLLAMA_API_KEY`), OpenRouter's
free models (the same listing `lmgate catalog openrouter` reads), OpenAI-compatible servers such as
vLLM (`/v1/models`), and the paid vendors whose keys are exported (their `/models`, to check the key and
the model). The environment is an input (a mapping); only variable NAMES end up in what this returns.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from lmgate.ops import catalog, names
from lmgate.ops.common import Probe, as_url, auth_headers, new_session, ollama_root, request_json
from lmgate.providers import adapter_for

LOCAL_OLLAMA = "http://localhost:11434"
CLOUD_URL = f"https://{names.CLOUD_HOST}"
TIERS = ("cloud", "gpu", "cpu", "paid")  # the fallback order; paid models are explicit-only
PURPOSES = ("chat", "coder", "vision", "embeddings")


@dataclass(frozen=True, slots=True)
class PaidVendor:
    """A paid API reached with an exported key: its alias and the model it points at by default."""

    name: str  # the option suffix (--openai-url) and the alias prefix
    prefix: str  # litellm_params.model prefix
    alias: str
    model: str
    key_env: str
    base: str
    models_path: str = "/models"  # under the base: lists the models the key can use


def _vendor(name: str, alias: str, model: str, models_path: str = "/models") -> PaidVendor:
    adapter = adapter_for(name)
    assert adapter is not None, name
    return PaidVendor(name, name, alias, model, adapter.api_key_env(name) or "", adapter.default_api_base(name) or "", models_path)


# The registry (providers/) owns base URLs and key variables; only the default model per vendor is
# chosen here.
PAID: tuple[PaidVendor, ...] = (
    _vendor("openai", "openai-gpt4o", "gpt-4o"),
    _vendor("groq", "groq-llama", "llama-3.3-70b-versatile"),
    _vendor("gemini", "gemini-flash", "gemini-2.5-flash"),
    _vendor("mistral", "mistral-large", "mistral-large-latest"),
    _vendor("anthropic", "anthropic-claude", "claude-sonnet-4-5", models_path="/v1/models"),
)


@dataclass(slots=True)
class Found:
    """One model that a deployment can point at."""

    source: str  # ollama | cloud | vllm | openrouter | a paid vendor's name
    tier: str  # one of TIERS
    prefix: str  # litellm_params.model prefix
    model: str  # the upstream model name
    api_base: str | None  # written to the config (None: the registry's default applies)
    key_env: str | None  # written as os.environ/<key_env>
    instance: str  # where it was found, for comments and model_info.id
    context: int | None = None
    purposes: tuple[str, ...] = ("chat",)
    loaded: bool = False  # in /api/ps: warm, no load time
    local: bool = False  # the operator's own hardware: costs nothing
    free: bool = False  # a free tier (OpenRouter :free)
    moderated: bool | None = None
    note: str = ""  # a comment for the config (data policy, rate limits, a failed key check)
    rpm: int | None = None
    rpd: int | None = None
    timeout: int | None = None


@dataclass(slots=True)
class SourceReport:
    kind: str  # ollama | cloud | openrouter | openai-compatible | a paid vendor
    url: str
    status: str  # ok | unreachable | refused | error | skipped
    detail: str = ""
    models: int = 0
    tier: str = ""


@dataclass(slots=True)
class Discovery:
    found: list[Found] = field(default_factory=list)
    sources: list[SourceReport] = field(default_factory=list)


@dataclass(slots=True)
class Targets:
    """What to probe; every remote base URL can be pointed elsewhere (mirrors, tests)."""

    local_ollama: str | None = LOCAL_OLLAMA
    ollama: list[str] = field(default_factory=list)
    openai_compatible: list[str] = field(default_factory=list)
    ollama_cloud_url: str = CLOUD_URL
    openrouter_url: str = catalog.DEFAULT_OPENROUTER
    vendor_urls: dict[str, str] = field(default_factory=dict)  # vendor name -> base URL override
    openrouter_max: int = 3  # free models to include (best per purpose first)
    timeout: float = 5.0


def _why(probe: Probe) -> tuple[str, str]:
    if probe.failure:
        return "unreachable", f"{probe.failure}: {probe.detail}"
    if probe.status in (401, 403):
        return "refused", f"HTTP {probe.status}: {probe.error_message() or 'key refused'}"
    return "error", f"HTTP {probe.status}: {probe.error_message() or 'unexpected answer'}"


# ------------------------------------------------------------------------------------ purposes

_CODER = re.compile(r"(coder|codestral|devstral|codellama|starcoder|(^|[-_/.])code([-_/.]|$))")
_VISION = re.compile(r"(vision|llava|(^|[-_/.:])vl([-_/.:]|$)|vl$|moondream|bakllava|minicpm-v|pixtral)")
_EMBED = re.compile(r"embed|bge-|minilm|e5-")


def purposes_of(name: str, capabilities: list[str] | None = None, image_input: bool = False) -> tuple[str, ...]:
    """What a model is for, from Ollama's capabilities (or input modalities) first, else its name."""
    lowered = name.lower()
    caps = set(capabilities or [])
    if "embedding" in caps or (not caps and _EMBED.search(lowered)):
        return ("embeddings",)
    out = ["chat"]
    if _CODER.search(lowered):
        out.append("coder")
    if "vision" in caps or image_input or (not caps and _VISION.search(lowered)):
        out.append("vision")
    return tuple(out)


def _context_from_show(data: Any) -> int | None:
    info = data.get("model_info") if isinstance(data, dict) else None
    if not isinstance(info, dict):
        return None
    for key, value in info.items():
        if key.endswith(".context_length") and isinstance(value, int):
            return value
    return None


# -------------------------------------------------------------------------------------- Ollama


async def _ollama(session: aiohttp.ClientSession, url: str, kind: str, key: str | None, key_env: str | None, t: Targets) -> tuple[SourceReport, list[Found]]:
    root = ollama_root(url)
    headers = auth_headers(key)
    tags, ps = await asyncio.gather(
        request_json(session, "GET", root + "/api/tags", headers=headers, timeout=t.timeout),
        request_json(session, "GET", root + "/api/ps", headers=headers, timeout=t.timeout),
    )
    models = tags.data.get("models") if tags.ok and isinstance(tags.data, dict) else None
    if not isinstance(models, list):
        status, detail = _why(tags)
        return SourceReport(kind, root, status, detail), []
    listed = [str(m.get("name") or m.get("model")) for m in models if isinstance(m, dict)]
    running = ps.data.get("models") if ps.ok and isinstance(ps.data, dict) else []
    running = [m for m in running or [] if isinstance(m, dict)]
    loaded = {str(m.get("name") or m.get("model")) for m in running}
    cloud = kind == "cloud"
    gpu = any(int(m.get("size_vram") or 0) > 0 for m in running)
    shows = await asyncio.gather(
        *(request_json(session, "POST", root + "/api/show", headers=headers, body={"model": n}, timeout=t.timeout) for n in listed)
    )
    found = []
    for name, show in zip(listed, shows, strict=True):
        data = show.data if show.ok else None
        caps = data.get("capabilities") if isinstance(data, dict) else None
        proxied_cloud = not cloud and names.has_cloud_suffix(name)  # a local daemon relaying Ollama Cloud
        tier = "cloud" if cloud or proxied_cloud else ("gpu" if gpu else "cpu")
        found.append(
            Found(
                source="cloud" if cloud or proxied_cloud else "ollama",
                tier=tier,
                prefix="ollama_chat",
                model=name,
                api_base=root,
                key_env=key_env,
                instance=root,
                context=_context_from_show(data),
                purposes=purposes_of(name, caps if isinstance(caps, list) else None),
                loaded=name in loaded,
                local=not cloud and not proxied_cloud,
                note="an Ollama Cloud model relayed by this daemon (signed in with `ollama signin`)" if proxied_cloud else "",
                timeout=60 if tier == "cloud" else None,
            )
        )
    tier = "cloud" if cloud else ("gpu" if gpu else "cpu")
    detail = "GPU (a model in VRAM per /api/ps)" if gpu else ("" if cloud else "CPU (no model in VRAM per /api/ps)")
    return SourceReport(kind, root, "ok", detail, len(found), tier), found


# --------------------------------------------------------------------------- OpenAI-compatible


async def _openai_compatible(session: aiohttp.ClientSession, url: str, env: Mapping[str, str], t: Targets) -> tuple[SourceReport, list[Found]]:
    adapter = adapter_for("hosted_vllm")
    assert adapter is not None
    base, _ = adapter.normalise_api_base("hosted_vllm", as_url(url))
    key_env = adapter.api_key_env("hosted_vllm")
    key = env.get(key_env) if key_env else None
    probe = await request_json(session, "GET", base + "/models", headers=auth_headers(key), timeout=t.timeout)
    data = probe.data.get("data") if probe.ok and isinstance(probe.data, dict) else None
    if not isinstance(data, list):
        status, detail = _why(probe)
        return SourceReport("openai-compatible", base, status, detail), []
    found = []
    for m in data:
        if not isinstance(m, dict) or not isinstance(m.get("id"), str):
            continue
        context = m.get("max_model_len")  # vLLM lists each model's context length
        found.append(
            Found(
                source="vllm",
                tier="gpu",
                prefix="hosted_vllm",
                model=m["id"],
                api_base=base,
                key_env=key_env if key else None,
                instance=base,
                context=context if isinstance(context, int) else None,
                purposes=purposes_of(m["id"]),
                local=True,
            )
        )
    return SourceReport("openai-compatible", base, "ok", "", len(found), "gpu"), found


# ---------------------------------------------------------------------------------- OpenRouter


def _pick_free(models: list[catalog.RouterModel], n: int) -> list[catalog.RouterModel]:
    """The best free models: one per purpose first (longest context), then the longest contexts."""
    pool = sorted((m for m in models if m.free and not m.expiration_date), key=lambda m: (-m.context_length, m.id))
    chosen: list[catalog.RouterModel] = []
    for purpose in ("chat", "coder", "vision"):
        best = next((m for m in pool if m not in chosen and _router_purposes(m)[-1] == purpose), None)
        if best is None and purpose == "chat":
            best = next((m for m in pool if m not in chosen), None)
        if best is not None and len(chosen) < n:
            chosen.append(best)
    chosen += [m for m in pool if m not in chosen][: max(0, n - len(chosen))]
    return chosen


def _router_purposes(m: catalog.RouterModel) -> tuple[str, ...]:
    return purposes_of(m.id, image_input="image" in m.input_modalities)


async def _openrouter(t: Targets, key_env: str) -> tuple[SourceReport, list[Found]]:
    base = as_url(t.openrouter_url).rstrip("/")
    try:
        models = await catalog.fetch_router_models(base)
    except catalog.CatalogError as exc:
        return SourceReport("openrouter", base, "unreachable", str(exc)), []
    adapter = adapter_for("openrouter")
    default = adapter.default_api_base("openrouter") if adapter else None
    found = [
        Found(
            source="openrouter",
            tier="cloud",
            prefix="openrouter",
            model=m.id,
            api_base=None if base == default else base,
            key_env=key_env,
            instance=base,
            context=m.context_length or None,
            purposes=_router_purposes(m),
            free=True,
            moderated=m.moderated,
            note=f"free on OpenRouter: {catalog.FREE_POLICY_NOTE}",
            # no per-model rpm/rpd: OpenRouter's free limits are account-wide, counted by the gateway
            # (router_settings.openrouter_free_limits, limits/accounts.py)
        )
        for m in _pick_free(models, t.openrouter_max)
    ]
    free = sum(m.free for m in models)
    return SourceReport("openrouter", base, "ok", f"{free} free model(s) listed, {len(found)} chosen", len(found), "cloud"), found


# ----------------------------------------------------------------------------------- paid APIs


async def _paid(session: aiohttp.ClientSession, v: PaidVendor, key: str, t: Targets) -> tuple[SourceReport, list[Found]]:
    base = as_url(t.vendor_urls[v.name]).rstrip("/") if v.name in t.vendor_urls else v.base
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"} if v.prefix == "anthropic" else auth_headers(key)
    probe = await request_json(session, "GET", base + v.models_path, headers=headers, timeout=t.timeout)
    data = probe.data.get("data") if probe.ok and isinstance(probe.data, dict) else None
    model, note, status, detail = v.model, "", "ok", ""
    if isinstance(data, list):
        ids = [str(m.get("id")).removeprefix("models/") for m in data if isinstance(m, dict)]
        if ids and model not in ids:
            near = names.closest(model, ids, 1)
            if near:
                model = near[0]
            note = f"{v.model} is not listed by {base}{v.models_path}; check the model name"
    else:
        status, detail = _why(probe)
        note = f"not verified at init ({detail}): run `lmgate doctor`"
    found = Found(
        source=v.name,
        tier="paid",
        prefix=v.prefix,
        model=model,
        api_base=None if base == v.base else base,
        key_env=v.key_env,
        instance=base,
        note=note,
    )
    return SourceReport(v.name, base, status, detail, 1, "paid"), [found]


# ------------------------------------------------------------------------------------- all of it


async def discover(t: Targets, env: Mapping[str, str]) -> Discovery:
    """Probe every source at once; a source that fails is reported, never fatal."""
    cloud_key_env = "OLLAMA_API_KEY"
    router_key_env = "OPENROUTER_API_KEY"
    out = Discovery()
    async with new_session() as session:
        jobs: list[Any] = []
        instances = [t.local_ollama] if t.local_ollama else []
        instances += [u for u in t.ollama if ollama_root(u) not in {ollama_root(i) for i in instances}]
        jobs += [_ollama(session, u, "ollama", None, None, t) for u in instances]
        jobs += [_openai_compatible(session, u, env, t) for u in t.openai_compatible]
        if env.get(cloud_key_env):
            jobs.append(_ollama(session, t.ollama_cloud_url, "cloud", env[cloud_key_env], cloud_key_env, t))
        else:
            out.sources.append(SourceReport("cloud", t.ollama_cloud_url, "skipped", f"{cloud_key_env} not set"))
        if env.get(router_key_env):
            jobs.append(_openrouter(t, router_key_env))
        else:
            out.sources.append(SourceReport("openrouter", t.openrouter_url, "skipped", f"{router_key_env} not set"))
        for v in PAID:
            if env.get(v.key_env):
                jobs.append(_paid(session, v, env[v.key_env], t))
            else:
                out.sources.append(SourceReport(v.name, t.vendor_urls.get(v.name, v.base), "skipped", f"{v.key_env} not set"))
        for report, found in await asyncio.gather(*jobs):
            out.sources.append(report)
            out.found += found
    order = {k: i for i, k in enumerate(["ollama", "openai-compatible", "cloud", "openrouter", *(v.name for v in PAID)])}
    out.sources.sort(key=lambda s: (order.get(s.kind, 99), s.status == "skipped"))
    return out
