"""Providers LiteLLM knows and lmgate does not serve yet: their deployments load and are reported,
never routed to (see config/loader.py and RuntimeConfig.unsupported)."""

from __future__ import annotations

from lmgate.providers import adapter_for
from lmgate.providers.litellm_names import LITELLM_PROVIDERS


def unsupported_prefix(model: str) -> str | None:
    """The provider prefix of `litellm_params.model` when LiteLLM knows it and lmgate has no adapter."""
    prefix, sep, _ = model.partition("/")
    if not sep or adapter_for(prefix) is not None:
        return None
    return prefix if prefix in LITELLM_PROVIDERS else None


def unservable(model: str) -> tuple[str, str] | None:
    """(provider, why) for a `litellm_params.model` lmgate loads but never routes to: a provider it does
    not support yet, or one it does with no model after the slash (LiteLLM's image-generation
    entries such as `azure/`)."""
    prefix = unsupported_prefix(model)
    if prefix is not None:
        return prefix, not_supported(prefix)
    head, sep, rest = model.partition("/")
    if sep and not rest.strip() and adapter_for(head) is not None:
        return head, f"no model after '{head}/' (LiteLLM uses such entries for image generation, which lmgate does not serve)"
    return None


def not_supported(provider: str) -> str:
    return f"provider '{provider}' is not supported by lmgate yet"
