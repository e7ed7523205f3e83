"""Usage limits an upstream announces without a reset time: Ollama Cloud's session and weekly limits.

Ollama Cloud answers 429 "you (<user>) have reached your session usage limit, upgrade for higher
limits" and "you've reached your weekly usage limit" (PROTOCOLS.md 1.11; 402 has been seen for the same).
Retrying within the request, or on the next one, only earns the same answer: the deployment is cooled
down at once for `router_settings.ollama_cloud_cooldowns.<kind>` seconds (defaults: session 1 h, weekly
24 h), with the kind in its cooldown reason, which GET /health shows.
"""

from __future__ import annotations

import re

from lmgate.config.schema import UsageLimitCooldowns
from lmgate.errors import UpstreamError, UpstreamStatus

KINDS = ("session", "weekly")
_KIND = re.compile(r"\b(session|weekly) usage limit", re.IGNORECASE)
_REASON = re.compile(r"^ollama-cloud (session|weekly) usage limit")


def usage_limit(exc: UpstreamError) -> str | None:
    """`session` or `weekly` when `exc` is such an answer, else None."""
    if not isinstance(exc, UpstreamStatus) or exc.status not in (402, 429):
        return None
    found = _KIND.search(exc.message)
    return found.group(1).lower() if found else None


def reason(kind: str, exc: UpstreamError) -> str:
    return f"ollama-cloud {kind} usage limit ({exc.outcome})"


def kind_of(cooldown_reason: str) -> str | None:
    """The usage-limit kind of a cooldown reason (for GET /health), else None."""
    found = _REASON.match(cooldown_reason)
    return found.group(1) if found else None


def durations(configured: UsageLimitCooldowns | None) -> dict[str, float]:
    c = configured or UsageLimitCooldowns()
    return {"session": c.session, "weekly": c.weekly}
