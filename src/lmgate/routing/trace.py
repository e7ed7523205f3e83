"""The route a request took: each attempt or skip, its outcome and time (x-lmgate-route, request log)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lmgate.errors import UpstreamError

COOLDOWN = "cooldown"
WAITED = "waited"  # the request waited this long for a cooling deployment to come back (wait.py)
QUOTA_PREFIX = "quota-"
BUSY = "busy"  # at its max_parallel_requests
UNSUPPORTED = "unsupported"  # does not serve the endpoint (capability, not health)
OVER_BUDGET = "over_budget"  # a paid deployment, and the key's money budget cannot cover the request
POLICY_PREFIX = "policy-"  # a strict request may not reach it (its data policy: policy-trains, ...)


def is_skip(outcome: str) -> bool:
    """A candidate passed over (cooling down, over quota, busy, waited for) or one that does not serve
    the endpoint: never an upstream failure."""
    return outcome in (COOLDOWN, BUSY, UNSUPPORTED, WAITED, OVER_BUDGET) or outcome.startswith((QUOTA_PREFIX, POLICY_PREFIX))


@dataclass(slots=True)
class RouteAttempt:
    deployment: str
    outcome: str  # ok | a status code | timeout | unreachable | bad-response | cooldown | quota-rpm | busy | waited | policy-trains ...
    seconds: float | None = None  # None for candidates skipped before sending

    def render(self) -> str:
        """Always three fields, so names with colons (`gpt-oss:120b`) split from the right."""
        s = self.seconds
        took = "0s" if s is None else f"{s:.1f}s" if s >= 0.1 else f"{s * 1000:.0f}ms"
        return f"{self.deployment}:{self.outcome}:{took}"


@dataclass(slots=True)
class RouteTrace:
    attempts: list[RouteAttempt] = field(default_factory=list)
    cooldown_wait: float | None = None  # shortest remaining cooldown among skipped candidates
    quota_wait: float | None = None  # shortest wait until a skipped candidate's quota frees up
    busy: bool = False  # a candidate was skipped at its max_parallel_requests
    unsupported: list[str] = field(default_factory=list)  # why candidates do not serve the endpoint
    lacking: UpstreamError | None = None  # the first "model lacks a feature this request uses" refusal
    waited: float = 0.0  # seconds spent waiting out cooldowns (router_settings.wait_for_cooldown_s)
    over_budget: bool = False  # a paid candidate was skipped: the key's budget cannot pay (routing/budget.py)
    policy_refused: list[tuple[str, str]] = field(default_factory=list)  # (deployment, data policy) a strict request skipped

    def add(self, deployment: str, outcome: str, seconds: float | None = None) -> None:
        self.attempts.append(RouteAttempt(deployment, outcome, seconds))

    def skip_cooldown(self, deployment: str, remaining: float) -> None:
        self.add(deployment, COOLDOWN)
        self.cooldown_wait = remaining if self.cooldown_wait is None else min(self.cooldown_wait, remaining)

    def skip_quota(self, deployment: str, limit: str, wait: float) -> None:
        self.add(deployment, f"{QUOTA_PREFIX}{limit}")
        self.quota_wait = wait if self.quota_wait is None else min(self.quota_wait, wait)

    def skip_busy(self, deployment: str) -> None:
        self.add(deployment, BUSY)
        self.busy = True

    def skip_budget(self, deployment: str) -> None:
        self.add(deployment, OVER_BUDGET)
        self.over_budget = True
    def skip_policy(self, deployment: str, policy: str) -> None:
        self.add(deployment, POLICY_PREFIX + policy)
        self.policy_refused.append((deployment, policy))

    def skip_unsupported(self, deployment: str, reason: str) -> None:
        self.add(deployment, UNSUPPORTED)
        self.unsupported.append(reason)

    @property
    def eventful(self) -> bool:
        """More than one clean attempt: worth a line in the log."""
        return len(self.attempts) != 1 or self.attempts[0].outcome != "ok"

    def header(self) -> str:
        """`cloud-kimi:503:0.4s>vllm-qwen:ok:1.2s`"""
        return ">".join(a.render() for a in self.attempts)
