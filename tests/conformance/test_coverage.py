"""Every registered provider adapter and inbound protocol has a row in the conformance table."""

from __future__ import annotations

from lmgate.inbound import PROTOCOLS
from lmgate.providers import ADAPTERS
from tests.conformance.clients import CLIENTS
from tests.conformance.upstreams import UPSTREAMS


def protocol_name(protocol: object) -> str:
    """A protocol's name, whether the registry holds modules (NAME) or protocol objects (name)."""
    name = getattr(protocol, "NAME", None) or getattr(protocol, "name", None)
    assert isinstance(name, str), f"{protocol!r} has no name"
    return name


# Landed in the same round as the table, with their own suites (tests/test_anthropic_*.py,
# tests/test_azure*.py, tests/test_responses*.py) but no row yet. Adding the row means removing the name
# here; a new adapter or protocol missing from both fails.
PENDING_UPSTREAMS = {"Anthropic", "Azure"}
PENDING_CLIENTS = {"anthropic", "responses"}


def test_every_provider_adapter_has_an_upstream_fixture():
    covered = {kind.prefix for kind in UPSTREAMS}
    missing = {type(a).__name__ for a in ADAPTERS if not covered & set(a.prefixes)}
    assert missing <= PENDING_UPSTREAMS, f"add a row to tests/conformance/upstreams.py UPSTREAMS for: {missing - PENDING_UPSTREAMS}"
    assert not PENDING_UPSTREAMS - missing, f"covered now, remove from PENDING_UPSTREAMS: {PENDING_UPSTREAMS - missing}"


def test_every_inbound_protocol_has_a_client_fixture():
    registered = {protocol_name(p) for p in PROTOCOLS}
    missing = registered - {c.name for c in CLIENTS}
    assert missing <= PENDING_CLIENTS, f"add a row to tests/conformance/clients.py CLIENTS for: {missing - PENDING_CLIENTS}"
    assert not (PENDING_CLIENTS & registered) - missing, "covered now, remove it from PENDING_CLIENTS"


def test_the_table_names_only_registered_adapters_and_protocols():
    prefixes = {p for a in ADAPTERS for p in a.prefixes}
    assert {k.prefix for k in UPSTREAMS} <= prefixes
    assert {c.name for c in CLIENTS} <= {protocol_name(p) for p in PROTOCOLS}
