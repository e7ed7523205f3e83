"""Run the server: one process, or N worker processes sharing the port (SO_REUSEPORT)."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import sys

from aiohttp import web
from prometheus_client.multiprocess import mark_process_dead

from lmgate.config.runtime import RuntimeConfig
from lmgate.observability.metrics import multiprocess_dir
from lmgate.routing.router import WORKERS_ENV
from lmgate.server.app import create_app

log = logging.getLogger("lmgate")


def _install_fast_loop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - non-Linux platforms
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _stop_on_first_signal(loop: asyncio.AbstractEventLoop) -> None:
    """SIGTERM/SIGINT start one graceful stop; repeats are ignored.

    aiohttp's own handler stays installed until after the app's cleanup, so a second signal raised
    GracefulExit again in the middle of it and the request log's shutdown flush was lost (the worker
    exited 1). Workers routinely get two: Ctrl-C or `kill -- -PGID` reaches the whole process group,
    and the parent forwards SIGTERM to each worker as well.
    """
    stopping = False

    def stop() -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise web.GracefulExit()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)


def run_worker(config: RuntimeConfig, host: str, port: int, reuse_port: bool = False, worker_id: int | None = None) -> None:
    if worker_id is not None:
        os.environ["LMGATE_WORKER_ID"] = str(worker_id)  # per-worker request log file
    _install_fast_loop()
    app = create_app(config)
    log.info(
        "lmgate %s listening on http://%s:%d (%d models, config: %s)",
        "worker" if reuse_port else "",
        host,
        port,
        len(config.aliases),
        config.source or "embedded default",
    )
    # Everything built so far lives as long as the process: keep the collector from re-scanning it.
    gc.collect()
    gc.freeze()
    # Each request allocates a few hundred short-lived objects (aiohttp's and ours); collecting the
    # young generation every 700 allocations costs more than the cycles it finds. Collect less often.
    gc.set_threshold(20_000, 20, 20)
    loop = asyncio.new_event_loop()
    _stop_on_first_signal(loop)
    web.run_app(
        app,
        host=host,
        port=port,
        reuse_port=reuse_port or None,
        access_log=None,
        handler_cancellation=True,
        print=None,
        shutdown_timeout=10.0,
        backlog=2048,
        handle_signals=False,
        loop=loop,
    )


def serve(config: RuntimeConfig, host: str, port: int, workers: int = 1) -> None:
    if workers <= 1:
        run_worker(config, host, port)
        return
    ctx = multiprocessing.get_context("fork")
    os.environ[WORKERS_ENV] = str(workers)  # in-memory upstream quotas are split between the workers
    procs = [ctx.Process(target=run_worker, args=(config, host, port, True, i), daemon=False) for i in range(1, workers + 1)]
    for p in procs:
        p.start()

    def stop(signum: int, _frame: object) -> None:
        for p in procs:
            if p.is_alive() and p.pid:
                os.kill(p.pid, signal.SIGTERM)

    def reload(signum: int, _frame: object) -> None:
        for p in procs:  # each worker reloads its own config (see server/reload.py)
            if p.is_alive() and p.pid:
                os.kill(p.pid, signal.SIGHUP)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)
    for p in procs:
        p.join()
        if multiprocess_dir():
            mark_process_dead(p.pid)
    sys.exit(max((p.exitcode or 0) for p in procs))
