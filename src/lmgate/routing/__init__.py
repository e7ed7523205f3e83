"""Routing: alias -> ordered deployment candidates, and trying them."""

from lmgate.routing.router import Router

__all__ = ["Router"]
