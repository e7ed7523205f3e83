"""`lmgate keys ...` and `lmgate teams ...`: virtual keys and teams, on the database directly or on a
running gateway (`--url`), as tables or `--json` (the admin API's answers)."""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from lmgate.cli.common import ConfigOption, err_console
from lmgate.cli.keys_backend import Backend, Failed, backend

console = Console()
keys_app = typer.Typer(help="Virtual keys: one per consumer, with a model allow-list (LiteLLM's /key API).", no_args_is_help=True)
teams_app = typer.Typer(help="Teams: keys grouped under one allow-list and one switch (LiteLLM's /team API).", no_args_is_help=True)

UrlOption = Annotated[str | None, typer.Option("--url", help="A running gateway (e.g. http://127.0.0.1:4000); default: the database itself")]
MasterOption = Annotated[
    str | None, typer.Option("--master-key", envvar="LMGATE_MASTER_KEY", help="With --url (default: the config's master_key)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the admin API's JSON.")]
ModelsOption = Annotated[str | None, typer.Option("--models", help="Comma-separated aliases, wildcards allowed: 'cloud-*,local-chat'")]
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _call(b: Backend, path: str, payload: dict[str, Any]) -> Any:
    try:
        body, warnings = b.call(path, payload)
    except Failed as exc:
        err_console.print(f"[red]{exc.message}[/red]" + (f" (HTTP {exc.status})" if exc.status else ""), highlight=False)
        raise typer.Exit(1) from None
    for w in warnings:
        err_console.print(f"[yellow]warning: {w}[/yellow]")
    return body


def _key_ref(b: Backend, ref: str) -> str:
    """A key named by its value, its hash or its alias -> what the API accepts (value or hash)."""
    if ref.startswith("sk-") or _HEX64.match(ref):
        return ref
    found = _call(b, "/key/list", {"key_alias": ref, "return_full_object": "true"})["keys"]
    if not found:
        err_console.print(f"[red]no key with alias '{ref}'[/red]")
        raise typer.Exit(1)
    return str(found[0]["token"])


def _fields(
    alias: str | None = None, models: str | None = None, team: str | None = None, duration: str | None = None,
    metadata: str | None = None, rpm_limit: int | None = None, tpm_limit: int | None = None,
    max_budget: float | None = None, budget_duration: str | None = None, max_parallel_requests: int | None = None,
    privacy: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if models is not None:
        out["models"] = [m.strip() for m in models.split(",") if m.strip()]
    if metadata is not None:
        try:
            out["metadata"] = orjson.loads(metadata)
        except orjson.JSONDecodeError:
            raise typer.BadParameter("--metadata must be a JSON object") from None
    named = {
        "duration": duration, "rpm_limit": rpm_limit, "tpm_limit": tpm_limit, "max_budget": max_budget,
        "budget_duration": budget_duration, "max_parallel_requests": max_parallel_requests, "privacy": privacy,
    }
    out.update({k: v for k, v in named.items() if v is not None})
    if alias is not None:
        out["key_alias"] = alias
    if team is not None:
        out["team_id"] = team
    return out


def _print(body: Any, as_json: bool) -> None:
    if as_json:
        print(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())


def _keys_table(rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for col in ("alias", "key", "team", "models", "expires", "blocked", "hash"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r.get("key_alias") or "", r["key_name"], r.get("team_id") or "", ", ".join(r.get("models") or []) or "(all)",
            r.get("expires") or "never", "yes" if r.get("blocked") else "", r["token"][:12],
        )
    console.print(table)


# ---- keys ----------------------------------------------------------------------------------------------

AliasOpt = Annotated[str | None, typer.Option("--alias", help="key_alias: the name in logs, metrics and usage")]
TeamOpt = Annotated[str | None, typer.Option("--team", help="team_id the key belongs to")]
DurationOpt = Annotated[str | None, typer.Option("--duration", help="Expires after: 30m, 12h, 30d, 1mo …")]
MetaOpt = Annotated[str | None, typer.Option("--metadata", help="JSON object stored with the key")]
RpmOpt = Annotated[int | None, typer.Option("--rpm-limit", help="Requests per minute (429 past it)")]
TpmOpt = Annotated[int | None, typer.Option("--tpm-limit", help="Tokens per minute (429 past it)")]
BudgetOpt = Annotated[float | None, typer.Option("--max-budget", help="USD per budget period; paid models are refused past it")]
BudgetPeriodOpt = Annotated[str | None, typer.Option("--budget-duration", help="Budget period: 1h, 30d, 1mo … (default: the key's life)")]
ParallelOpt = Annotated[int | None, typer.Option("--max-parallel-requests", help="Requests in flight at once")]


PrivacyOpt = Annotated[str | None, typer.Option("--privacy", help="strict: only deployments with data_policy none; default: clear it")]


@keys_app.command("create")
def create(
    alias: AliasOpt = None, models: ModelsOption = None, team: TeamOpt = None, duration: DurationOpt = None,
    metadata: MetaOpt = None, rpm_limit: RpmOpt = None, tpm_limit: TpmOpt = None, max_budget: BudgetOpt = None,
    budget_duration: BudgetPeriodOpt = None, max_parallel_requests: ParallelOpt = None, privacy: PrivacyOpt = None,
    config: ConfigOption = None, url: UrlOption = None, master_key: MasterOption = None, as_json: JsonOption = False,
) -> None:
    """Make a key (its value is shown once: store it now)."""
    b = backend(config, url, master_key)
    fields = _fields(alias, models, team, duration, metadata, rpm_limit, tpm_limit, max_budget, budget_duration, max_parallel_requests, privacy)
    body = _call(b, "/key/generate", fields)
    if as_json:
        return _print(body, True)
    console.print(f"[bold]{body['key']}[/bold]", highlight=False, soft_wrap=True)
    err_console.print("shown once: the gateway keeps only its sha256 hash")
    _keys_table([body], "new key")


@keys_app.command("list")
def list_keys(
    team: TeamOpt = None, config: ConfigOption = None, url: UrlOption = None, master_key: MasterOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every key (never their values)."""
    b = backend(config, url, master_key)
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        query: dict[str, Any] = {"page": page, "size": 100, "return_full_object": "true"}
        if team:
            query["team_id"] = team
        body = _call(b, "/key/list", query)
        rows += body["keys"]
        if page >= body["total_pages"]:
            break
        page += 1
    if as_json:
        return _print(rows, True)
    _keys_table(rows, f"{len(rows)} key(s)")


KeyArg = Annotated[str, typer.Argument(help="The key (sk-...), its hash, or its alias")]


@keys_app.command("info")
def info(key: KeyArg, config: ConfigOption = None, url: UrlOption = None, master_key: MasterOption = None, as_json: JsonOption = False) -> None:
    """One key's record."""
    b = backend(config, url, master_key)
    body = _call(b, "/key/info", {"key": _key_ref(b, key)})
    if as_json:
        return _print(body, True)
    _keys_table([body["info"]], "key")


@keys_app.command("update")
def update(
    key: KeyArg, alias: AliasOpt = None, models: ModelsOption = None, team: TeamOpt = None, duration: DurationOpt = None,
    metadata: MetaOpt = None, rpm_limit: RpmOpt = None, tpm_limit: TpmOpt = None, max_budget: BudgetOpt = None,
    budget_duration: BudgetPeriodOpt = None, max_parallel_requests: ParallelOpt = None, privacy: PrivacyOpt = None,
    config: ConfigOption = None, url: UrlOption = None, master_key: MasterOption = None, as_json: JsonOption = False,
) -> None:
    """Change a key's alias, models, team, expiry, metadata or limits."""
    b = backend(config, url, master_key)
    fields = _fields(alias, models, team, duration, metadata, rpm_limit, tpm_limit, max_budget, budget_duration, max_parallel_requests, privacy)
    payload = {"key": _key_ref(b, key), **fields}
    body = _call(b, "/key/update", payload)
    if as_json:
        return _print(body, True)
    _keys_table([body], "updated")


def _switch(path: str, key: str, config: Any, url: str | None, master_key: str | None, as_json: bool) -> None:
    b = backend(config, url, master_key)
    body = _call(b, path, {"key": _key_ref(b, key)})
    if as_json:
        return _print(body, True)
    _keys_table([body], path.rsplit("/", 1)[-1] + "ed")


@keys_app.command("block")
def block(key: KeyArg, config: ConfigOption = None, url: UrlOption = None, master_key: MasterOption = None, as_json: JsonOption = False) -> None:
    """Refuse the key everywhere (within a second on every gateway) until unblocked."""
    _switch("/key/block", key, config, url, master_key, as_json)


@keys_app.command("unblock")
def unblock(key: KeyArg, config: ConfigOption = None, url: UrlOption = None, master_key: MasterOption = None, as_json: JsonOption = False) -> None:
    """Accept a blocked key again."""
    _switch("/key/unblock", key, config, url, master_key, as_json)


@keys_app.command("regenerate")
def regenerate(key: KeyArg, config: ConfigOption = None, url: UrlOption = None, master_key: MasterOption = None, as_json: JsonOption = False) -> None:
    """A new value for the key (alias, team and limits kept); the old value stops working."""
    b = backend(config, url, master_key)
    body = _call(b, "/key/regenerate", {"key": _key_ref(b, key)})
    if as_json:
        return _print(body, True)
    console.print(f"[bold]{body['key']}[/bold]", highlight=False, soft_wrap=True)
    err_console.print("shown once: the gateway keeps only its sha256 hash")


@keys_app.command("revoke")
def revoke(
    keys: Annotated[list[str], typer.Argument(help="Keys (sk-...), hashes or aliases")],
    config: ConfigOption = None, url: UrlOption = None, master_key: MasterOption = None, as_json: JsonOption = False,
) -> None:
    """Delete keys for good."""
    b = backend(config, url, master_key)
    body = _call(b, "/key/delete", {"keys": [_key_ref(b, k) for k in keys]})
    if as_json:
        return _print(body, True)
    console.print(f"revoked {len(body['deleted_keys'])} key(s)")


# ---- teams ---------------------------------------------------------------------------------------------

TeamArg = Annotated[str, typer.Argument(help="team_id")]


def _teams_table(rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for col in ("team_id", "alias", "models", "blocked"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["team_id"], r.get("team_alias") or "", ", ".join(r.get("models") or []) or "(all)", "yes" if r.get("blocked") else "")
    console.print(table)


def _team_fields(alias: str | None, models: str | None, blocked: bool | None, privacy: str | None = None) -> dict[str, Any]:
    out = _fields(models=models, privacy=privacy)
    if alias is not None:
        out["team_alias"] = alias
    if blocked is not None:
        out["blocked"] = blocked
    return out


TeamAliasOpt = Annotated[str | None, typer.Option("--alias", help="team_alias")]
BlockedOpt = Annotated[bool | None, typer.Option("--blocked/--unblocked", help="Refuse (or accept again) every key of the team")]


@teams_app.command("create")
def team_create(
    alias: TeamAliasOpt = None, models: ModelsOption = None,
    team_id: Annotated[str | None, typer.Option("--id", help="team_id (default: generated)")] = None,
    privacy: PrivacyOpt = None, config: ConfigOption = None, url: UrlOption = None, master_key: MasterOption = None, as_json: JsonOption = False,
) -> None:
    """Make a team."""
    payload = _team_fields(alias, models, None, privacy)
    if team_id:
        payload["team_id"] = team_id
    body = _call(backend(config, url, master_key), "/team/new", payload)
    if as_json:
        return _print(body, True)
    _teams_table([body], "new team")


@teams_app.command("list")
def team_list(config: ConfigOption = None, url: UrlOption = None, master_key: MasterOption = None, as_json: JsonOption = False) -> None:
    """Every team."""
    body = _call(backend(config, url, master_key), "/team/list", {})
    if as_json:
        return _print(body, True)
    _teams_table(body, f"{len(body)} team(s)")


@teams_app.command("info")
def team_info(team_id: TeamArg, config: ConfigOption = None, url: UrlOption = None, master_key: MasterOption = None, as_json: JsonOption = False) -> None:
    """A team and its keys."""
    body = _call(backend(config, url, master_key), "/team/info", {"team_id": team_id})
    if as_json:
        return _print(body, True)
    _teams_table([body["team_info"]], "team")
    _keys_table(body["keys"], "its keys")


@teams_app.command("update")
def team_update(
    team_id: TeamArg, alias: TeamAliasOpt = None, models: ModelsOption = None, blocked: BlockedOpt = None,
    privacy: PrivacyOpt = None, config: ConfigOption = None, url: UrlOption = None, master_key: MasterOption = None, as_json: JsonOption = False,
) -> None:
    """Change a team's alias, models, or block/unblock all its keys."""
    body = _call(backend(config, url, master_key), "/team/update", {"team_id": team_id, **_team_fields(alias, models, blocked, privacy)})
    if as_json:
        return _print(body, True)
    _teams_table([body["data"]], "updated")


@teams_app.command("delete")
def team_delete(
    team_ids: Annotated[list[str], typer.Argument(help="team_ids (teams must have no keys left)")],
    config: ConfigOption = None, url: UrlOption = None, master_key: MasterOption = None, as_json: JsonOption = False,
) -> None:
    """Delete teams that have no keys."""
    body = _call(backend(config, url, master_key), "/team/delete", {"team_ids": team_ids})
    if as_json:
        return _print(body, True)
    console.print(f"deleted {len(body['deleted_teams'])} team(s)")


@keys_app.command("import")
def import_keys(
    source: Annotated[str, typer.Option("--from", help="A LiteLLM proxy's database URL (postgresql://...)")],
    config: ConfigOption = None, as_json: JsonOption = False,
) -> None:
    """Copy a LiteLLM proxy's teams and virtual keys into this gateway's database (the keys keep working:
    both store the same sha256 hash)."""
    from lmgate.cli.common import load_or_exit
    from lmgate.cli.keys_backend import with_store
    from lmgate.keys.importer import import_litellm

    cfg = load_or_exit(config)
    try:
        done = with_store(cfg, lambda store: import_litellm(source, store))
    except Exception as exc:  # an unreachable or foreign database: say which, never a trace
        err_console.print(f"[red]import failed: {type(exc).__name__}: {str(exc)[:300]}[/red]", highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        return _print({"teams": done.teams, "keys": done.keys, "skipped": done.skipped}, True)
    console.print(f"imported {done.teams} team(s) and {done.keys} key(s)")
    for why in done.skipped:
        err_console.print(f"[yellow]skipped {why}[/yellow]", highlight=False)
