"""The observer: finished RequestRecords handed in batches to metrics, the request log and tracing.

The request path appends its record to `Observer.finished` (server/observe.py, the middleware); the
batch is drained every DRAIN_BATCH records and by a periodic task, so observation costs the request a
list append. Built once per process from the config (`build_observer`), started and stopped by the
app's lifespan (`observer_lifespan`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from lmgate.config.runtime import RuntimeConfig
from lmgate.keys.paths import DEFAULT_FILE
from lmgate.observability import tracing
from lmgate.observability.deferred import DeferredGauge, GaugeSlot
from lmgate.observability.metrics import Metrics
from lmgate.observability.record import RequestRecord
from lmgate.observability.requestlog import RequestLog, Sink, Spool, default_state_dir, request_log_path
from lmgate.observability.sinks import DatabaseSink, JsonlFileSink
from lmgate.workers import SOLO, WorkerIdentity

log = logging.getLogger("lmgate.observe")


@dataclass(slots=True)
class Observer:
    metrics: Metrics
    request_log: RequestLog | None
    tracing: tracing.Tracing | None = None
    metrics_enabled: bool = True
    idle: bool = field(init=False)  # nothing consumes records: skip the observation layer entirely
    in_flight: dict[str, GaugeSlot] = field(init=False)  # by inbound protocol

    finished: list[RequestRecord] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.idle = not self.metrics_enabled and self.request_log is None and self.tracing is None
        self.in_flight = _SlotsByLabel(self.metrics.in_flight)

    def drain(self) -> None:
        """Hand the records finished since the last drain to metrics, the request log and tracing.

        The request path appends its record to `finished` and drains every DRAIN_BATCH records (the
        periodic task catches the rest): records still in the CPU's cache cost a little less than
        hundreds of them later (about 1%, bench/obs_overhead.sh), and less is held.
        """
        batch = self.finished
        if not batch:
            return
        self.finished = []
        try:  # this runs inside a request: nothing may escape into its response
            for rec in batch:
                rec.settle()
        except Exception:  # tokens and cost stay 0; the records still reach the log
            log.exception("settling usage of %d finished requests failed", len(batch))
        if self.request_log is not None:  # first: the log must get every record whatever fails below
            try:
                self.request_log.submit(batch)
            except Exception:
                log.exception("request log: queuing %d records failed; some may be lost", len(batch))
        try:
            if self.metrics_enabled:
                self.metrics.count(batch)
            if self.tracing is not None:
                for rec in batch:
                    self.tracing.record(rec)
        except Exception:  # a bad record must not stop observation for the rest of the process
            log.exception("counting %d finished requests failed", len(batch))

    def catch_up(self) -> None:
        """Drain, then move the counts into prometheus_client (for other workers' scrapes too)."""
        self.drain()
        if self.metrics_enabled:
            self.metrics.flush()


class _SlotsByLabel(dict[str, GaugeSlot]):
    """A single-label gauge's slots, looked up without a call once each label has been seen."""

    def __init__(self, gauge: DeferredGauge) -> None:
        super().__init__()
        self.gauge = gauge

    def __missing__(self, label: str) -> GaugeSlot:
        slot = self[label] = self.gauge.labels(label)
        return slot


OBSERVER: web.AppKey[Observer] = web.AppKey("lmgate_observer", Observer)


def build_observer(config: RuntimeConfig, worker: WorkerIdentity = SOLO) -> Observer:
    gs = config.file.general_settings
    metrics = Metrics(litellm_compat=bool(config.file.litellm_settings.litellm_compat_metrics))
    sinks: list[Sink] = []
    path = request_log_path(config, worker)
    if path is not None:
        sinks.append(JsonlFileSink(path))
    keys = config.master_key is not None  # virtual keys may exist: the database is their spend log too
    if gs.database_url is not None and not gs.disable_spend_logs:
        sinks.append(DatabaseSink(gs.database_url.get_secret_value(), spend=keys))
    elif keys and not gs.disable_spend_logs:  # the keys' embedded SQLite file (keys/paths.py)
        file = default_state_dir() / DEFAULT_FILE
        sinks.append(DatabaseSink(f"sqlite:///{file}", spend=True, needs_file=file))
    spool_dir = (path.parent if path else default_state_dir()) / "spool"
    request_log = RequestLog(
        sinks, Spool(spool_dir), interval=gs.request_log_flush_seconds
    ) if sinks else None
    ls = config.file.litellm_settings
    callbacks = ls.callbacks if isinstance(ls.callbacks, list) else [ls.callbacks] if ls.callbacks else []
    callbacks += ls.success_callback or []
    return Observer(metrics, request_log, tracing.build(callbacks), gs.metrics)


DRAIN_SECONDS = 0.25
DRAIN_BATCH = 64  # 16, 32, 64, 256 and the periodic drain alone measured within ±1.2%; 64 the best of them


async def _drain_periodically(observer: Observer) -> None:
    """Records reach the request log, and counts reach prometheus_client (under --workers, the
    files other workers' scrapes read), within DRAIN_SECONDS even when traffic is light and this
    worker is never scraped."""
    while True:
        await asyncio.sleep(DRAIN_SECONDS)
        observer.catch_up()


async def observer_lifespan(app: web.Application) -> AsyncIterator[None]:
    observer = app[OBSERVER]
    if observer.request_log is not None:
        await observer.request_log.start()
    drainer = None
    if not observer.idle:
        drainer = asyncio.create_task(_drain_periodically(observer), name="lmgate-observer-drain")
    yield
    if drainer is not None:
        drainer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drainer
    observer.catch_up()
    if observer.request_log is not None:
        await observer.request_log.close()
    if observer.tracing is not None:
        await asyncio.to_thread(observer.tracing.shutdown)
