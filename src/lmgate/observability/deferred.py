"""Counting on the request path without prometheus_client's per-call cost.

A prometheus_client child takes a lock on every `inc()`/`observe()` (one per histogram bucket and
sum), and under `--workers N` writes an mmap'd file too: about 10 µs per request across the
gateway's families, 5% of throughput at c=32. Here the request path only adds to plain Python
numbers in a slot per label set; `flush()` moves what accumulated into the real metric objects, in
one go, at scrape time and every 0.25 s (server/observe.py; so other workers' files stay current
in multiprocess mode). Prometheus sees the same series and the same totals, at most one flush
interval late.

The wrappers mirror the part of the prometheus_client API the gateway uses: `labels(...)` returns a
slot with `inc()` (counters), `observe()` (histograms) or a `value` to move (gauges).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from prometheus_client import Counter, Gauge, Histogram

Slot = TypeVar("Slot", "CounterSlot", "GaugeSlot", "HistogramSlot")


class CounterSlot:
    """Counts add to `pending` (`inc()`, or in place where a call per request matters); flush moves it."""

    __slots__ = ("child", "pending")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.pending = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.pending += amount

    def flush(self) -> None:
        if self.pending:
            self.child.inc(self.pending)
            self.pending = 0.0


class GaugeSlot:
    """A level (e.g. requests in flight): callers move `value`; the child is `set()` to it at flush."""

    __slots__ = ("child", "value", "flushed")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.value = 0.0
        self.flushed: float | None = None

    def flush(self) -> None:
        if self.value != self.flushed:
            self.child.set(self.value)
            self.flushed = self.value


class HistogramSlot:
    """Observations kept as they come and bucketed at flush.

    `observe` is the list's own `append` (a C call: the request path pays no Python frame for it).
    prometheus_client has no public "add n observations" call; its Histogram keeps per-bucket
    (non-cumulative) values in `_buckets` and the total in `_sum`, which `observe()` increments the
    same way. tests/test_metrics_deferred.py checks the rendered buckets, counts and sums.
    """

    __slots__ = ("child", "bounds", "values", "observe")

    def __init__(self, child: Any, bounds: tuple[float, ...]) -> None:
        self.child = child
        self.bounds = bounds
        self.values: list[float] = []
        self.observe: Callable[[float], None] = self.values.append

    def flush(self) -> None:
        values = self.values
        if not values:
            return
        counts = [0] * len(self.bounds)
        for amount in values:
            counts[bisect_left(self.bounds, amount)] += 1  # first bound >= amount, as observe() does
        buckets = self.child._buckets
        for i, n in enumerate(counts):
            if n:
                buckets[i].inc(n)
        self.child._sum.inc(math.fsum(values))
        values.clear()  # the same list: `observe` stays bound to it


class _Deferred(Generic[Slot]):
    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self._slots: dict[tuple[str, ...], Slot] = {}

    def _new_slot(self, child: Any) -> Slot:
        raise NotImplementedError

    def labels(self, *values: str) -> Slot:
        slot = self._slots.get(values)
        if slot is None:
            slot = self._slots[values] = self._new_slot(self.metric.labels(*values))
        return slot

    def flush(self) -> None:
        for slot in list(self._slots.values()):
            slot.flush()


class DeferredCounter(_Deferred[CounterSlot]):
    metric: Counter

    def _new_slot(self, child: Any) -> CounterSlot:
        return CounterSlot(child)


class DeferredGauge(_Deferred[GaugeSlot]):
    metric: Gauge

    def _new_slot(self, child: Any) -> GaugeSlot:
        return GaugeSlot(child)


class DeferredHistogram(_Deferred[HistogramSlot]):
    metric: Histogram

    def __init__(self, metric: Histogram) -> None:
        super().__init__(metric)
        self.bounds = tuple(metric._upper_bounds)  # ends with +Inf, so every amount finds a bucket

    def _new_slot(self, child: Any) -> HistogramSlot:
        return HistogramSlot(child, self.bounds)


class Deferrals:
    """Every deferred wrapper of one metrics set, so they flush together."""

    def __init__(self) -> None:
        self._all: list[_Deferred[Any]] = []

    def counter(self, metric: Counter) -> DeferredCounter:
        return self._keep(DeferredCounter(metric))

    def gauge(self, metric: Gauge) -> DeferredGauge:
        return self._keep(DeferredGauge(metric))

    def histogram(self, metric: Histogram) -> DeferredHistogram:
        return self._keep(DeferredHistogram(metric))

    def _keep(self, wrapper: Any) -> Any:
        self._all.append(wrapper)
        return wrapper

    def flush(self) -> None:
        for wrapper in self._all:
            wrapper.flush()
