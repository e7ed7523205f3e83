"""`lmgate init`, step 3: the plan as a commented LiteLLM-style config.yaml.

Written by hand rather than dumped, so every section and alias carries the comment that explains it
(data policy of free models, explicit-only paid models, where a model runs). Scalars are emitted bare
when YAML reads them back as the same string, JSON-quoted otherwise. Keys are only ever written as
`os.environ/VAR` references.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from lmgate.ops.init import Alias, Plan
from lmgate.ops.init_discover import Found
from lmgate.providers import adapter_for

TIER_TITLES = {
    "cloud": "cloud: Ollama Cloud and free hosted models, first in every chain",
    "gpu": "GPU: self-hosted servers with a GPU (vLLM, Ollama with models in VRAM)",
    "cpu": "CPU: Ollama instances without a model in VRAM, the last resort",
    "paid": "paid APIs: explicit-only (model_info.fallback_target: false); a client must name them",
}


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    try:
        bare_ok = text != "" and yaml.safe_load(text) == text and "#" not in text and not text.startswith(("*", "&", "!", "{", "["))
    except yaml.YAMLError:
        bare_ok = False
    return text if bare_ok else orjson.dumps(text).decode()


def _zero_cost(d: Found) -> bool:
    """The registry's fact, except for cloud models a local daemon relays (billed by Ollama Cloud)."""
    adapter = adapter_for(d.prefix)
    base = d.api_base or (adapter.default_api_base(d.prefix) if adapter else None) or ""
    return bool(adapter and adapter.zero_cost(d.prefix, base, d.model)) and (d.tier != "cloud" or d.free)


def _entry(a: Alias, d: Found, several: bool) -> list[str]:
    lines: list[str] = []
    where = "warm (in /api/ps), " if d.loaded else ""
    lines.append(f"  # {where}{'/'.join(a.purposes)}, from {d.instance}")
    if d.note:
        lines.append(f"  # {d.note}")
    if d.moderated is not None and d.free:
        lines.append(f"  # moderated by its provider: {'yes' if d.moderated else 'no'}")
    lines.append(f"  - model_name: {scalar(a.name)}")
    lines.append("    litellm_params:")
    params: dict[str, Any] = {"model": f"{d.prefix}/{d.model}"}
    if d.api_base:
        params["api_base"] = d.api_base
    if d.key_env:
        params["api_key"] = f"os.environ/{d.key_env}"
    for key in ("timeout", "rpm", "rpd"):
        if getattr(d, key) is not None:
            params[key] = getattr(d, key)
    lines += [f"      {k}: {scalar(v)}" for k, v in params.items()]
    info: dict[str, Any] = {}
    if several:
        info["id"] = f"{a.name}@{d.instance.split('://', 1)[-1]}"
    if a.purpose == "embeddings":
        info["mode"] = "embedding"
    if d.context:
        info["max_input_tokens"] = d.context
    if "vision" in a.purposes:
        info["supports_vision"] = True
    if _zero_cost(d):
        info["input_cost_per_token"] = 0
        info["output_cost_per_token"] = 0
    if a.paid:
        info["fallback_target"] = False
    if info:
        lines.append("    model_info:")
        lines += [f"      {k}: {scalar(v)}" for k, v in info.items()]
    return lines


def _chain_comment(plan: Plan) -> list[str]:
    lines = ["# Fallback chains (router_settings.fallbacks), cloud -> GPU -> CPU per purpose:"]
    for purpose, chain in plan.chains.items():
        lines.append(f"#   {purpose + ':':12} {' -> '.join(chain)}")
    if not plan.chains:
        lines.append("#   (none: nothing that chats was found)")
    return lines


def render(plan: Plan, path: str, stamp: str) -> str:
    out = [
        f"# lmgate config written by `lmgate init` on {stamp}; LiteLLM's config.yaml format.",
        "# Keys are read from the environment (os.environ/VAR): export them where `lmgate serve` runs.",
        f"# Check it:  lmgate validate --config {path}   and   lmgate doctor --config {path}",
        "#",
        "# Found:",
    ]
    for s in plan.sources:
        if s.status == "ok":
            out.append(f"#   {s.kind} at {s.url}: {s.models} model(s){f', {s.detail}' if s.detail else ''}")
        elif s.status != "skipped":
            out.append(f"#   {s.kind} at {s.url}: {s.status} ({s.detail})")
    out.append("#")
    if plan.default_chat:
        out.append(f"# Default chat alias: {plan.default_chat} (listed first: apps that take the first of /v1/models pick it).")
    out += _chain_comment(plan)
    out += ["", "model_list:"]
    tier = None
    for a in plan.aliases:
        if a.tier != tier and a.name != plan.default_chat:
            tier = a.tier
            out += ["", f"  # ---- {TIER_TITLES[tier]}"]
        elif a.name == plan.default_chat:
            out += [f"  # ---- the default chat alias ({a.tier})"]
        for d in a.deployments:
            out += _entry(a, d, len(a.deployments) > 1)
    if not plan.aliases:
        out[-1] = "model_list: []"
    out += ["", "router_settings:", "  num_retries: 1  # one retry per deployment for failures that may heal, then the next in the chain"]
    chained = [a for a in plan.aliases if a.fallbacks]
    if chained:
        out.append("  fallbacks:")
        for a in chained:
            out.append(f"    - {scalar(a.name)}: [{', '.join(scalar(n) for n in a.fallbacks)}]  # {a.purpose}")
    embeds = [a for a in plan.aliases if a.purpose == "embeddings"]
    if embeds:
        out.append("  # embedding aliases fall back only to the same model elsewhere: vectors of different models do not mix")
    out += [
        "",
        "# To require a key from every client, uncomment (and export LMGATE_MASTER_KEY):",
        "# general_settings:",
        "#   master_key: os.environ/LMGATE_MASTER_KEY",
        "",
    ]
    return "\n".join(out)
