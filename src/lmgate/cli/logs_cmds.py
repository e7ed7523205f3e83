"""`lmgate logs tail` and `lmgate usage`: the request log, read back for people and scripts."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lmgate.cli.common import ConfigOption, ExitCode, console, err_console, load_read_only
from lmgate.config import RuntimeConfig
from lmgate.config.loader import UNSET_PLACEHOLDER
from lmgate.observability import reports
from lmgate.observability.requestlog import request_log_path

logs_app = typer.Typer(help="Read the request log.", no_args_is_help=True, rich_markup_mode=None)


def _config(option: Path | None, quiet: bool) -> RuntimeConfig:
    """Only the log's location is needed: unset os.environ/ variables are reported, not fatal."""
    cfg = load_read_only(option, quiet=quiet).config
    assert cfg is not None
    return cfg


def _log_path(config: RuntimeConfig) -> Path:
    path = request_log_path(config)
    if path is None:
        err_console.print("the request log is off (general_settings.request_log_path: false): set a path to keep one", markup=False)
        raise typer.Exit(ExitCode.USAGE)
    return path


def _line(r: dict[str, Any]) -> str:
    status = int(r.get("status") or 0)
    colour = "green" if status < 400 else ("yellow" if status < 500 else "red")
    when = datetime.fromtimestamp(float(r.get("time") or 0)).strftime("%H:%M:%S")
    route = escape(" > ".join(f"{d}:{o}" for d, o, *_ in r.get("route") or []))
    toks = f"{r.get('prompt_tokens', 0)}+{r.get('completion_tokens', 0)} tok"
    cost = f" ${r['cost']:.5f}" if r.get("cost") else ""
    err = f"  [dim]{escape(str(r.get('error_class')))}[/dim]" if r.get("error_class") else ""
    return (
        f"{when} [{colour}]{status}[/{colour}] {escape(str(r.get('inbound', '?'))):6} {escape(str(r.get('requested_model', '')))}"
        f" -> {escape(str(r.get('deployment') or '-'))}  {toks}{cost}  {float(r.get('latency_s') or 0) * 1000:.0f} ms"
        f"{'  stream' if r.get('stream') else ''}  {route}{err}"
    )


@logs_app.command("tail")
def tail(
    config: ConfigOption = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new requests.")] = False,
    model: Annotated[str | None, typer.Option(help="Only this alias or deployment.")] = None,
    status: Annotated[str | None, typer.Option(help="200, 4xx, 5xx or error.")] = None,
    lines: Annotated[int, typer.Option("-n", help="How many past requests to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON record per line.")] = False,
) -> None:
    """Show the latest requests (with --follow, keep watching)."""
    path = _log_path(_config(config, as_json))
    past = [r for r in reports.read_records(reports.log_files(path)) if reports.matches(r, model, status)]
    past.sort(key=lambda r: float(r.get("time") or 0))
    for r in past[-lines:] if lines else []:
        _emit(r, as_json)
    if not follow:
        if not past:
            err_console.print(f"no matching requests in {path}", markup=False)
        return
    offsets = {f: f.stat().st_size for f in reports.log_files(path)}
    try:
        while True:
            time.sleep(0.5)
            for f in reports.log_files(path):
                size = f.stat().st_size
                start = offsets.get(f, 0)
                if size < start:  # rotated or truncated: read it again from the top
                    start = 0
                if size > start:
                    with f.open("rb") as fh:
                        fh.seek(start)
                        chunk = fh.read(size - start)
                    complete = chunk[: chunk.rfind(b"\n") + 1]
                    offsets[f] = start + len(complete)
                    for raw in complete.splitlines():
                        r = orjson.loads(raw)
                        if reports.matches(r, model, status):
                            _emit(r, as_json)
    except KeyboardInterrupt:
        return


def _emit(r: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(orjson.dumps(r).decode(), flush=True)
    else:
        console.print(_line(r))


def usage(
    config: ConfigOption = None,
    last: Annotated[str, typer.Option(help="Window: 15m, 1h, 24h, 7d …")] = "24h",
    by: Annotated[str, typer.Option(help="provider, model, deployment, key or team.")] = "provider",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Requests, errors, tokens, latency and cost over a recent window, grouped."""
    if by not in reports.GROUPINGS:
        raise typer.BadParameter(f"--by must be one of {', '.join(reports.GROUPINGS)}")
    try:
        since = reports.since_now(last)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    cfg = _config(config, as_json)
    records, source = _records_since(cfg, since)
    rows = reports.usage(records, by, since)
    budgets = _budgets(cfg, by) if by in ("key", "team") else {}
    for row in rows:
        if row["group"] in budgets:
            row["period_spend_usd"], row["max_budget_usd"] = budgets[row["group"]]
    if as_json:
        print(orjson.dumps({"window": last, "by": by, "source": source, "rows": rows}).decode())
        return
    table = Table(title=Text(f"usage by {by}, last {last} ({source})"))
    money = ("period spend $", "budget $") if budgets else ()
    for col in (by, "requests", "errors", "in tokens", "out tokens", "p50 ms", "p95 ms", "cost $", *money):
        table.add_column(col, justify="left" if col == by else "right")
    for row in rows:
        extra = (
            (f"{row['period_spend_usd']:.4f}", "-" if row["max_budget_usd"] is None else f"{row['max_budget_usd']:.2f}")
            if "period_spend_usd" in row else ("", "")
        ) if budgets else ()
        table.add_row(
            Text(str(row["group"])), str(row["requests"]), str(row["errors"]), str(row["prompt_tokens"]),
            str(row["completion_tokens"]), f"{row['p50_latency_s'] * 1000:.0f}", f"{row['p95_latency_s'] * 1000:.0f}",
            f"{row['cost_usd']:.4f}", *extra,
        )
    console.print(table)
    if not rows:
        err_console.print(f"no requests in the last {last}")


def _budgets(cfg: RuntimeConfig, by: str) -> dict[str, tuple[float, float | None]]:
    """Key alias (or team) -> (spend of the current budget period, max_budget), from the keys' database
    (empty when it is missing or unreadable: usage still prints)."""
    from lmgate.keys.paths import database_url, default_file
    from lmgate.observability.requestlog import default_state_dir

    state = default_state_dir()
    file = default_file(cfg, state)
    url = database_url(cfg, state)
    if (file is not None and not file.exists()) or url.startswith(UNSET_PLACEHOLDER):
        return {}
    from lmgate.keys.store import KeyStore

    async def fetch() -> dict[str, tuple[float, float | None]]:
        store = KeyStore(url)
        try:
            if by == "team":
                rows = await store.list_teams()
                return {r.get("team_alias") or r["team_id"]: (float(r["spend"] or 0.0), r.get("max_budget")) for r in rows}
            keys, _ = await store.list_keys(None, None, 0, 1_000_000)
            return {r.get("key_alias") or r["key_name"]: (float(r["spend"] or 0.0), r.get("max_budget")) for r in keys}
        finally:
            await store.close()

    try:
        return asyncio.run(fetch())
    except Exception as exc:
        err_console.print(f"[yellow]key database not readable ({type(exc).__name__}); no budgets shown[/yellow]")
        return {}


def _records_since(cfg: RuntimeConfig, since: float) -> tuple[list[dict[str, Any]], str]:
    """From the database when one is configured (shared by replicas), else from the JSONL files."""
    gs = cfg.file.general_settings
    url = gs.database_url.get_secret_value() if gs.database_url is not None else None
    if url is not None and not url.startswith(UNSET_PLACEHOLDER) and not gs.disable_spend_logs:
        from lmgate.store.engine import Store

        async def fetch() -> list[dict[str, Any]]:
            store = Store(url)
            try:
                return await store.request_logs_since(since)
            finally:
                await store.close()

        try:
            return asyncio.run(fetch()), "database"
        except Exception as exc:
            err_console.print(f"[yellow]database not readable ({type(exc).__name__}); using the log files[/yellow]")
    path = _log_path(cfg)
    return [r for r in reports.read_records(reports.log_files(path)) if float(r.get("time") or 0) >= since], str(path)
