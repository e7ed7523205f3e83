"""`lmgate validate` and `lmgate models`: read a config and say what it means."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from yarl import URL

from lmgate.cli.common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    config_path,
    console,
    err_console,
    load_read_only,
    print_problems,
    report_unset,
)
from lmgate.config import ConfigError, RuntimeConfig, load_config
from lmgate.config.chains import explicit_only
from lmgate.ops.common import load_tolerant


def validate(
    config: ConfigOption = None,
    allow_missing_env: Annotated[
        bool,
        typer.Option(
            "--allow-missing-env",
            help="Unset os.environ/ variables are listed as warnings, not errors (check a cluster's config on a laptop).",
        ),
    ] = False,
) -> None:
    """Check a config file the way `serve` will: exit 0 when it is valid, 1 with readable errors
    (file:line) otherwise. An unset os.environ/ variable is an error unless --allow-missing-env."""
    if allow_missing_env:
        loaded = load_tolerant(config_path(config))
        if loaded.config is None:
            print_problems(f"{len(loaded.errors)} error(s):", loaded.errors, "bold red")
            raise typer.Exit(ExitCode.CHECK_FAILED)
        report_unset(loaded)
        cfg = loaded.config
    else:
        try:
            cfg = load_config(config_path(config))
        except ConfigError as exc:
            print_problems(f"{len(exc.errors)} error(s):", exc.errors, "bold red")
            print_problems(f"{len(exc.warnings)} warning(s):", exc.warnings, "yellow")
            if exc.unset_env:
                err_console.print(
                    "variables are read from this shell: export them, or pass --allow-missing-env to check "
                    "a config meant for another machine",
                    markup=False,
                )
            raise typer.Exit(ExitCode.CHECK_FAILED) from None
    print_problems(f"{len(cfg.warnings)} warning(s):", cfg.warnings, "yellow")
    print_problems(f"{len(cfg.inert)} key(s) accepted without effect:", cfg.inert, "cyan")
    unset = f"; {len(cfg.unset_env)} variable(s) not set" if cfg.unset_env else ""
    console.print(
        f"[green]valid[/green]: {len(cfg.aliases)} models, {len(cfg.deployments)} deployments{unset} "
        f"({escape(str(cfg.source or 'embedded default'))})",
    )


def _host(api_base: str) -> str:
    url = URL(api_base)
    return f"{url.host}:{url.port}" if url.host else api_base


def _rows(cfg: RuntimeConfig) -> list[dict[str, Any]]:
    return [
        {
            "alias": alias,
            "deployment": d.name,
            "model": f"{d.provider}/{d.upstream_model}",
            "upstream_host": _host(d.api_base),
            "timeout_s": d.timeout,
            "mode": d.mode,
            "data_policy": d.data_policy,
        }
        for alias, deps in cfg.aliases.items()
        for d in deps
    ] + [  # loaded, never routed to: "provider X is not supported by lmgate yet"
        {"alias": u.alias, "deployment": "-", "model": u.model, "upstream_host": "-", "timeout_s": None, "mode": u.reason,
         "data_policy": "-"}
        for u in cfg.unsupported
    ]


def models(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """List aliases, the deployments behind them (never keys) and each alias's fallback chain. Unset
    os.environ/ variables are reported, not fatal."""
    cfg = load_read_only(config, quiet=json_out).config
    assert cfg is not None
    if json_out:
        chains = {alias: chain.describe() for alias, chain in cfg.chains.items()}
        out = {"source": str(cfg.source or ""), "models": _rows(cfg), "chains": chains, "unset_env": sorted(cfg.unset_env)}
        typer.echo(orjson.dumps(out).decode())
        return
    table = Table(title=Text(f"models in {cfg.source or 'embedded default'}"))
    for col in ("alias", "deployment", "provider/model", "upstream host", "timeout s", "mode", "data policy"):
        table.add_column(col)
    for r in _rows(cfg):
        timeout = f"{r['timeout_s']:g}" if r["timeout_s"] is not None else "-"
        cells = (r["alias"], r["deployment"], r["model"], r["upstream_host"], timeout, r["mode"], r["data_policy"])
        table.add_row(*(Text(c) for c in cells))
    console.print(table)
    if cfg.aliases:
        _print_chains(cfg)


def _print_chains(cfg: RuntimeConfig) -> None:
    """Each alias's resolved route: its deployments first, then the fallback aliases in order."""
    console.print("\nfallback chains (tried left to right):")
    for alias, chain in cfg.chains.items():
        note = "  [explicit-only: never a fallback target]" if explicit_only(cfg.aliases[alias]) else ""
        console.print(f"  {chain.describe()}{note}", markup=False)
