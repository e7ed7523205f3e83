"""`lmgate catalog`: what an Ollama instance (or Ollama Cloud) and OpenRouter actually serve, compared
with the config.

OpenRouter's free models retire within weeks, so `openrouter_catalog` marks each configured OpenRouter
model live, expiring or retired and suggests replacements; `rewrite_models` changes only the model
scalars in the config text (see its docstring) so everything else stays byte-for-byte.

Each configured OpenRouter model's endpoints (`GET /models/{id}/endpoints`, a few at a time) give its
data policy (ops/endpoint_policy.py); `--write` fills or tightens `model_info.data_policy` with it.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml
from yarl import URL

from lmgate.config import RuntimeConfig
from lmgate.ops import endpoint_policy, names, yaml_splice
from lmgate.ops.common import Probe, auth_headers, compile_tolerant, new_session, ollama_root, request_json
from lmgate.providers import adapter_for

DEFAULT_OPENROUTER = "https://openrouter.ai/api/v1"
ENDPOINT_CONCURRENCY = 6  # endpoint listings fetched at once (one per model)
FREE_POLICY_NOTE = "free endpoints may log prompts or train on them: check the provider's policy and openrouter.ai/settings/privacy"


class CatalogError(Exception):
    """A listing could not be read; the message says what to do next."""


def _listing_error(probe: Probe, what: str, key_hint: str | None = None) -> CatalogError:
    if probe.failure:
        return CatalogError(f"{what}: {probe.failure} failure ({probe.detail}); check the URL and that the server is up")
    if probe.status in (401, 403):
        hint = key_hint or "pass the key with --api-key-env VAR"
        return CatalogError(f"{what}: {probe.status} {probe.error_message() or 'unauthorized'}; {hint}")
    if probe.status == 404:
        return CatalogError(f"{what}: 404 at {probe.url}; the base URL is probably wrong (give the server root or its API base)")
    return CatalogError(f"{what}: HTTP {probe.status}: {probe.error_message() or 'unexpected answer'}")


# ---------------------------------------------------------------------------------------------- Ollama


@dataclass(slots=True)
class OllamaEntry:
    name: str
    size: int
    family: str
    parameter_size: str
    quantization: str
    modified_at: str
    aliases: list[str] = field(default_factory=list)  # configured aliases served by this model


@dataclass(slots=True)
class AliasCheck:
    alias: str
    deployment: str
    model: str
    found: str | None  # the listed name it matches


@dataclass(slots=True)
class OllamaCatalog:
    base: str
    models: list[OllamaEntry]
    configured: list[AliasCheck]

    def as_json(self) -> dict[str, Any]:
        return {"base": self.base, "models": [asdict(m) for m in self.models], "configured": [asdict(c) for c in self.configured]}


def _same_instance(a: str, b: str) -> bool:
    return ollama_root(a).lower() == ollama_root(b).lower()


async def ollama_catalog(base: str, api_key: str | None, config: RuntimeConfig | None) -> OllamaCatalog:
    root = ollama_root(base)
    async with new_session() as session:
        probe = await request_json(session, "GET", root + "/api/tags", headers=auth_headers(api_key))
    models = probe.data.get("models") if probe.ok and isinstance(probe.data, dict) else None
    if not isinstance(models, list):
        hint = "Ollama Cloud needs a key: --api-key-env OLLAMA_API_KEY" if names.is_ollama_cloud(root) else None
        raise _listing_error(probe, f"GET {root}/api/tags", hint)
    entries = []
    for m in models:
        if not isinstance(m, dict):
            continue
        details: dict[str, Any] = m["details"] if isinstance(m.get("details"), dict) else {}
        entries.append(
            OllamaEntry(
                name=str(m.get("name") or m.get("model")),
                size=int(m.get("size") or 0),
                family=str(details.get("family") or ""),
                parameter_size=str(details.get("parameter_size") or ""),
                quantization=str(details.get("quantization_level") or ""),
                modified_at=str(m.get("modified_at") or ""),
            )
        )
    listed = [e.name for e in entries]
    checks: list[AliasCheck] = []
    for d in config.deployments if config else []:
        if d.adapter.is_ollama_instance and _same_instance(d.api_base, root):
            found = names.present(d.upstream_model, listed)
            checks.append(AliasCheck(d.alias, d.name, d.upstream_model, found))
            for e in entries:
                if e.name == found:
                    e.aliases.append(d.alias)
    return OllamaCatalog(root, entries, checks)


# ------------------------------------------------------------------------------------------ OpenRouter


@dataclass(slots=True)
class RouterModel:
    id: str
    name: str
    context_length: int
    prompt_price: str
    completion_price: str
    free: bool
    moderated: bool | None
    expiration_date: str | None
    max_completion_tokens: int | None
    input_modalities: list[str] = field(default_factory=list)  # architecture.input_modalities: text, image, ...
    endpoints: ModelEndpoints | None = None  # fetched for configured models, or all with --endpoints

    @property
    def family(self) -> str:
        return self.id.split("/", 1)[0]


@dataclass(slots=True)
class Endpoint:
    """One provider serving a model on OpenRouter, with its data policy."""

    provider: str
    tag: str
    data_policy: str  # none | retains | trains | unknown
    training: bool | None
    retains_prompts: bool | None
    retention_days: float | None


@dataclass(slots=True)
class ModelEndpoints:
    endpoints: list[Endpoint] = field(default_factory=list)
    error: str | None = None  # why the listing could not be read

    @property
    def data_policy(self) -> str:
        """The model's: its least private endpoint's (unknown when they could not be read)."""
        if self.error is not None:
            return endpoint_policy.UNKNOWN
        return endpoint_policy.model_policy(e.data_policy for e in self.endpoints)

    def as_json(self) -> dict[str, Any]:
        return {"data_policy": self.data_policy, "endpoints": [asdict(e) for e in self.endpoints], "error": self.error}


@dataclass(slots=True)
class ConfiguredModel:
    """An OpenRouter model named in the config, with where its scalar sits in the file."""

    index: int
    alias: str
    model_id: str  # without the openrouter/ prefix
    prefix: str
    start: int  # character offsets of the scalar (quotes included) in the file text
    end: int
    quote: str  # '', '"' or "'"
    status: str = "unknown"  # live | expiring | retired
    listed: RouterModel | None = None
    replacements: list[str] = field(default_factory=list)
    configured_policy: str | None = None  # its model_info.data_policy in the file

    @property
    def data_policy(self) -> str:
        """What OpenRouter's endpoints say (unknown when not listed or not read)."""
        found = self.listed.endpoints if self.listed is not None else None
        return found.data_policy if found is not None else endpoint_policy.UNKNOWN


@dataclass(slots=True)
class RouterCatalog:
    base_url: str
    models: list[RouterModel]
    configured: list[ConfiguredModel]

    def as_json(self) -> dict[str, Any]:
        def model(m: RouterModel) -> dict[str, Any]:
            out = {**asdict(m), "data_policy_note": FREE_POLICY_NOTE if m.free else None}
            out["endpoints"] = m.endpoints.as_json() if m.endpoints is not None else None
            out["data_policy"] = m.endpoints.data_policy if m.endpoints is not None else None
            return out

        return {
            "base_url": self.base_url,
            "models": [model(m) for m in self.models],
            "configured": [
                {
                    "alias": c.alias,
                    "model": c.model_id,
                    "status": c.status,
                    "expiration_date": c.listed.expiration_date if c.listed else None,
                    "context_length": c.listed.context_length if c.listed else None,
                    "replacements": c.replacements,
                    "configured_data_policy": c.configured_policy,
                    "data_policy": c.data_policy,
                    "endpoints": c.listed.endpoints.as_json() if c.listed and c.listed.endpoints else None,
                }
                for c in self.configured
            ],
        }


def _zero(price: Any) -> bool:
    try:
        return float(price) == 0.0
    except (TypeError, ValueError):
        return False


def parse_router_models(data: Any) -> list[RouterModel]:
    out = []
    for m in data.get("data") or [] if isinstance(data, dict) else []:
        if not isinstance(m, dict) or not isinstance(m.get("id"), str):
            continue
        pricing: dict[str, Any] = m["pricing"] if isinstance(m.get("pricing"), dict) else {}
        top: dict[str, Any] = m["top_provider"] if isinstance(m.get("top_provider"), dict) else {}
        arch: dict[str, Any] = m["architecture"] if isinstance(m.get("architecture"), dict) else {}
        modalities = arch.get("input_modalities")
        prompt, completion = pricing.get("prompt", ""), pricing.get("completion", "")
        out.append(
            RouterModel(
                id=m["id"],
                name=str(m.get("name") or m["id"]),
                context_length=int(m.get("context_length") or top.get("context_length") or 0),
                prompt_price=str(prompt),
                completion_price=str(completion),
                # both prices must be zero: a `:free` id alone is not proof (PROTOCOLS.md 2.7)
                free=_zero(prompt) and _zero(completion),
                moderated=top.get("is_moderated"),
                expiration_date=m.get("expiration_date"),
                max_completion_tokens=top.get("max_completion_tokens"),
                input_modalities=[str(x) for x in modalities] if isinstance(modalities, list) else [],
            )
        )
    return out


def _is_openrouter(params: dict[str, Any]) -> bool:
    model = params.get("model")
    if not isinstance(model, str):
        return False
    prefix = model.partition("/")[0]
    adapter = adapter_for(prefix)
    if adapter is None:
        return False
    if adapter.catalog(prefix) == "openrouter":
        return True
    base = params.get("api_base")  # an OpenAI-compatible deployment pointed at OpenRouter
    return adapter.wire == "openai" and isinstance(base, str) and "openrouter.ai" in (URL(base).host or "")


def configured_models(text: str) -> list[ConfiguredModel]:
    """The OpenRouter models of a config's model_list, located in the text through PyYAML's node marks."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return []
    model_list = next((v for k, v in root.value if k.value == "model_list"), None)
    out: list[ConfiguredModel] = []
    if not isinstance(model_list, yaml.SequenceNode):
        return out
    for i, item in enumerate(model_list.value):
        if not isinstance(item, yaml.MappingNode):
            continue
        fields = {k.value: v for k, v in item.value}
        params_node = fields.get("litellm_params")
        alias_node = fields.get("model_name")
        if not isinstance(params_node, yaml.MappingNode):
            continue
        params = {k.value: v for k, v in params_node.value}
        model_node = params.get("model")
        plain = {k: v.value for k, v in params.items() if isinstance(v, yaml.ScalarNode)}
        if not isinstance(model_node, yaml.ScalarNode) or not _is_openrouter(plain):
            continue
        prefix, _, model_id = model_node.value.partition("/")
        info = fields.get("model_info")
        info_fields = {k.value: v for k, v in info.value} if isinstance(info, yaml.MappingNode) else {}
        policy = info_fields.get("data_policy")
        out.append(
            ConfiguredModel(
                index=i,
                alias=str(alias_node.value) if isinstance(alias_node, yaml.ScalarNode) else f"model_list[{i}]",
                model_id=model_id,
                prefix=prefix + "/",
                start=model_node.start_mark.index,
                end=model_node.end_mark.index,
                quote=model_node.style if model_node.style in ('"', "'") else "",
                configured_policy=str(policy.value) if isinstance(policy, yaml.ScalarNode) else None,
            )
        )
    return out


# Words that say what a model is for; a replacement should keep the purpose (a coder for a coder).
PURPOSE_WORDS = frozenset({"coder", "code", "codestral", "vision", "vl", "math", "r1", "reasoning", "thinking", "embed", "guard"})


def _purposes(model_id: str) -> set[str]:
    words = re.split(r"[-_.:/]", model_id.lower())
    return {w for w in words if w in PURPOSE_WORDS}


def suggest(model_id: str, models: list[RouterModel], want_free: bool, n: int = 3) -> list[str]:
    """Replacements: same family first, then the same purpose words, then the closest name, then the
    longest context."""
    bare = model_id.removesuffix(":free")
    family = model_id.split("/", 1)[0]
    purposes = _purposes(model_id)
    pool = [m for m in models if m.id != model_id and not m.expiration_date and (m.free or not want_free)]

    def score(m: RouterModel) -> tuple[int, int, float, int]:
        similarity = difflib.SequenceMatcher(None, bare.split("/")[-1], m.id.removesuffix(":free").split("/")[-1]).ratio()
        return (int(m.family == family), len(purposes & _purposes(m.id)), round(similarity, 2), m.context_length)

    return [m.id for m in sorted(pool, key=score, reverse=True)[:n]]


async def fetch_router_models(base_url: str) -> list[RouterModel]:
    base = base_url.rstrip("/")
    async with new_session() as session:
        probe = await request_json(session, "GET", base + "/models", timeout=30.0)
    if not (probe.ok and isinstance(probe.data, dict) and isinstance(probe.data.get("data"), list)):
        raise _listing_error(probe, f"GET {base}/models", "the model list needs no key; check --base-url")
    return parse_router_models(probe.data)


def compare(models: list[RouterModel], configured: list[ConfiguredModel], free_only: bool) -> None:
    by_id = {m.id: m for m in models}
    for c in configured:
        c.listed = by_id.get(c.model_id)
        if c.listed is None:
            c.status = "retired"
        elif c.listed.expiration_date:
            c.status = "expiring"
        else:
            c.status = "live"
        if c.status != "live":
            c.replacements = suggest(c.model_id, models, free_only or c.model_id.endswith(":free"))


def parse_endpoints(data: Any) -> list[Endpoint]:
    """The endpoints of `GET /models/{id}/endpoints` (`{"data": {"id", "endpoints": [...]}}`)."""
    inner = data.get("data") if isinstance(data, dict) else None
    listed = inner.get("endpoints") if isinstance(inner, dict) else None
    out = []
    for e in listed if isinstance(listed, list) else []:
        if not isinstance(e, dict):
            continue
        f = endpoint_policy.facts(e)
        out.append(
            Endpoint(
                provider=str(e.get("provider_name") or e.get("name") or "?"),
                tag=str(e.get("tag") or ""),
                data_policy=endpoint_policy.policy_of(f),
                training=f.training,
                retains_prompts=f.retains_prompts,
                retention_days=f.retention_days,
            )
        )
    return out


async def fetch_endpoints(base_url: str, models: list[RouterModel], api_key: str | None = None) -> None:
    """Fill `endpoints` of each of `models` (ENDPOINT_CONCURRENCY listings at a time)."""
    base = base_url.rstrip("/")
    gate = asyncio.Semaphore(ENDPOINT_CONCURRENCY)

    async def one(session: Any, m: RouterModel) -> None:
        author, _, slug = m.id.partition("/")
        url = str(URL(base + "/models").joinpath(author, slug, "endpoints"))
        async with gate:
            probe = await request_json(session, "GET", url, headers=auth_headers(api_key), timeout=30.0)
        if probe.ok and isinstance(probe.data, dict):
            m.endpoints = ModelEndpoints(parse_endpoints(probe.data))
        else:
            m.endpoints = ModelEndpoints(error=str(_listing_error(probe, f"GET {url}")))

    async with new_session() as session:
        await asyncio.gather(*(one(session, m) for m in models))


async def openrouter_catalog(
    base_url: str, config_text: str | None, free_only: bool, all_endpoints: bool = False, api_key: str | None = None
) -> RouterCatalog:
    """The listing compared with the config; endpoints (data policy) of the configured models that are
    listed, and of every shown model with `all_endpoints`."""
    models = await fetch_router_models(base_url)
    configured = configured_models(config_text) if config_text is not None else []
    compare(models, configured, free_only)
    shown = [m for m in models if m.free] if free_only else models
    wanted = {c.listed.id: c.listed for c in configured if c.listed is not None}
    if all_endpoints:
        wanted.update((m.id, m) for m in shown)
    await fetch_endpoints(base_url, list(wanted.values()), api_key)
    return RouterCatalog(base_url.rstrip("/"), shown, configured)


@dataclass(slots=True)
class Rewrite:
    text: str
    changes: list[tuple[str, str, str]]  # alias, old id, new id
    errors: list[str]
    policies: list[tuple[int, str, str | None, str]] = field(default_factory=list)  # item, alias, old, new data_policy


def rewrite_models(text: str, name: str, configured: list[ConfiguredModel]) -> Rewrite:
    """Replace each retired model with its first suggestion, and fill or tighten the `model_info.data_policy`
    of each listed one with what its endpoints say, touching only those characters (ops/yaml_splice.py).

    A YAML round-trip (load, edit, dump) re-emits the whole document: indentation, quoting, line wraps
    and blank lines may shift. Splicing at the node's marks keeps every other byte of the file, comments
    and `os.environ/` references included. The result is parsed again and validated like `lmgate
    validate` before it is offered.
    """
    edits: list[yaml_splice.Edit] = []
    changes: list[tuple[str, str, str]] = []
    policies: list[tuple[int, str, str | None, str]] = []
    for c in sorted(configured, key=lambda c: c.start):
        if c.status == "retired":
            if c.replacements:
                edits.append((c.start, c.end, f"{c.quote}{c.prefix}{c.replacements[0]}{c.quote}"))
                changes.append((c.alias, c.model_id, c.replacements[0]))
            continue
        new = endpoint_policy.tightened(c.configured_policy, c.data_policy)
        edit = yaml_splice.set_model_info(text, c.index, "data_policy", new) if new is not None else None
        if new is not None and edit is not None:
            edits.append(edit)
            policies.append((c.index, c.alias, c.configured_policy, new))
    out = yaml_splice.apply(text, edits)
    errors: list[str] = []
    if edits:
        loaded = compile_tolerant(out, name)
        errors = list(loaded.errors)
        after = {c.index: c for c in configured_models(out)}
        replaced = {c.index: c.replacements[0] for c in configured if c.status == "retired" and c.replacements}
        for c in configured:
            now = after.get(c.index)
            if c.index in replaced and (now is None or now.model_id != replaced[c.index]):
                errors.append(f"{name}: model_list[{c.index}] ({c.alias}): the rewrite did not produce the expected model")
        for index, alias, _old, new in policies:
            if (now := after.get(index)) is None or now.configured_policy != new:
                errors.append(f"{name}: model_list[{index}] ({alias}): the rewrite did not produce model_info.data_policy: {new}")
    return Rewrite(out, changes, errors, policies)


def unified_diff(old: str, new: str, name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), name, name + " (new)"))
