"""One record per proxied request: filled in along the request path, emitted once at the end."""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lmgate.accounting.prices import cost
from lmgate.accounting.usage import token_counts

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from lmgate.config.runtime import Deployment
    from lmgate.routing.trace import RouteAttempt, RouteTrace


class _RequestIds:
    """32 hex chars, unique across processes and restarts: a random per-process prefix and a counter.

    The request path takes only the next number (a C call); the id is formatted when the record is
    written. No system call per request (a random id per request, or checking the pid, costs one);
    the prefix is drawn again in a forked child (`--workers N`).
    """

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = os.urandom(10).hex()
        self.next = itertools.count().__next__

    def format(self, seq: int) -> str:
        return f"{self.prefix}{seq:012x}"


REQUEST_IDS = _RequestIds()


@dataclass(slots=True)
class Attempt:
    deployment: str
    model_group: str
    provider: str
    outcome: str  # "ok", an HTTP status, "timeout", "unreachable", ...
    seconds: float


class RequestRecord:
    """Filled in along the request path. Not a dataclass: the class attributes below are the
    defaults, so creating one (on every request) stores five values instead of twenty-five."""

    inbound: str  # client protocol: openai | ollama | anthropic
    path: str
    seq: int  # the request id's number (see `request_id`)
    started_at: float  # Unix time
    t0: float  # perf_counter at the start
    requested_model: str = ""
    key_alias: str = ""
    stream: bool = False
    status: int = 0
    deployment: str = ""
    model_group: str = ""  # alias of the deployment that answered (differs from requested after fallback)
    provider: str = ""
    upstream_model: str = ""
    trace: RouteTrace | None = None  # the router's, as it was
    deployments: Mapping[str, Deployment] | None = None  # to name the alias and provider of each attempt
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency_s: float = 0.0
    upstream_s: float | None = None
    usage: dict[str, Any] | None = None  # as the upstream sent it; `settle()` turns it into tokens and cost
    answered_by: Deployment | None = None
    ttft_s: float | None = None
    error_class: str = ""
    error_message: str = ""
    content: dict[str, Any] | None = None

    def __init__(self, inbound: str, path: str) -> None:
        self.inbound = inbound
        self.path = path
        self.seq = REQUEST_IDS.next()
        self.started_at = time.time()
        self.t0 = time.perf_counter()

    @property
    def request_id(self) -> str:
        return REQUEST_IDS.format(self.seq)

    def settle(self) -> None:
        """Tokens and cost from the upstream's usage: done in the observer's batch, off the request path."""
        if self.usage and self.answered_by is not None:
            self.prompt_tokens, self.completion_tokens = token_counts(self.usage)
            self.cost = cost(self.answered_by, self.prompt_tokens, self.completion_tokens)

    @property
    def route(self) -> Sequence[RouteAttempt]:
        return self.trace.attempts if self.trace is not None else ()

    @property
    def attempts(self) -> list[Attempt]:
        """The route with each deployment's alias and provider (built on demand: most requests are one
        clean attempt, and the request log needs only names and outcomes)."""
        lookup = self.deployments or {}
        out = []
        for a in self.route:
            dep = lookup.get(a.deployment)
            out.append(Attempt(a.deployment, dep.alias if dep else "", dep.provider if dep else "", a.outcome, a.seconds or 0.0))
        return out

    def mark_first_byte(self) -> None:
        if self.ttft_s is None:
            self.ttft_s = time.perf_counter() - self.t0

    def finish(self, status: int) -> None:
        self.status = status
        self.latency_s = time.perf_counter() - self.t0

    def as_log(self) -> dict[str, Any]:
        """The JSON line written to the request log (no prompt text unless `content` was set).

        Times are seconds, unrounded (a round() per field per record is not worth its cost)."""
        out: dict[str, Any] = {
            "request_id": self.request_id,
            "time": self.started_at,
            "key_alias": self.key_alias,
            "inbound": self.inbound,
            "path": self.path,
            "requested_model": self.requested_model,
            "model_group": self.model_group,
            "deployment": self.deployment,
            "provider": self.provider,
            "upstream_model": self.upstream_model,
            "route": [[a.deployment, a.outcome, a.seconds or 0.0] for a in self.route],
            "status": self.status,
            "stream": self.stream,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost,
            "latency_s": self.latency_s,
            "ttft_s": self.ttft_s,
            "upstream_s": self.upstream_s,
            "error_class": self.error_class,
        }
        if self.error_message:
            out["error"] = self.error_message
        if self.content is not None:
            out["content"] = self.content
        return out
