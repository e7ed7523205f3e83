"""One record per proxied request: filled in along the request path, emitted once at the end."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from time import perf_counter
from time import time as wall_clock
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from collections.abc import Mapping

    from lmgate.core import Deployment, Usage
    from lmgate.routing.trace import RouteTrace


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
        self.base = int.from_bytes(os.urandom(10), "big") << 48  # 80 random bits, then a 48-bit counter
        self.next = itertools.count().__next__

    def format(self, seq: int) -> str:
        return (self.base + seq).to_bytes(16, "big").hex()  # half the time of an f-string with :012x


REQUEST_IDS = _RequestIds()


@dataclass(slots=True)
class Attempt:
    deployment: str
    model_group: str
    provider: str
    outcome: str  # "ok", an HTTP status, "timeout", "unreachable", ...
    seconds: float


@dataclass(init=False, eq=False)
class RequestRecord:
    """One proxied request, filled in along the request path.

    Its public fields, in this order, are the request-log line: orjson serialises the instance
    directly (one C call, no dict built per record) and leaves out the `_`-prefixed working state.
    Not slotted, so orjson reads the instance `__dict__`, which `__init__` fills in field order.
    `request_id`, `route`, tokens and cost are settled in the observer's batch (`settle()`), off the
    request path.
    """

    request_id: str
    client_request_id: str  # the client's own x-request-id, if it sent one
    time: float  # Unix time at the start
    key_alias: str
    team: str  # the virtual key's team (alias, else id); "" without one
    api_key: str  # the virtual key's sha256 hash (LiteLLM's spend-log field; never the key); "" for the master key
    team_id: str
    inbound: str  # client protocol: openai | ollama | anthropic
    path: str
    requested_model: str
    model_group: str  # alias of the deployment that answered (differs from requested after fallback)
    deployment: str
    provider: str
    upstream_model: str
    route: list[list[Any]]  # [[deployment, outcome, seconds], ...] of every attempt and skip
    status: int
    stream: bool
    prompt_tokens: int
    completion_tokens: int
    cost: float
    latency_s: float
    ttft_s: float | None
    upstream_s: float | None
    error_class: str
    error: str
    content: dict[str, Any] | None  # prompt and completion, only with general_settings.log_content
    # working state, not logged
    _seq: int  # the request id's number
    _t0: float  # perf_counter at the start
    _trace: RouteTrace | None  # the router's, as it was
    _deployments: Mapping[str, Deployment] | None  # to name the alias and provider of each attempt
    _usage: Usage | None  # normalised by the answering provider
    _endpoint: str  # chat | completion | embedding (the GatewayRequest's), for tracing
    _settled: bool  # settle() ran

    def __init__(self, inbound: str, path: str) -> None:
        self.request_id = ""
        self.client_request_id = ""
        self.time = wall_clock()
        self.key_alias = ""
        self.team = ""
        self.api_key = ""
        self.team_id = ""
        self.inbound = inbound
        self.path = path
        self.requested_model = ""
        self.model_group = ""
        self.deployment = ""
        self.provider = ""
        self.upstream_model = ""
        self.route = _NO_ROUTE
        self.status = 0
        self.stream = False
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost = 0.0
        self.latency_s = 0.0
        self.ttft_s = None
        self.upstream_s = None
        self.error_class = ""
        self.error = ""
        self.content = None
        self._seq = REQUEST_IDS.next()
        self._t0 = perf_counter()
        self._trace = None
        self._deployments = None
        self._usage = None
        self._endpoint = "chat"
        self._settled = False

    def settle(self) -> None:
        """Request id, route, tokens and cost: done in the observer's batch, off the request path."""
        self._settled = True
        if not self.request_id:  # answers carry it (x-request-id); failures before routing may not
            self.request_id = REQUEST_IDS.format(self._seq)
        if self._trace is not None:
            self.route = [[a.deployment, a.outcome, a.seconds or 0.0] for a in self._trace.attempts]
        usage = self._usage
        answered_by = self._deployments.get(self.deployment) if usage and self._deployments else None
        if usage is not None and answered_by is not None:
            self.prompt_tokens, self.completion_tokens = usage.input_tokens, usage.output_tokens
            self.cost = answered_by.cost(usage)

    @property
    def attempts(self) -> list[Attempt]:
        """The route with each deployment's alias and provider (built on demand: most requests are one
        clean attempt, and the request log needs only names and outcomes)."""
        lookup = self._deployments or {}
        out = []
        for a in self._trace.attempts if self._trace is not None else ():
            dep = lookup.get(a.deployment)
            out.append(Attempt(a.deployment, dep.alias if dep else "", dep.provider if dep else "", a.outcome, a.seconds or 0.0))
        return out

    def mark_first_byte(self) -> None:
        if self.ttft_s is None:
            self.ttft_s = perf_counter() - self._t0

    def finish(self, status: int) -> None:
        self.status = status
        self.latency_s = perf_counter() - self._t0

    def log_line(self) -> bytes:
        """The request-log line, newline included (settle() first)."""
        return _dumps(self, option=_NEWLINE)


_NO_ROUTE: list[list[Any]] = []  # shared until settle() sets a route: never mutated
_dumps, _NEWLINE = orjson.dumps, orjson.OPT_APPEND_NEWLINE
