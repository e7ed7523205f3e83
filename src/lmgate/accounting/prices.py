"""Cost per request: `model_info` prices first, then a small table of common paid models.

Upstreams their provider calls zero-cost (local and self-hosted servers, OpenRouter `:free` models)
cost 0 unless `model_info` says otherwise; Ollama Cloud is billed, so it is priced by `model_info`. Table figures are USD per token from the providers' public price pages
(standard tier, no batch or cache discounts); override them in `model_info` when they change.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lmgate.core import Deployment

M = 1e-6  # prices below are quoted per million tokens

PRICES: dict[str, tuple[float, float]] = {
    # OpenAI
    "gpt-4o": (2.50 * M, 10.00 * M),
    "gpt-4o-mini": (0.15 * M, 0.60 * M),
    "gpt-4.1": (2.00 * M, 8.00 * M),
    "gpt-4.1-mini": (0.40 * M, 1.60 * M),
    "gpt-4.1-nano": (0.10 * M, 0.40 * M),
    "o3-mini": (1.10 * M, 4.40 * M),
    "o4-mini": (1.10 * M, 4.40 * M),
    "text-embedding-3-small": (0.02 * M, 0.0),
    "text-embedding-3-large": (0.13 * M, 0.0),
    # Anthropic
    "claude-sonnet-4": (3.00 * M, 15.00 * M),
    "claude-opus-4": (15.00 * M, 75.00 * M),
    "claude-3-5-haiku": (0.80 * M, 4.00 * M),
    # Groq
    "llama-3.3-70b-versatile": (0.59 * M, 0.79 * M),
    "llama-3.1-8b-instant": (0.05 * M, 0.08 * M),
    # Google
    "gemini-2.5-pro": (1.25 * M, 10.00 * M),
    "gemini-2.5-flash": (0.30 * M, 2.50 * M),
    "gemini-2.0-flash": (0.10 * M, 0.40 * M),
    # Mistral
    "mistral-small-latest": (0.10 * M, 0.30 * M),
    "mistral-large-latest": (2.00 * M, 6.00 * M),
    # DeepSeek
    "deepseek-chat": (0.27 * M, 1.10 * M),
    "deepseek-reasoner": (0.55 * M, 2.19 * M),
}

_DATED = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")


def unit_prices(deployment: Deployment) -> tuple[float, float]:
    """(input USD/token, output USD/token) for a deployment: model_info, else free when the provider says
    the upstream costs nothing, else the table. Resolved once per config load (Deployment.prices)."""
    info = deployment.info
    if info and (info.input_cost_per_token is not None or info.output_cost_per_token is not None):
        return info.input_cost_per_token or 0.0, info.output_cost_per_token or 0.0
    d = deployment
    if d.adapter.zero_cost(d.provider, d.api_base, d.upstream_model):
        return 0.0, 0.0
    name = deployment.upstream_model.rsplit("/", 1)[-1]
    return PRICES.get(name) or PRICES.get(_DATED.sub("", name)) or (0.0, 0.0)  # unknown: 0


def charged(deployment: Deployment) -> bool:
    """Whether a deployment's answers count against money budgets: not zero-cost (local, self-hosted,
    a free tier) and priced above zero. Budgets never block the others."""
    return not deployment.zero_cost and deployment.prices != (0.0, 0.0)
