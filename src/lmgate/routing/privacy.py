"""Data-policy routing: a strict request only reaches deployments that keep nothing of it.

Each deployment's `data_policy` is settled once, when the config is compiled (config/loader.prepare):
`model_info.data_policy` when set (`none | retains | trains`); else `none` for an upstream on this
machine or a private network whose model stays there (the provider says: an Ollama `-cloud` model or
OpenRouter does not); else `unknown`.

A request is strict when its virtual key or the key's team says `privacy: strict` (the field, set by
the admin API's /key/generate, /key/update, /team/new and /team/update, or `metadata.privacy`), when
it sends `x-lmgate-privacy: strict`, or when the alias it names is in `router_settings.strict_aliases`;
then for its whole chain. A strict request skips every deployment whose policy is not `none`, in the alias's own deployments and in every fallback, recorded in the route
trace as `policy-<policy>`; when nothing was left to try it fails with 403 naming the policy (a 403, so
SDKs and agents do not retry). Upstreams that can enforce it themselves are told too (OpenRouter:
`provider.data_collection: deny`, providers/openai_compat.py).

Cost on the request path: a non-strict request pays one boolean test; a strict one a dict lookup per
alias (the strict view of each candidate list is computed once per config).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from yarl import URL

from lmgate.errors import BadRequest, DataPolicyRefused

if TYPE_CHECKING:
    from lmgate.core import Deployment
    from lmgate.routing.trace import RouteTrace

NONE = "none"
UNKNOWN = "unknown"
POLICIES = ("none", "retains", "trains")
PRIVACY_HEADER = "x-lmgate-privacy"
STRICT = "strict"
STANDARD = "standard"
DEFAULT_PRIVACY = "default"  # a key's or team's `privacy` when not strict (stored as null)
# Host names that never leave the operator's own networks.
_LOCAL_NAMES = frozenset({"localhost", "host.docker.internal"})
_LOCAL_SUFFIXES = (".localhost", ".local", ".lan", ".internal", ".home.arpa", ".localdomain", ".svc", ".cluster.local")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, also Tailscale's tailnet addresses


def private_host(api_base: str) -> bool:
    """Whether `api_base` points at this machine or a private network (loopback, RFC 1918, link-local,
    unique-local IPv6, CGNAT/tailnet, a single-label or `.local`/`.internal`/`.svc` name)."""
    host = (URL(api_base).host or "").lower().rstrip(".")
    if not host:
        return False
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host in _LOCAL_NAMES or "." not in host or host.endswith(_LOCAL_SUFFIXES)
    return addr.is_private or addr.is_loopback or addr.is_link_local or (addr.version == 4 and addr in _CGNAT)


def stays_local(d: Deployment) -> bool:
    """Prompts to `d` stay on this machine or a private network: built in, or at a private address
    with a model its provider does not relay elsewhere (an Ollama `-cloud` model is relayed)."""
    adapter = d.adapter
    if not adapter.needs_network:
        return True
    return not adapter.always_remote(d.provider, d.upstream_model) and private_host(d.api_base)


def with_policy(d: Deployment) -> Deployment:
    """`d` with its data policy settled (once per config, and per wildcard variant: the requested name
    may be a `-cloud` model): `model_info.data_policy`, else `none` when local, else `unknown`."""
    configured = d.info.data_policy if d.info is not None else None
    policy = configured or (NONE if stays_local(d) else UNKNOWN)
    if policy == d.data_policy and d.private == (policy == NONE):
        return d
    return replace(d, data_policy=policy, private=policy == NONE)


def header_strict(value: str | None) -> bool:
    """`x-lmgate-privacy`: `strict` asks for strict privacy, `standard` (or absent) for none; a header
    only ever tightens what the key says. Anything else is the client's mistake (400)."""
    if value is None:
        return False
    v = value.strip().lower()
    if v == STRICT:
        return True
    if v in (STANDARD, ""):
        return False
    raise BadRequest(f"header {PRIVACY_HEADER} must be '{STRICT}' or '{STANDARD}', not '{value[:40]}'", param=PRIVACY_HEADER)


def record_strict(*records: Mapping[str, Any] | None) -> bool:
    """A key's or team's row asks for strict privacy: its `privacy` field or `metadata.privacy`."""
    for row in records:
        if row is None:
            continue
        meta = row.get("metadata")
        values = (row.get("privacy"), meta.get("privacy") if isinstance(meta, dict) else None)
        if any(isinstance(v, str) and v.strip().lower() == STRICT for v in values):
            return True
    return False


def strict_aliases(names: Iterable[str] | None) -> frozenset[str]:
    return frozenset(names or ())


class PrivacyFilter:
    """The strict view of the router's candidate lists: computed once per list, one per `Router`."""

    def __init__(self) -> None:
        # id(candidate list) -> (that list, kept, cumulative weights of kept, refused)
        self._views: dict[int, tuple[list[Deployment], list[Deployment], list[float], tuple[Deployment, ...]]] = {}

    def keep(self, serving: list[Deployment], trace: RouteTrace) -> tuple[list[Deployment], list[float]]:
        """The deployments of `serving` a strict request may reach; the others go to the trace."""
        view = self._views.get(id(serving))
        if view is None or view[0] is not serving:
            kept = [d for d in serving if d.private]
            refused = tuple(d for d in serving if not d.private)
            view = self._views[id(serving)] = (serving, kept, list(accumulate(d.weight for d in kept)), refused)
        for d in view[3]:
            trace.skip_policy(d.name, d.data_policy)
        return view[1], view[2]


def still_private(deps: Iterable[Deployment], trace: RouteTrace) -> Iterator[Deployment]:
    """Wildcard variants a strict request may reach (a variant's policy depends on the requested name)."""
    for d in deps:
        if d.private:
            yield d
        else:
            trace.skip_policy(d.name, d.data_policy)


def refused(alias: str, trace: RouteTrace) -> DataPolicyRefused:
    """The 403 when a strict request found no deployment it may reach."""
    named = ", ".join(f"{name} ({policy})" for name, policy in dict.fromkeys(trace.policy_refused))
    return DataPolicyRefused(
        f"this request asks for strict data privacy (the key's or team's privacy: strict, {PRIVACY_HEADER}: strict "
        f"or router_settings.strict_aliases) and no deployment for '{alias}' or its fallbacks may take it: "
        f"{named or 'none left'} may keep or train on prompts; only deployments with data_policy none (local, "
        "or model_info.data_policy: none) serve strict requests",
        param="model",
    )
