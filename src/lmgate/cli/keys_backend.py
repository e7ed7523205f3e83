"""Where `lmgate keys|teams|db` act: the database named by the config directly, or a running gateway's
admin API (`--url`). Both answer with the admin API's JSON, so `--json` output is the same either way."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx
import typer

from lmgate.cli.common import err_console, load_or_exit

if TYPE_CHECKING:
    from lmgate.config.runtime import RuntimeConfig
    from lmgate.keys.store import KeyStore

T = TypeVar("T")


class Failed(Exception):
    """The operation was refused (status and message as the API gave them)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Backend(Protocol):
    def call(self, path: str, payload: dict[str, Any]) -> tuple[Any, list[str]]:
        """(answer, warnings) of one admin operation, e.g. call('/key/generate', {...})."""


def database_url(config: RuntimeConfig) -> str:
    from lmgate.keys.paths import database_url as url_of
    from lmgate.observability.requestlog import default_state_dir

    return url_of(config, default_state_dir())


def with_store(config: RuntimeConfig, job: Callable[[KeyStore], Awaitable[T]], migrate: bool = True) -> T:
    """Run `job` against the config's key store (migrated first unless told not to), then close it."""
    from lmgate.keys.store import KeyStore

    async def run() -> T:
        store = KeyStore(database_url(config))
        try:
            if migrate:
                await store.migrate()
            return await job(store)
        finally:
            await store.close()

    return asyncio.run(run())


class Direct:
    """The database itself; with Redis configured, running gateways are told about changes at once."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config

    def call(self, path: str, payload: dict[str, Any]) -> tuple[Any, list[str]]:
        from lmgate.errors import GatewayError
        from lmgate.keys.service import KeyAdmin, operation

        async def job(store: KeyStore) -> tuple[Any, list[str]]:
            result = await operation(path)(KeyAdmin(store), payload, None)
            if result.changed:
                await _notify(self.config, await store.revision())
            return result.body, result.warnings

        try:
            return with_store(self.config, job)
        except GatewayError as err:
            raise Failed(err.status, err.message) from None


async def _notify(config: RuntimeConfig, revision: int) -> None:
    settings = config.redis_settings
    if settings is None:
        return  # gateways poll the revision (within half a second)
    from lmgate.keys.ring import publish
    from lmgate.redis_link import RedisLink

    link = RedisLink(settings)
    await link.open()
    try:
        await publish(link, revision)
    finally:
        await link.close()


class Remote:
    """A running gateway's admin API, with the master key."""

    def __init__(self, url: str, master_key: str) -> None:
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {master_key}"}

    def call(self, path: str, payload: dict[str, Any]) -> tuple[Any, list[str]]:
        from lmgate.keys.admin import WARNING_HEADER
        from lmgate.keys.paths import ADMIN_PATHS

        try:
            if ADMIN_PATHS[path][0] == "GET":
                res = httpx.get(self.url + path, params=payload, headers=self.headers, timeout=30)
            else:
                res = httpx.post(self.url + path, json=payload, headers=self.headers, timeout=30)
        except httpx.HTTPError as exc:
            raise Failed(0, f"cannot reach {self.url}: {type(exc).__name__}") from None
        if res.status_code >= 400:
            try:
                message = res.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = res.text[:300]
            raise Failed(res.status_code, message)
        warnings = [w for w in res.headers.get(WARNING_HEADER, "").split("; ") if w]
        return res.json(), warnings


def backend(config_path: Path | None, url: str | None, master_key: str | None) -> Backend:
    config = load_or_exit(config_path)
    if url is None:
        if config.master_key is None:
            err_console.print("[yellow]note: this config has no general_settings.master_key: its gateway is open "
                              "and does not check virtual keys[/yellow]")
        return Direct(config)
    key = master_key or config.master_key
    if not key:
        err_console.print("[red]--url needs the gateway's master key: --master-key, or a config with general_settings.master_key[/red]")
        raise typer.Exit(2)
    return Remote(url, key)
