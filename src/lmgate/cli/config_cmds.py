"""`lmgate validate` and `lmgate models`: read a config and say what it means."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table
from yarl import URL

from lmgate.cli.common import ConfigOption, load_or_exit, print_problems
from lmgate.config import RuntimeConfig
from lmgate.config.chains import explicit_only

console = Console()


def validate(config: ConfigOption = None) -> None:
    """Check a config file: exit 0 when it is valid, 1 with readable errors (file:line) otherwise."""
    cfg = load_or_exit(config)
    print_problems(f"{len(cfg.warnings)} warning(s):", cfg.warnings, "yellow")
    print_problems(f"{len(cfg.inert)} key(s) accepted without effect:", cfg.inert, "cyan")
    console.print(
        f"[green]valid[/green]: {len(cfg.aliases)} models, {len(cfg.deployments)} deployments "
        f"({cfg.source or 'embedded default'})"
    )


def _host(api_base: str) -> str:
    url = URL(api_base)
    return f"{url.host}:{url.port}" if url.host else api_base


def models(config: ConfigOption = None) -> None:
    """List aliases and the deployments behind them (never keys)."""
    cfg = load_or_exit(config)
    table = Table(title=f"models in {cfg.source or 'embedded default'}")
    for col in ("alias", "deployment", "provider/model", "upstream host", "timeout s", "mode"):
        table.add_column(col)
    for alias, deps in cfg.aliases.items():
        for d in deps:
            table.add_row(alias, d.name, f"{d.provider}/{d.upstream_model}", _host(d.api_base), f"{d.timeout:g}", d.mode)
    for u in cfg.unsupported:
        table.add_row(u.alias, "-", u.model, "-", "-", u.reason)
    console.print(table)
    if not cfg.aliases:
        raise typer.Exit(0)
    _print_chains(cfg)


def _print_chains(cfg: RuntimeConfig) -> None:
    """Each alias's resolved route: its deployments first, then the fallback aliases in order."""
    console.print("\nfallback chains (tried left to right):")
    for alias, chain in cfg.chains.items():
        note = "  [explicit-only: never a fallback target]" if explicit_only(cfg.aliases[alias]) else ""
        console.print(f"  {chain.describe()}{note}", markup=False, highlight=False, soft_wrap=True)
