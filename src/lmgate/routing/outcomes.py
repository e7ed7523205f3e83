"""What to do after a failed attempt (ARCHITECTURE.md section 5), and how long to wait before a retry."""

from __future__ import annotations

import enum
import random
import re

from lmgate.config.chains import RoutingPolicy
from lmgate.errors import UpstreamConnectFailed, UpstreamError, UpstreamStatus


class Verdict(enum.Enum):
    RETRY = "retry"  # may heal: retry this deployment (backoff), then the next candidate
    NEXT = "next"  # try the next candidate without retrying this one
    COOL_NOW = "cool-now"  # our key or model name is wrong there: cool down at once, next candidate
    FATAL = "fatal"  # the client's request is at fault: answer with this error, no fallback
    CONTEXT = "context-window"  # prompt too long: only context_window_fallbacks may help
    CONTENT = "content-policy"  # refused by a content filter: only content_policy_fallbacks may help


_CONTEXT = re.compile(
    r"context[ _-]?(length|window)|maximum context|too many tokens|prompt is too long|input is too long"
    r"|reduce the length|exceeds? the (model'?s? )?(max|context)",
    re.IGNORECASE,
)
_CONTENT = re.compile(
    r"content[ _-]?(policy|management|filter)|safety system|responsible ?ai|flagged by", re.IGNORECASE
)


def classify(exc: UpstreamError) -> Verdict:
    if isinstance(exc, UpstreamConnectFailed):
        return Verdict.NEXT
    if not isinstance(exc, UpstreamStatus):
        return Verdict.RETRY  # timeouts, resets, garbage bodies
    status = exc.status
    if status in (400, 413, 422):
        if _CONTEXT.search(exc.message):
            return Verdict.CONTEXT
        if _CONTENT.search(exc.message):
            return Verdict.CONTENT
        return Verdict.FATAL
    if status in (401, 403, 404):
        return Verdict.COOL_NOW
    if status in (408, 429) or status >= 500:
        return Verdict.RETRY
    return Verdict.NEXT


def backoff_delay(round_: int, retry_after: float | None, policy: RoutingPolicy, rng: random.Random) -> float:
    """Seconds before retry round `round_` (1, 2, ...): the upstream's Retry-After when it gave one,
    else exponential backoff with jitter (between half and all of base * 2^(round-1), capped)."""
    if retry_after is not None:
        return min(retry_after, policy.backoff_max)
    step = min(policy.backoff_max, policy.backoff_base * 2 ** (round_ - 1))
    return step / 2 + rng.random() * step / 2
