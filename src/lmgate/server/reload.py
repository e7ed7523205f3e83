"""Hot reload: on a config file change (Kubernetes' ConfigMap symlink swap included), on SIGHUP, on
POST /config/reload (master key), and on the admin UI's "reload now" (every worker and, with Redis,
every replica), load and validate the file, then swap the gateway state atomically.

Requests in flight keep the state they started with; an invalid file is logged and the old config keeps
serving. Upstream sessions (one per origin) and router state (cooldowns, quota counters) carry over.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import time
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from lmgate.config import ConfigError, load_config
from lmgate.config.runtime import RuntimeConfig
from lmgate.errors import PermissionDenied
from lmgate.routing import Router
from lmgate.server.environment import export_environment
from lmgate.server.state import STATE

if TYPE_CHECKING:
    from lmgate.redis_link import RedisLink

log = logging.getLogger("lmgate.reload")
Signature = tuple[str, int, int, int, int]
IDLE_CHECK_S = 5.0  # how often to look again while watching is switched off
SETTLE_S = 0.05  # a changed file must stay unchanged this long before it is read (writers in progress)


def file_signature(path: Path) -> Signature | None:
    """What changes when the file (or the symlink chain leading to it) is replaced; None if missing."""
    try:
        st = os.stat(path)  # follows symlinks: a ConfigMap `..data` swap changes the inode
    except OSError:
        return None
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass(slots=True)
class ReloadResult:
    ok: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    config: RuntimeConfig | None = None
    why: str = ""  # what asked for it: "SIGHUP", "config file changed", "POST /config/reload", ...
    at: float = 0.0  # unix time it finished


class ConfigReloader:
    """Owns reloading for one app; reloads are serialised."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self._lock = asyncio.Lock()
        source = app[STATE].config.source
        self._seen = file_signature(source) if source else None
        self.reloads = 0
        self.last: ReloadResult | None = None  # the latest attempt in this process, accepted or not
        self.listening = False  # subscribed to RELOAD_CHANNEL on Redis


    @property
    def path(self) -> Path | None:
        return self.app[STATE].config.source

    async def reload(self, why: str) -> ReloadResult:
        result = await self._reload(why)
        result.why, result.at = why, time.time()
        self.last = result
        return result

    async def _reload(self, why: str) -> ReloadResult:
        async with self._lock:
            path = self.path
            if path is None:
                return ReloadResult(False, ["lmgate was started without a config file; there is nothing to reload"])
            self._seen = file_signature(path)
            try:
                config = await asyncio.get_running_loop().run_in_executor(None, load_config, path)
            except ConfigError as exc:
                log.error(
                    "config reload (%s) rejected; the previous config keeps serving:\n  %s", why, "\n  ".join(exc.errors)
                )
                return ReloadResult(False, exc.errors, exc.warnings)
            if self.app[STATE].config.master_key is not None and config.master_key is None:
                # a file caught mid-write (general_settings not written yet) looks exactly like this
                problem = (
                    f"{path}: general_settings.master_key is gone; a reload never turns authentication off "
                    "(restart lmgate to run without a key)"
                )
                log.error("config reload (%s) rejected; the previous config keeps serving:\n  %s", why, problem)
                return ReloadResult(False, [problem], config.warnings)
            export_environment(config)
            self._swap(config)
            self.reloads += 1
            log.info(
                "config reloaded (%s): %d models, %d deployments, %d warning(s)",
                why,
                len(config.aliases),
                len(config.deployments),
                len(config.warnings),
            )
            return ReloadResult(True, [], config.warnings, config)

    def _swap(self, config: RuntimeConfig) -> None:
        old = self.app[STATE]
        old.pool.warm(config.deployments)
        new = dataclasses.replace(old, config=config, router=Router(config, old.pool, old.router.state, worker=old.router.worker))
        # One assignment: a handler that already read the state keeps the old one to the end.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # aiohttp frowns on changing a started app
            self.app[STATE] = new

    async def watch(self) -> None:
        """Poll the file's signature every `general_settings.config_watch_interval` seconds."""
        while True:
            interval = self.app[STATE].config.watch_interval
            await asyncio.sleep(interval if interval > 0 else IDLE_CHECK_S)
            path = self.path
            if interval <= 0 or path is None:
                continue
            current = file_signature(path)
            if current is None or current == self._seen:
                continue
            await asyncio.sleep(SETTLE_S)
            if file_signature(path) == current:  # else still being written: look again next time
                await self.reload("config file changed")


RELOADER: web.AppKey[ConfigReloader] = web.AppKey("lmgate_reloader", ConfigReloader)


RELOAD_CHANNEL = "lmgate:config-reload"  # Redis: a message here makes every subscribed process reload


async def reload_every_worker(app: web.Application, why: str) -> ReloadResult | str:
    """Reload every process that serves this config, as SIGHUP reaches every worker.

    With Redis (router_settings) and this process subscribed, the request is published: every worker
    of every replica sharing that Redis reloads its own file ("redis"). Else, under `--workers N`, the
    parent is signalled and forwards SIGHUP to every worker, this one included ("sighup"). Either way
    this process's result arrives in `RELOADER.last`. A lone process reloads now and returns its result.
    """
    reloader = app[RELOADER]
    link = app[STATE].router.state.redis
    if reloader.listening and link is not None and link.client is not None and link.ok:
        try:
            await link.client.publish(RELOAD_CHANNEL, why)
            return "redis"
        except Exception as exc:  # fall through to this replica's workers
            log.warning("could not publish a config reload on Redis (%s); reloading this replica only", type(exc).__name__)
    if app[STATE].router.worker.count > 1:
        os.kill(os.getppid(), signal.SIGHUP)
        return "sighup"
    return await reloader.reload(why)


async def _listen(reloader: ConfigReloader, link: RedisLink) -> None:
    """Reload when another process (or this one) publishes on RELOAD_CHANNEL; resubscribe after Redis
    comes back."""
    while True:
        try:
            if link.client is None or not link.ok:
                await asyncio.sleep(1.0)
                continue
            async with link.client.pubsub() as pubsub:
                await pubsub.subscribe(RELOAD_CHANNEL)
                reloader.listening = True
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        data = message.get("data")
                        why = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
                        await reloader.reload(f"{why[:100]}, via Redis")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if reloader.listening:
                log.warning("config reload requests from Redis stopped (%s)", type(exc).__name__)
            reloader.listening = False
            await asyncio.sleep(1.0)


def install(app: web.Application) -> None:
    """Wire reloading into an app: the reloader, the POST route, the file watch and SIGHUP."""
    app[RELOADER] = ConfigReloader(app)
    app.router.add_post("/config/reload", reload_config)
    app.cleanup_ctx.append(_lifespan)


async def _lifespan(app: web.Application) -> AsyncIterator[None]:
    reloader = app[RELOADER]
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[object]] = set()
    watcher = asyncio.create_task(reloader.watch()) if reloader.path else None
    link = app[STATE].router.state.redis
    listener = asyncio.create_task(_listen(reloader, link)) if link is not None and reloader.path else None

    def on_sighup() -> None:
        task = asyncio.create_task(reloader.reload("SIGHUP"))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    hooked = False
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread / Windows
        loop.add_signal_handler(signal.SIGHUP, on_sighup)
        hooked = True
    yield
    if hooked:
        loop.remove_signal_handler(signal.SIGHUP)
    for task in (watcher, listener):
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def reload_config(request: web.Request) -> web.Response:
    """POST /config/reload: 200 with what was loaded, or 400 with the file's errors (old config kept)."""
    if request.app[STATE].config.master_key is None:
        raise PermissionDenied("POST /config/reload needs general_settings.master_key to be set")
    result = await request.app[RELOADER].reload("POST /config/reload")
    if not result.ok:
        failed: dict[str, Any] = {
            "error": {
                "message": "config rejected; the previous config keeps serving",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_config",
            },
            "errors": result.errors,
            "warnings": result.warnings,
        }
        return web.Response(status=400, body=orjson.dumps(failed), content_type="application/json")
    cfg = result.config
    assert cfg is not None
    body: dict[str, Any] = {
        "status": "reloaded",
        "config": str(cfg.source),
        "models": len(cfg.aliases),
        "deployments": len(cfg.deployments),
        "warnings": result.warnings,
    }
    return web.Response(body=orjson.dumps(body), content_type="application/json")
