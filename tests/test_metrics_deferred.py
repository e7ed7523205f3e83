"""Deferred counting must render exactly what prometheus_client renders for the same observations."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from lmgate.observability.deferred import Deferrals
from lmgate.observability.metrics import LATENCY_BUCKETS

amounts = st.lists(
    st.one_of(st.floats(min_value=0, max_value=1000, allow_nan=False), st.sampled_from(LATENCY_BUCKETS)), max_size=60
)


def families() -> tuple[CollectorRegistry, Counter, Gauge, Histogram]:
    r = CollectorRegistry()
    return (
        r,
        Counter("c", "c", ("k",), registry=r),
        Gauge("g", "g", ("k",), registry=r),
        Histogram("h", "h", ("k",), buckets=LATENCY_BUCKETS, registry=r),
    )


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
        if not s.name.endswith("_created")
    }


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.tuples(st.sampled_from("ab"), amounts), max_size=4))
def test_flushed_counts_match_direct_observation(batches):
    direct_r, direct_c, direct_g, direct_h = families()
    deferred_r, c, g, h = families()
    deferrals = Deferrals()
    dc, dg, dh = deferrals.counter(c), deferrals.gauge(g), deferrals.histogram(h)
    for key, values in batches:  # a flush between batches, as the periodic task does
        for v in values:
            direct_c.labels(key).inc(v)
            direct_h.labels(key).observe(v)
            dc.labels(key).inc(v)
            dh.labels(key).observe(v)
        direct_g.labels(key).inc(len(values))
        dg.labels(key).value += len(values)
        direct_g.labels(key).dec()
        dg.labels(key).value -= 1
        deferrals.flush()
    got, want = samples(deferred_r), samples(direct_r)
    assert got.keys() == want.keys()
    for key, value in want.items():  # sums may differ in the last bit: the additions are grouped differently
        assert math.isclose(got[key], value, rel_tol=1e-12, abs_tol=1e-12), key


def test_nothing_reaches_prometheus_until_flush():
    r, c, _, h = families()
    deferrals = Deferrals()
    deferrals.counter(c).labels("a").inc()
    deferrals.histogram(h).labels("a").observe(0.2)
    assert r.get_sample_value("c_total", {"k": "a"}) == 0  # the series exists from its first use
    deferrals.flush()
    assert r.get_sample_value("c_total", {"k": "a"}) == 1
    assert r.get_sample_value("h_bucket", {"k": "a", "le": "0.25"}) == 1
    assert r.get_sample_value("h_bucket", {"k": "a", "le": "0.1"}) == 0
    deferrals.flush()  # a second flush adds nothing
    assert r.get_sample_value("h_count", {"k": "a"}) == 1
