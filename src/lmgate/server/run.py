"""Run the server: one process, or N worker processes sharing the port (SO_REUSEPORT)."""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import multiprocessing
import os
import signal
import socket
import sys

from aiohttp import web
from prometheus_client.multiprocess import mark_process_dead

from lmgate.config.runtime import RuntimeConfig
from lmgate.observability.metrics import multiprocess_dir
from lmgate.server.app import create_app
from lmgate.server.environment import export_environment
from lmgate.workers import SOLO, WorkerIdentity

log = logging.getLogger("lmgate")
BACKLOG = 2048


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


class BindError(Exception):
    """The address cannot be listened on (in use, not on this machine, not permitted)."""

    def __init__(self, host: str, port: int, exc: OSError) -> None:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            fix = f"stop what is using it (`ss -ltnp 'sport = :{port}'`) or pass another --port"
        elif exc.errno == errno.EADDRNOTAVAIL:
            fix = "pass an address this machine has (--host 127.0.0.1, or 0.0.0.0 for every interface)"
        elif exc.errno == errno.EACCES:
            fix = "ports below 1024 need privileges: pass --port 4000 or higher"
        else:
            fix = "check --host and --port"
        super().__init__(f"cannot listen on {host}:{port}: {reason}; {fix}")


def bind(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A listening socket, bound before anything says the gateway is listening."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BindError(host, port, OSError(errno.EADDRNOTAVAIL, f"unknown host ({exc.strerror})")) from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise BindError(host, port, exc) from None
    sock.setblocking(False)
    return sock


def _announce(config: RuntimeConfig, host: str, port: int, workers: int) -> None:
    log.info(
        "lmgate listening on http://%s:%d (%d models, config: %s%s)",
        host,
        port,
        len(config.aliases),
        config.source or "embedded default",
        f", {workers} workers" if workers > 1 else "",
    )


def run_worker(config: RuntimeConfig, sock: socket.socket, worker: WorkerIdentity = SOLO) -> None:
    """Serve on an already bound socket until SIGTERM/SIGINT."""
    _install_fast_loop()
    app = create_app(config, worker)
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
        sock=sock,
        access_log=None,
        handler_cancellation=True,
        print=None,
        shutdown_timeout=10.0,
        backlog=BACKLOG,
        handle_signals=False,
        loop=loop,
    )


def serve(config: RuntimeConfig, host: str, port: int, workers: int = 1) -> None:
    """Bind (BindError when the address cannot be had), say so, then serve in one or N processes.

    Under `--workers N` the parent binds one SO_REUSEPORT socket per worker before forking, so a busy
    port is one clear error here rather than N crashed children; each worker keeps only its own.
    """
    export_environment(config)
    if workers <= 1:
        sock = bind(host, port)
        _announce(config, host, port, 1)
        run_worker(config, sock)
        return
    socks: list[socket.socket] = []
    try:
        for _ in range(workers):
            socks.append(bind(host, port, reuse_port=True))
    except BindError:
        for s in socks:
            s.close()
        raise
    _announce(config, host, port, workers)
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_worker_main, args=(config, socks, i, workers), daemon=False) for i in range(1, workers + 1)
    ]
    for p in procs:
        p.start()
    for s in socks:  # the workers hold them now; a dead worker's socket must not stay open here
        s.close()

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


def _worker_main(config: RuntimeConfig, socks: list[socket.socket], index: int, count: int) -> None:
    """A forked worker: keep its own socket, close its siblings' (so a dead sibling's port share closes)."""
    mine = socks[index - 1]
    for s in socks:
        if s is not mine:
            s.close()
    run_worker(config, mine, WorkerIdentity(index, count))
