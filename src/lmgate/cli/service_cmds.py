"""`lmgate service install --user`: write the systemd user unit for this virtualenv."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from lmgate.cli.common import CliError, ConfigOption, ExitCode, config_path, print_problems
from lmgate.ops.common import load_tolerant
from lmgate.ops.systemd import (
    UNIT_NAME,
    UnitSpec,
    env_file_template,
    env_references,
    quote_path,
    quote_word,
    render_unit,
    serve_words,
)

console = Console()
service_app = typer.Typer(help="Run the gateway as a service (systemd user unit).", no_args_is_help=True)


def _xdg(var: str, fallback: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / fallback)


def _lmgate_executable() -> Path:
    """This installation's `lmgate` script: beside the running interpreter (a venv), else on PATH."""
    beside = Path(sys.executable).parent / "lmgate"
    if beside.is_file():
        return beside.absolute()
    found = shutil.which("lmgate")
    if found is None:
        raise CliError(
            "cannot find the `lmgate` executable of this installation (not beside python, not on PATH)",
            ExitCode.UNAVAILABLE,
        )
    return Path(found).absolute()


def _check_config(path: Path | None) -> list[str]:
    """Validate the config as far as this shell can; return the variables it references."""
    loaded = load_tolerant(path)
    if loaded.errors:
        print_problems(f"{len(loaded.errors)} error(s) in the config:", loaded.errors, "bold red")
        raise typer.Exit(ExitCode.USAGE)
    if path is None:
        return []
    return sorted(set(env_references(yaml.safe_load(path.read_text()))))


def _write_env_file(path: Path, names: list[str]) -> str:
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            return f"[yellow]{path} is readable by others (mode {mode:o}): chmod 600 {path}[/yellow]"
        return f"kept {path}"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(env_file_template(names))
    return f"wrote {path} (mode 600): put {', '.join(names) or 'your keys'} there"


@service_app.command("install")
def install(
    config: ConfigOption = None,
    user: Annotated[bool, typer.Option("--user", help="A systemd user unit (the default and only kind).", show_default=False)] = True,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 4000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    env_file: Annotated[
        Path | None, typer.Option(help="Environment file for secrets (default: $XDG_CONFIG_HOME/lmgate/env).")
    ] = None,
    unit_dir: Annotated[
        Path | None, typer.Option(help="Where to write the unit (default: $XDG_CONFIG_HOME/systemd/user).")
    ] = None,
    stdout: Annotated[bool, typer.Option("--stdout", help="Print the unit instead of writing anything.")] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing unit file.")] = False,
) -> None:
    """Write lmgate.service for this virtualenv's `lmgate serve`, and a chmod-600 environment file."""
    del user  # spelled out like systemctl's own --user; a user unit is the only kind written
    cfg = config_path(config)
    cfg = cfg.absolute() if cfg is not None else None
    if cfg is not None and not cfg.is_file():
        raise CliError(f"{cfg}: no such config file")
    names = _check_config(cfg)
    config_home = _xdg("XDG_CONFIG_HOME", ".config")
    env_path = (env_file or config_home / "lmgate" / "env").absolute()
    words = serve_words(str(_lmgate_executable()), str(cfg) if cfg else None, host, port, workers)
    unit = render_unit(UnitSpec(" ".join(quote_word(w) for w in words), quote_path(str(env_path))))
    if stdout:
        sys.stdout.write(unit)
        return
    target = (unit_dir or config_home / "systemd" / "user") / UNIT_NAME
    if target.exists() and not force:
        raise CliError(f"{target} exists; --force overwrites it (or --stdout to compare)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(unit)
    console.print(f"wrote {target}")
    console.print(_write_env_file(env_path, names))
    if cfg is None:
        console.print("[yellow]no --config: the unit serves the embedded mock config[/yellow]")
    console.print("next: systemctl --user daemon-reload && systemctl --user enable --now lmgate")
    console.print("      (and `loginctl enable-linger $USER` to keep it running while you are logged out)")
