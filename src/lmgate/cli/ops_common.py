"""Rendering helpers shared by the operator commands (doctor, catalog, drill, ollama, audit)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import orjson
import typer

from lmgate.cli.common import ExitCode, JsonOption, config_path, console, print_problems, report_unset
from lmgate.ops.common import LoadedConfig, load_tolerant

T = TypeVar("T")
__all__ = ["JsonOption", "console", "emit_json", "run_async", "load_for_ops", "level_style"]


def emit_json(data: Any) -> None:
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def load_for_ops(option: Path | None, *, quiet: bool = False, need_env: bool = False) -> LoadedConfig:
    """Load tolerantly; report what could not be loaded. Exit 2 when nothing usable is left (unless
    `quiet`: a --json caller reports the errors in its own document)."""
    loaded = load_tolerant(config_path(option))
    if loaded.errors and not quiet:
        print_problems(f"{len(loaded.errors)} config error(s) (fix them, then `lmgate validate --config FILE`):", loaded.errors, "bold red")
        if loaded.config is None:
            raise typer.Exit(ExitCode.USAGE)
    if need_env and not quiet:
        report_unset(loaded)
    return loaded


def level_style(level: str) -> str:
    return {"ok": "green", "warn": "yellow", "fail": "bold red"}.get(level, "")
