"""Rendering helpers shared by the operator commands (doctor, catalog, drill, ollama, audit)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console

from lmgate.cli.common import config_path, print_problems
from lmgate.ops.common import LoadedConfig, load_tolerant

console = Console(highlight=False)
T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document for scripts instead of tables")]


def emit_json(data: Any) -> None:
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def load_for_ops(option: Path | None, *, quiet: bool = False, need_env: bool = False) -> LoadedConfig:
    """Load tolerantly; report what could not be loaded. Exit 2 when nothing usable is left."""
    loaded = load_tolerant(config_path(option))
    if loaded.errors:
        if not quiet:
            print_problems(f"{len(loaded.errors)} config error(s) (fix them, then `lmgate validate --config FILE`):", loaded.errors, "bold red")
        if loaded.config is None and not quiet:
            raise typer.Exit(2)
    if loaded.missing_env and need_env and not quiet:
        print_problems(
            "not set in this shell (export them, or run where the service runs):",
            [f"{v}" for v in loaded.missing_env],
            "yellow",
        )
    return loaded


def level_style(level: str) -> str:
    return {"ok": "green", "warn": "yellow", "fail": "bold red"}.get(level, "")
