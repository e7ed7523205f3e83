"""`lmgate db upgrade|current|history`: the store's schema migrations, explicitly (the gateway also
upgrades at start-up)."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from lmgate.cli.common import ConfigOption, err_console, load_or_exit
from lmgate.cli.keys_backend import database_url, with_store

console = Console()
db_app = typer.Typer(help="The database's schema: general_settings.database_url, else <state dir>/lmgate.db.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@db_app.command("upgrade")
def upgrade(
    config: ConfigOption = None,
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
    as_json: JsonOption = False,
) -> None:
    """Migrate the database to the newest schema (a database made before migrations is stamped first)."""
    from lmgate.store.migrate import upgrade as run_upgrade

    cfg = load_or_exit(config)
    try:
        done = with_store(cfg, lambda store: run_upgrade(store.store.engine, revision), migrate=False)
    except Exception as exc:
        err_console.print(f"[red]upgrade failed: {type(exc).__name__}: {str(exc)[:300]}[/red]", highlight=False)
        raise typer.Exit(1) from None
    out = {"database": _where(database_url(cfg)), "before": done.before, "after": done.after, "stamped": done.stamped}
    if as_json:
        print(orjson.dumps(out).decode())
        return
    note = " (pre-migration tables stamped at the baseline first)" if done.stamped else ""
    console.print(f"{out['database']}: {done.before or 'empty'} -> {done.after}{note}", highlight=False)


@db_app.command("current")
def current(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """The database's schema revision (and whether it is the newest)."""
    from lmgate.keys.store import KeyStore
    from lmgate.store.migrate import HEAD
    from lmgate.store.migrate import current as read_current

    cfg = load_or_exit(config)
    url = database_url(cfg)
    if not KeyStore(url).exists:
        version = None
    else:
        version = with_store(cfg, lambda store: read_current(store.store.engine), migrate=False)
    out = {"database": _where(url), "current": version, "head": HEAD, "up_to_date": version == HEAD}
    if as_json:
        print(orjson.dumps(out).decode())
        return
    state = "up to date" if version == HEAD else f"behind (head is {HEAD}; `lmgate db upgrade`)"
    console.print(f"{out['database']}: {version or 'no schema yet'}, {state}", highlight=False)


@db_app.command("history")
def history(as_json: JsonOption = False) -> None:
    """Every migration, oldest first."""
    from lmgate.store.migrate import history as revisions

    rows = revisions()
    if as_json:
        print(orjson.dumps(rows).decode())
        return
    table = Table(title="migrations")
    for col in ("revision", "after", "what"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["revision"] or "", r["down_revision"] or "", r["doc"] or "")
    console.print(table)
