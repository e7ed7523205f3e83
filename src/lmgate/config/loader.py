"""Load a LiteLLM-style config.yaml into a `RuntimeConfig`.

Steps: parse YAML (keeping each node's line), resolve every `os.environ/NAME` string against the
environment given (a copy of os.environ by default) overlaid with the config's own
`environment_variables`, validate with the pydantic schema, then compile deployments through the
provider registry. Problems come back as `file:line: where: what` strings; secrets never appear in them.

Compiling never writes the process environment: what the config would export comes back as
`RuntimeConfig.environment_variables`, and the server applies it only once the config was accepted
(so a rejected hot reload changes nothing). In tolerant mode (read-only operator commands) an unset
variable is reported in `unset_env` and replaced by a recognisable placeholder instead of failing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from lmgate.accounting.prices import unit_prices
from lmgate.config.aliases import compile_aliases
from lmgate.config.chains import compile_chains, compile_policy
from lmgate.config.includes import KEY as INCLUDE_KEY
from lmgate.config.includes import Lines, merge_includes
from lmgate.config.inert import NO_EFFECT, inert_keys
from lmgate.config.runtime import RuntimeConfig, UnsupportedDeployment
from lmgate.config.schema import ConfigFile, ModelEntry
from lmgate.core import DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_TIMEOUT_S, Deployment, Timeouts
from lmgate.providers import adapter_for, known_prefixes
from lmgate.providers.unsupported import unservable
from lmgate.routing.error_classes import FAILS_SUFFIX, RETRY_SUFFIX, compile_class_policy
from lmgate.routing.privacy import with_policy

ENV_PREFIX = "os.environ/"
UNSET_PLACEHOLDER = "lmgate-unset-"  # tolerant mode: the value an unset variable resolves to, + its name
DEFAULT_CONFIG_NAME = "default.yaml"

# OpenAI request parameters that litellm_params may carry as per-deployment defaults.
REQUEST_DEFAULT_KEYS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "seed",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "response_format",
        "reasoning_effort",
        "n",
        "logit_bias",
        "user",
    }
)
# LiteLLM keys that may sit in litellm_params but belong to model_info in lmgate.
COST_KEYS = ("input_cost_per_token", "output_cost_per_token")

Path_ = tuple[str | int, ...]


class ConfigError(Exception):
    def __init__(
        self, errors: list[str], warnings: list[str] | None = None, unset_env: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors
        self.warnings = warnings or []
        self.unset_env = unset_env or {}  # unset variable -> the places that named it (errors unless tolerant)


class _Environment:
    """The variables one compile reads: the caller's mapping overlaid with the config's own exports."""

    def __init__(self, base: Mapping[str, str], exports: dict[str, str], tolerant: bool) -> None:
        self.base = base
        self.exports = exports
        self.tolerant = tolerant
        self.unset: dict[str, list[str]] = {}

    def get(self, name: str) -> str | None:
        value = self.exports.get(name)
        return value if value is not None else self.base.get(name)

    def reference(self, name: str, problem: str, errors: list[str]) -> str | None:
        """An `os.environ/NAME` value: the variable, else an error (or, tolerant, a placeholder)."""
        value = self.get(name)
        if value is not None:
            return value
        self.unset.setdefault(name, []).append(problem)
        if self.tolerant:
            return UNSET_PLACEHOLDER + name
        errors.append(problem)
        return None


def _exports(data: dict[str, Any]) -> dict[str, str]:
    """`environment_variables` with literal values (references to other variables are not exported)."""
    declared = data.get("environment_variables") or {}
    if not isinstance(declared, dict):
        return {}
    return {
        str(k): str(v)
        for k, v in declared.items()
        if v is not None and not (isinstance(v, str) and v.startswith(ENV_PREFIX))
    }


@dataclass(slots=True)
class _Doc:
    name: str
    data: dict[str, Any]
    lines: Lines  # path -> (file, line); `include:`d values point into their own file

    def where(self, path: Path_) -> str:
        """`file:line` for the deepest part of `path` that exists in the file."""
        for end in range(len(path), -1, -1):
            hit = self.lines.get(tuple(path[:end]))
            if hit is not None:
                return f"{hit[0]}:{hit[1]}"
        return self.name

    def label(self, path: Path_) -> str:
        """A readable location: model_list[3] (cloud-kimi).litellm_params.api_key"""
        out = ""
        for i, part in enumerate(path):
            if isinstance(part, int):
                out += f"[{part}]"
                if path[:i] == ("model_list",):
                    entries = self.data.get("model_list") or []
                    if part < len(entries) and isinstance(entries[part], dict) and entries[part].get("model_name"):
                        out += f" ({entries[part]['model_name']})"
            else:
                out += ("." if out else "") + str(part)
        return out or "(top level)"

    def problem(self, path: Path_, what: str) -> str:
        return f"{self.where(path)}: {self.label(path)}: {what}"


def _line_map(node: yaml.Node, file: str, path: Path_ = ()) -> Iterator[tuple[Path_, tuple[str, int]]]:
    yield path, (file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, str(key.value))
            yield from _line_map(value, file, sub)
            yield sub, (file, key.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _line_map(item, file, (*path, i))


def _parse(text: str, name: str) -> _Doc:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{name}{line}: not valid YAML: {problem}"]) from None
    if data is None:  # an empty file (or one caught mid-write by the watcher) would serve nothing, unguarded
        raise ConfigError([f"{name}:1: the config is empty; it needs at least a model_list"])
    if not isinstance(data, dict):
        raise ConfigError([f"{name}:1: the config must be a mapping with keys such as model_list"])
    lines = dict(_line_map(node, name)) if node is not None else {}
    return _Doc(name, data, lines)


def _parse_part(text: str, name: str) -> tuple[dict[str, Any], Lines]:
    doc = _parse(text, name)
    return doc.data, doc.lines


def _with_includes(doc: _Doc, source: Path | None) -> _Doc:
    """`include:` files merged in (config/includes.py), relative to the config's directory (else the
    working directory); their problems raise at once."""
    if INCLUDE_KEY not in doc.data:
        return doc
    errors: list[str] = []
    base, seen = (source.parent, (source.resolve(),)) if source else (Path.cwd(), ())
    merge_includes(doc.data, doc.lines, doc.name, base, _parse_part, errors, seen)
    if errors:
        raise ConfigError(errors)
    return doc


def _resolve_env(doc: _Doc, value: Any, path: Path_, env: _Environment, errors: list[str]) -> Any:
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        var = value[len(ENV_PREFIX) :].strip()
        return env.reference(var, doc.problem(path, f"environment variable {var} is not set"), errors)
    if isinstance(value, dict):
        return {k: _resolve_env(doc, v, (*path, str(k)), env, errors) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env(doc, v, (*path, i), env, errors) for i, v in enumerate(value)]
    return value


def _unknown_keys(doc: _Doc, model: BaseModel, path: Path_, allowed: frozenset[str] = frozenset()) -> list[str]:
    extra = [k for k in (model.model_extra or {}) if k not in allowed]
    return [doc.problem((*path, k), "unknown key, kept but not used by lmgate") for k in extra]


def _section_warnings(doc: _Doc, cfg: ConfigFile) -> list[str]:
    warnings = _unknown_keys(doc, cfg, (), NO_EFFECT[""])
    for section in ("router_settings", "litellm_settings", "general_settings"):
        warnings += _unknown_keys(doc, getattr(cfg, section), (section,), NO_EFFECT[section])
    return warnings


def _compile_entry(
    doc: _Doc, cfg: ConfigFile, index: int, entry: ModelEntry, env: _Environment, errors: list[str], warnings: list[str]
) -> Deployment | None:
    path: Path_ = ("model_list", index)
    params = entry.litellm_params
    prefix, sep, upstream_model = params.model.partition("/")
    if not sep:
        prefix, upstream_model = "openai", params.model
        warnings.append(doc.problem((*path, "litellm_params", "model"), f"no provider prefix; assuming openai/{params.model}"))
    adapter = adapter_for(prefix)
    if adapter is None:
        errors.append(
            doc.problem(
                (*path, "litellm_params", "model"),
                f"unknown provider '{prefix}' (known: {', '.join(known_prefixes())})",
            )
        )
        return None
    if not upstream_model:
        errors.append(doc.problem((*path, "litellm_params", "model"), "the upstream model name after the slash is empty"))
        return None

    api_base = params.api_base or adapter.default_api_base(prefix)
    if not api_base:
        errors.append(doc.problem((*path, "litellm_params"), f"provider '{prefix}' needs an api_base"))
        return None
    api_base, note = adapter.normalise_api_base(prefix, api_base)
    if note and params.api_base:
        warnings.append(doc.problem((*path, "litellm_params", "api_base"), f"normalised to {api_base}: {note}"))

    api_key = params.api_key.get_secret_value() if params.api_key else None
    if api_key is None and (key_env := adapter.api_key_env(prefix, api_base)):
        api_key = env.get(key_env)

    extras = dict(params.model_extra or {})
    provider_params = {k: extras.pop(k) for k in list(extras) if k in adapter.param_keys}
    for key, var in adapter.param_env.items():
        if provider_params.get(key) is None and (value := env.get(var)):
            provider_params[key] = value
    request_defaults = {k: extras.pop(k) for k in list(extras) if k in REQUEST_DEFAULT_KEYS}
    for key in COST_KEYS:
        if key in extras and getattr(entry.model_info, key) is None:
            setattr(entry.model_info, key, extras.pop(key))
    warnings += [
        doc.problem((*path, "litellm_params", k), "unknown key, kept but not used by lmgate")
        for k in extras
        if k not in NO_EFFECT["litellm_params"]
    ]

    rs = cfg.router_settings
    drop = params.drop_params if params.drop_params is not None else cfg.litellm_settings.drop_params
    drop_keys = (adapter.unsupported_params(prefix) if drop else frozenset()) | frozenset(params.additional_drop_params or ())
    return Deployment(
        alias=entry.model_name,
        name=entry.model_info.id or entry.model_name,
        provider=prefix,
        upstream_model=upstream_model,
        api_base=api_base,
        api_key=api_key,
        adapter=adapter,
        timeout=params.timeout or rs.timeout or cfg.litellm_settings.request_timeout or DEFAULT_TIMEOUT_S,
        stream_timeout=params.stream_timeout or rs.stream_timeout,
        connect_timeout=params.connect_timeout or rs.connect_timeout or DEFAULT_CONNECT_TIMEOUT_S,
        max_retries=params.max_retries,
        rpm=params.rpm,
        tpm=params.tpm,
        rpd=params.rpd,
        max_parallel=params.max_parallel_requests,
        drop_keys=drop_keys,
        weight=params.weight if params.weight is not None else float(params.rpm or 1),
        extra_headers=dict(params.extra_headers),
        organization=params.organization,
        info=entry.model_info,
        params=provider_params,
        request_defaults=request_defaults,
    )


def prepare(d: Deployment) -> Deployment:
    """The deployment with what the request path reads prepared once: headers, timeouts, prices, data policy."""
    return with_policy(
        replace(
            d,
            headers=d.adapter.headers(d),
            timeouts=Timeouts.of(d.timeout, d.stream_timeout, d.connect_timeout),
            prices=unit_prices(d),
            zero_cost=d.adapter.zero_cost(d.provider, d.api_base, d.upstream_model),
        )
    )


def _check_strict_aliases(cfg: ConfigFile, aliases: dict[str, list[Deployment]], doc: _Doc, errors: list[str]) -> None:
    for i, name in enumerate(cfg.router_settings.strict_aliases or ()):
        if name not in aliases and name not in (cfg.router_settings.model_group_alias or {}):
            errors.append(doc.problem(("router_settings", "strict_aliases", i), f"'{name}' is not a model_name of model_list"))


def _named(deployments: list[Deployment], doc: _Doc, errors: list[str]) -> list[Deployment]:
    """Deployments sharing an alias get `alias#n` names unless model_info.id names them."""
    count: dict[str, int] = {}
    for d in deployments:
        count[d.alias] = count.get(d.alias, 0) + 1
    seen: set[str] = set()
    index: dict[str, int] = {}
    out = []
    for d in deployments:
        index[d.alias] = n = index.get(d.alias, 0) + 1
        if count[d.alias] > 1 and not (d.info and d.info.id):
            d = replace(d, name=f"{d.alias}#{n}")
        if d.name in seen:
            errors.append(f"{doc.name}: deployment name '{d.name}' is used twice (model_info.id must be unique)")
        seen.add(d.name)
        out.append(d)
    return out


def compile_config(
    text: str,
    name: str,
    source: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    tolerant: bool = False,
) -> RuntimeConfig:
    """Compile config text against `env` (default: a copy of os.environ); never writes the environment.

    `tolerant`: unset `os.environ/` variables are collected in `unset_env` (and resolve to
    UNSET_PLACEHOLDER + name) instead of being errors; for commands that only read a config.
    """
    doc = _with_includes(_parse(text, name), source)
    errors: list[str] = []
    environment = _Environment(dict(os.environ) if env is None else env, _exports(doc.data), tolerant)
    resolved = _resolve_env(doc, doc.data, (), environment, errors)
    try:
        cfg = ConfigFile.model_validate(resolved)
    except ValidationError as exc:
        for err in exc.errors():
            errors.append(doc.problem(tuple(err["loc"]), err["msg"]))
        raise ConfigError(errors, unset_env=environment.unset) from None
    warnings = _section_warnings(doc, cfg)
    deployments: list[Deployment] = []
    unsupported: list[UnsupportedDeployment] = []
    for index, entry in enumerate(cfg.model_list):
        if (skip := unservable(entry.litellm_params.model)) is not None:
            at = ("model_list", index, "litellm_params", "model")
            provider, why = skip
            unsupported.append(UnsupportedDeployment(entry.model_name, provider, entry.litellm_params.model, doc.where(at), why))
            warnings.append(doc.problem(at, f"{why}; this deployment is never routed to"))
            continue
        dep = _compile_entry(doc, cfg, index, entry, environment, errors, warnings)
        if dep is not None:
            deployments.append(dep)
    deployments = [prepare(d) for d in _named(deployments, doc, errors)]
    aliases: dict[str, list[Deployment]] = {}
    for d in deployments:
        aliases.setdefault(d.alias, []).append(d)
    unserved = frozenset(u.alias for u in unsupported) - aliases.keys()
    policy = compile_policy(cfg)
    policy = replace(
        policy,
        retry_by_class=compile_class_policy(cfg.router_settings.retry_policy, RETRY_SUFFIX, "retry_policy", doc.problem, errors),
        fails_by_class=compile_class_policy(
            cfg.router_settings.allowed_fails_policy, FAILS_SUFFIX, "allowed_fails_policy", doc.problem, errors
        ),
    )
    chains = compile_chains(cfg, aliases, policy, doc.problem, errors, unserved)
    names = compile_aliases(cfg.router_settings.model_group_alias, aliases, unserved, doc.problem, errors)
    _check_strict_aliases(cfg, aliases, doc, errors)
    if errors:
        raise ConfigError(errors, warnings, environment.unset)
    return RuntimeConfig(
        source=source,
        file=cfg,
        deployments=deployments,
        aliases=aliases,
        warnings=warnings,
        loaded_at=int(time.time()),
        policy=policy,
        chains=chains,
        environment_variables=environment.exports,
        unset_env=environment.unset,
        unsupported=unsupported,
        names=names,
        inert=[doc.problem(path, what) for path, what in inert_keys(doc.data)],
    )


def default_config_text() -> str:
    return resources.files("lmgate.config").joinpath(DEFAULT_CONFIG_NAME).read_text()


def load_config(
    path: str | Path | None, *, env: Mapping[str, str] | None = None, tolerant: bool = False
) -> RuntimeConfig:
    """Load `path`, or the embedded default config (mock models, no outside service) when None."""
    if path is None:
        return compile_config(default_config_text(), f"<embedded {DEFAULT_CONFIG_NAME}>", env=env, tolerant=tolerant)
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read the config file: {exc.strerror or exc}"]) from None
    return compile_config(text, str(p), source=p, env=env, tolerant=tolerant)


__all__ = [
    "ConfigError",
    "compile_config",
    "load_config",
    "default_config_text",
    "prepare",
    "DEFAULT_TIMEOUT_S",
    "UNSET_PLACEHOLDER",
]
