"""Money budgets in the router: when the virtual key's budget cannot pay for a request (keys/limits.py
sets `GatewayRequest.paid_refusal`), paid deployments are skipped like cooling ones (trace outcome
`over_budget`) and zero-cost ones still serve it; when nothing was left to try, the refusal is the
answer (402 budget_exceeded, or 429 budget_unavailable while the shared counters are unreachable)."""

from __future__ import annotations

from lmgate.accounting.prices import charged
from lmgate.core import Deployment, GatewayRequest
from lmgate.errors import GatewayError
from lmgate.routing.trace import RouteTrace


def skip_paid(dep: Deployment, request: GatewayRequest, trace: RouteTrace) -> bool:
    """True (and recorded) when `dep` costs money and the request may not spend any."""
    if request.paid_refusal is not None and charged(dep):
        trace.skip_budget(dep.name)
        return True
    return False


def refusal(request: GatewayRequest, trace: RouteTrace) -> GatewayError | None:
    """The budget's refusal when paid candidates were skipped and nothing was sent."""
    return request.paid_refusal if trace.over_budget else None
