"""LiteLLM's error classes for `router_settings.retry_policy` and `allowed_fails_policy`: which class a
failed attempt belongs to, and the per-class numbers those settings give.

    retry_policy:         {TimeoutErrorRetries: 3, RateLimitErrorRetries: 2, ...}
    allowed_fails_policy: {InternalServerErrorAllowedFails: 20, AuthenticationErrorAllowedFails: 1, ...}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lmgate.errors import UpstreamError, UpstreamStatus, UpstreamTimeout

CLASSES = (
    "BadRequestError",
    "AuthenticationError",
    "TimeoutError",
    "RateLimitError",
    "ContentPolicyViolationError",
    "InternalServerError",
)
RETRY_SUFFIX = "Retries"
FAILS_SUFFIX = "AllowedFails"
Problem = Callable[[tuple[str | int, ...], str], str]


def error_class(exc: UpstreamError, content_policy: bool = False) -> str:
    """The LiteLLM class of a failed attempt (`content_policy`: the router judged it a content refusal)."""
    if content_policy:
        return "ContentPolicyViolationError"
    if isinstance(exc, UpstreamTimeout):
        return "TimeoutError"
    if isinstance(exc, UpstreamStatus):
        status = exc.status
        if status in (401, 403):
            return "AuthenticationError"
        if status == 408:
            return "TimeoutError"
        if status == 429:
            return "RateLimitError"
        if 400 <= status < 500:
            return "BadRequestError"
    return "InternalServerError"  # 5xx, connection failures, garbage answers


def compile_class_policy(
    raw: Mapping[str, Any] | None, suffix: str, section: str, problem: Problem, errors: list[str]
) -> dict[str, int]:
    """`{TimeoutErrorRetries: 3}` -> `{"TimeoutError": 3}`; unknown names and bad values are errors."""
    out: dict[str, int] = {}
    for key, value in (raw or {}).items():
        path: tuple[str | int, ...] = ("router_settings", section, str(key))
        name = str(key).removesuffix(suffix)
        if not str(key).endswith(suffix) or name not in CLASSES:
            known = ", ".join(c + suffix for c in CLASSES)
            errors.append(problem(path, f"unknown key (known: {known})"))
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors.append(problem(path, "must be a whole number >= 0"))
        else:
            out[name] = value
    return out
