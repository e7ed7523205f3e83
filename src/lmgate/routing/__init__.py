"""Routing: alias -> ordered deployment candidates, and trying them (retries, cooldowns, fallbacks)."""

from lmgate.routing.router import Router, RouteResult, RouterState
from lmgate.routing.trace import RouteAttempt, RouteTrace

__all__ = ["RouteAttempt", "RouteResult", "RouteTrace", "Router", "RouterState"]
