"""The provider registry: the ONLY list mapping a `provider/` prefix to its adapter.

To add a provider, write one module with a `Provider` subclass and add it to `ADAPTERS`.
"""

from __future__ import annotations

from lmgate.providers.anthropic import Anthropic
from lmgate.providers.azure import Azure
from lmgate.providers.base import Provider
from lmgate.providers.mock import Mock
from lmgate.providers.ollama import Ollama
from lmgate.providers.openai_compat import OpenAICompatible

ADAPTERS: tuple[Provider, ...] = (OpenAICompatible(), Azure(), Ollama(), Anthropic(), Mock())

REGISTRY: dict[str, Provider] = {prefix: adapter for adapter in ADAPTERS for prefix in adapter.prefixes}


def adapter_for(prefix: str) -> Provider | None:
    return REGISTRY.get(prefix)


def known_prefixes() -> list[str]:
    return sorted(REGISTRY)
