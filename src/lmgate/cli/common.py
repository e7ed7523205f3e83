"""What the commands share: the exit-code table, one-line errors, consoles that pipe, and config loading.

Every command exits with a code from `ExitCode` (documented in `lmgate --help` and docs/operations.md).
A failure a person can cause is raised as `CliError` and printed as one line (what, then the fix); the
top-level group (cli/__init__.py) turns anything else into one line too, and `--debug` shows tracebacks.
"""

from __future__ import annotations

import os
import sys
from enum import IntEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from lmgate.config import ConfigError, RuntimeConfig, load_config
from lmgate.ops.common import LoadedConfig, load_tolerant

PIPE_WIDTH = 10_000  # "no wrapping" for rich when the output is not a terminal


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1  # the command ran and what it checks is not fine (invalid config, failing chain, findings)
    USAGE = 2  # bad option or argument, unknown alias, a config this command cannot use
    UNAVAILABLE = 3  # something outside lmgate failed: port in use, host unreachable, a catalog down
    INTERNAL = 4  # a bug in lmgate (one line; run with --debug for the traceback)
    INTERRUPTED = 130  # Ctrl-C


EXIT_CODE_HELP = """\b
Exit codes (the same for every command):
  0    ok
  1    check failed: invalid config, a chain with no healthy tier, findings
  2    usage or config error: bad option, unknown alias, a config the command cannot use
  3    unavailable: port in use, address not on this machine, upstream or catalog unreachable
  4    internal error (a bug): --debug shows the traceback
  130  interrupted (Ctrl-C)
"""


class CliError(Exception):
    """A failure the person running the command can fix: one line, what went wrong and the fix."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code


def make_console(stderr: bool = False) -> Console:
    """A console that never interprets user text as emoji, never highlights, and, when its stream is
    not a terminal, neither wraps nor truncates (lines stay whole for grep). NO_COLOR is honoured by rich."""
    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty()
    return Console(
        stderr=stderr, highlight=False, emoji=False, soft_wrap=piped, width=PIPE_WIDTH if piped else None
    )


console = make_console()
err_console = make_console(stderr=True)


def print_error(message: str) -> None:
    err_console.print(f"[bold red]error[/bold red]: {escape(message)}")


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="LiteLLM-style config.yaml (default: $LMGATE_CONFIG, else the embedded mock config)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables")]


def config_path(option: Path | None) -> Path | None:
    if option is not None:
        return option
    env = os.environ.get("LMGATE_CONFIG")
    return Path(env) if env else None


def print_problems(title: str, lines: list[str], style: str) -> None:
    if not lines:
        return
    err_console.print(f"[{style}]{escape(title)}[/{style}]")
    for line in lines:
        err_console.print(f"  {line}", markup=False)


def load_or_exit(option: Path | None, code: ExitCode = ExitCode.USAGE) -> RuntimeConfig:
    """Load strictly (the gateway's own rule): every problem printed, then exit with `code`."""
    try:
        config = load_config(config_path(option))
    except ConfigError as exc:
        print_problems(f"{len(exc.errors)} error(s):", exc.errors, "bold red")
        print_problems(f"{len(exc.warnings)} warning(s):", exc.warnings, "yellow")
        raise typer.Exit(code) from None
    return config


def report_unset(loaded: LoadedConfig) -> None:
    """Say which `os.environ/` variables were not set (the command goes on without them)."""
    if loaded.missing_env:
        print_problems(
            f"{len(loaded.missing_env)} variable(s) not set in this shell; their values are left out "
            "(export them, or run where the service runs):",
            loaded.env_errors,
            "yellow",
        )


def load_read_only(option: Path | None, *, quiet: bool = False) -> LoadedConfig:
    """Load for a command that only reads the config: unset variables are reported, not fatal; any
    other config error exits 2 (with `quiet`, e.g. under --json, nothing is printed but the exit)."""
    loaded = load_tolerant(config_path(option))
    if loaded.config is None:
        if not quiet:
            print_problems(
                f"{len(loaded.errors)} config error(s) (fix them, then `lmgate validate --config FILE`):",
                loaded.errors,
                "bold red",
            )
        raise typer.Exit(ExitCode.USAGE)
    if not quiet:
        report_unset(loaded)
    return loaded
