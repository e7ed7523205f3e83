"""What each deployment serves: `model_info.mode` from the config, and what upstreams said they do not.

Capability is not health. A deployment that answered "I do not serve this endpoint" (a chat model asked
for embeddings) did nothing wrong: it never counts toward `allowed_fails` or a cooldown. The router
remembers it per (deployment, endpoint) for an hour, or until the next config reload (a new `Router`
starts with an empty memory), and skips that deployment for that endpoint meanwhile; GET /health shows it.

Modes: an embedding request is only answered by embedding deployments. The requested alias's own
deployments may leave `model_info.mode` unset (the upstream then says whether it embeds); a fallback
must declare `mode: embedding` to answer embeddings. Chat and completion requests never go to a
deployment whose mode is not a generation mode.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lmgate.core import Deployment, Endpoint, GatewayRequest
from lmgate.errors import GatewayError, UnsupportedEndpoint

if TYPE_CHECKING:
    from lmgate.routing.trace import RouteTrace

REMEMBER_S = 3600.0
GENERATION_MODES = frozenset({"chat", "completion", "responses"})  # LiteLLM's modes that generate text
ENDPOINT_MODES: dict[str, frozenset[str]] = {
    "chat": GENERATION_MODES,
    "completion": GENERATION_MODES,
    "embedding": frozenset({"embedding"}),
}
# How an endpoint is named to clients in errors.
ENDPOINT_LABELS = {"chat": "chat completions", "completion": "text completions", "embedding": "embeddings"}


def declared_mode(d: Deployment) -> str | None:
    return d.info.mode if d.info is not None and d.info.mode else None


def serves_mode(d: Deployment, endpoint: str, requested: bool) -> bool:
    """Whether `d` may answer `endpoint` by its config: its declared mode fits; an undeclared mode fits
    generation endpoints always, and embeddings only on the alias the client asked for."""
    mode = declared_mode(d)
    wanted = ENDPOINT_MODES.get(endpoint)
    if wanted is None:  # an endpoint this table does not know (a protocol added later): no opinion
        return True
    if mode is None:
        return requested or endpoint != "embedding"
    return mode in wanted


@dataclass(slots=True, frozen=True)
class Unsupported:
    reason: str  # the upstream's own words (secrets scrubbed)
    until: float  # monotonic deadline


class CapabilityMemory:
    """(deployment name, endpoint) -> what the upstream said, until the deadline. One per `Router`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, remember_s: float = REMEMBER_S) -> None:
        self._clock = clock
        self._remember_s = remember_s
        self._known: dict[tuple[str, str], Unsupported] = {}

    def __bool__(self) -> bool:
        return bool(self._known)

    def remember(self, name: str, endpoint: Endpoint | str, reason: str) -> None:
        self._known[(name, endpoint)] = Unsupported(reason[:300], self._clock() + self._remember_s)

    def unsupported(self, name: str, endpoint: str) -> Unsupported | None:
        entry = self._known.get((name, endpoint))
        if entry is not None and entry.until <= self._clock():
            del self._known[(name, endpoint)]
            return None
        return entry

    def of(self, name: str) -> dict[str, tuple[float, str]]:
        """endpoint -> (seconds left, reason) for one deployment (for /health)."""
        now = self._clock()
        return {
            ep: (entry.until - now, entry.reason)
            for (dep, ep), entry in list(self._known.items())
            if dep == name and entry.until > now
        }


def cannot_serve(
    aliases: dict[str, list[Deployment]], memory: CapabilityMemory, request: GatewayRequest, trace: RouteTrace,
    alias: str,
) -> GatewayError:
    """The answer when no candidate serves the request: a 400 naming the alias, the endpoint, why, and
    the aliases that would serve it; or, when only features were lacking, the model's own 400."""
    if trace.lacking is not None and not trace.unsupported:
        return trace.lacking
    endpoint = request.endpoint
    label = ENDPOINT_LABELS.get(endpoint, endpoint)
    if trace.unsupported:
        why = "; ".join(dict.fromkeys(trace.unsupported))
    else:
        modes = sorted({declared_mode(d) or "chat" for d in aliases.get(alias, ())})
        why = f"its deployments have model_info.mode {', '.join(modes)}"
    strict = endpoint == "embedding"  # only declared embedding deployments are named for embeddings

    def serves(d: Deployment) -> bool:
        return serves_mode(d, endpoint, not strict) and memory.unsupported(d.name, endpoint) is None

    servers = [a for a, deps in aliases.items() if a != alias and any(serves(d) for d in deps)]
    if servers:
        hint = f"models that serve {label}: {', '.join(servers[:10])}"
    else:
        hint = f"no model of this gateway is configured for {label}" + (" (model_info.mode: embedding)" if strict else "")
    return UnsupportedEndpoint(f"model '{alias}' and its fallbacks do not serve {label} ({why}); {hint}", param="model")
