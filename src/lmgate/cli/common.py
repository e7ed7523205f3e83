"""What the commands share: the --config option and loading with readable errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from lmgate.config import ConfigError, RuntimeConfig, load_config

err_console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="LiteLLM-style config.yaml (default: $LMGATE_CONFIG, else the embedded mock config)"),
]


def config_path(option: Path | None) -> Path | None:
    if option is not None:
        return option
    env = os.environ.get("LMGATE_CONFIG")
    return Path(env) if env else None


def print_problems(title: str, lines: list[str], style: str) -> None:
    if not lines:
        return
    err_console.print(f"[{style}]{title}[/{style}]")
    for line in lines:
        err_console.print(f"  {line}", markup=False, highlight=False)


def load_or_exit(option: Path | None) -> RuntimeConfig:
    try:
        config = load_config(config_path(option))
    except ConfigError as exc:
        print_problems(f"{len(exc.errors)} error(s):", exc.errors, "bold red")
        print_problems(f"{len(exc.warnings)} warning(s):", exc.warnings, "yellow")
        raise typer.Exit(1) from None
    return config
