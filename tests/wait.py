"""The one way tests wait: poll a condition until it holds or a deadline passes (never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import httpx

T = TypeVar("T")


def wait_for(check: Callable[[], T], what: str, seconds: float = 10.0, interval: float = 0.02) -> T:
    """Call `check` until it returns something truthy and return that; fail naming `what` at the deadline.

    A connection error raised by `check` (a server still starting, a peer restarting) counts as not yet.
    """
    deadline = time.monotonic() + seconds
    last: object = None
    while True:
        try:
            result = check()
        except (OSError, httpx.TransportError) as exc:
            result, last = None, exc  # type: ignore[assignment]
        else:
            if result:
                return result
            last = result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what} (last: {last!r})")
        time.sleep(interval)
