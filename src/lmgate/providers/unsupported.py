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


def not_supported(provider: str) -> str:
    return f"provider '{provider}' is not supported by lmgate yet"
