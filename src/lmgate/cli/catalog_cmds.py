"""`lmgate catalog ollama` and `lmgate catalog openrouter`: thin wiring over `lmgate.ops.catalog`."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import yaml
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lmgate.cli.common import CliError, ConfigOption, ExitCode, config_path, err_console, write_atomically
from lmgate.cli.ops_common import JsonOption, console, emit_json, load_for_ops, run_async
from lmgate.ops import catalog as ops
from lmgate.ops.common import as_url, human_size
from lmgate.ops.names import is_ollama_cloud

catalog_app = typer.Typer(
    help="What an Ollama instance or OpenRouter serves, compared with the config.", no_args_is_help=True, rich_markup_mode=None
)


def _fail(message: str, code: ExitCode = ExitCode.UNAVAILABLE) -> CliError:
    return CliError(message, code)


@catalog_app.command("ollama")
def ollama(
    base: Annotated[str, typer.Option("--base", help="Instance root: host:port, http://mac-mini:11435 or https://ollama.com")],
    api_key_env: Annotated[str | None, typer.Option("--api-key-env", help="Environment variable holding the key (Ollama Cloud: OLLAMA_API_KEY)")] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Models on an Ollama instance or Ollama Cloud (size, family, quantisation) and whether each
    configured alias on that instance points at one of them. Exit 1 when one does not."""
    key = None
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            raise _fail(f"{api_key_env} is not set in this shell: export {api_key_env}=<key> and run again", ExitCode.USAGE)
    loaded = load_for_ops(config, need_env=True) if config_path(config) else None
    try:
        cat = run_async(ops.ollama_catalog(base, key, loaded.config if loaded else None))
    except ops.CatalogError as exc:
        raise _fail(str(exc)) from None
    missing = [c for c in cat.configured if c.found is None]
    if json_out:
        emit_json(cat.as_json())
        raise typer.Exit(1 if missing else 0)
    table = Table(title=f"models on {cat.base}")
    for col in ("name", "size", "family", "parameters", "quantisation", "modified", "configured aliases"):
        table.add_column(col)
    for m in cat.models:
        cells = (m.name, human_size(m.size), m.family, m.parameter_size, m.quantization, m.modified_at[:10], ", ".join(m.aliases))
        table.add_row(*(Text(c) for c in cells))
    console.print(table)
    for c in missing:
        fix = "pick a listed name" if is_ollama_cloud(cat.base) else f"lmgate ollama pull --instance {cat.base} {c.model}"
        console.print(f"[bold red]missing[/bold red]: alias {escape(c.alias)} wants {escape(c.model)}, which this instance does not have: {escape(fix)}")
    raise typer.Exit(1 if missing else 0)


def _per_million(price: str) -> str:
    try:
        return f"{float(price) * 1e6:.2f}"
    except ValueError:
        return price or "?"


def _endpoint_lines(found: ops.ModelEndpoints | None) -> str:
    """`trains: Chutes` / `none: DeepInfra, Together` per policy, or why the endpoints are unknown."""
    if found is None:
        return ""
    if found.error is not None:
        return f"unknown ({found.error[:80]})"
    by_policy: dict[str, list[str]] = {}
    for e in found.endpoints:
        by_policy.setdefault(e.data_policy, []).append(e.provider)
    lines = [f"{policy}: {', '.join(providers)}" for policy, providers in sorted(by_policy.items())]
    return "\n".join([found.data_policy, *lines]) if lines else "unknown (no endpoint listed)"


def _router_tables(cat: ops.RouterCatalog, free: bool) -> None:
    table = Table(title=Text(f"{'free ' if free else ''}models at {cat.base_url} ({len(cat.models)})"))
    for col in ("id", "context", "$/M in", "$/M out", "moderated", "expires", "data policy"):
        table.add_column(col, overflow="fold")
    for m in cat.models:
        policy = _endpoint_lines(m.endpoints) or ("free: may log/train" if m.free else "")
        cells = (m.id, str(m.context_length), _per_million(m.prompt_price), _per_million(m.completion_price), str(m.moderated), m.expiration_date or "", policy)
        table.add_row(*(Text(c) for c in cells))
    console.print(table)
    if not cat.configured:
        return
    table = Table(title="OpenRouter models in the config")
    for col in ("alias", "model", "status", "context", "data policy (endpoints)", "configured", "suggested replacements"):
        table.add_column(col, overflow="fold")
    for c in cat.configured:
        style = {"live": "green", "expiring": "yellow", "retired": "bold red"}.get(c.status, "")
        context = str(c.listed.context_length) if c.listed else "-"
        status = Text(c.status, style=style) + (f" {c.listed.expiration_date}" if c.listed and c.listed.expiration_date else "")
        found = _endpoint_lines(c.listed.endpoints) if c.listed else "-"
        table.add_row(Text(c.alias), Text(c.model_id), status, context, Text(found), Text(c.configured_policy or "-"),
                      Text("\n".join(c.replacements)))
    console.print(table)


@catalog_app.command("openrouter")
def openrouter(
    free: Annotated[bool, typer.Option("--free", help="Only free models (both prices zero); replacements free too")] = False,
    config: ConfigOption = None,
    write: Annotated[bool, typer.Option("--write", help="Replace retired models in the config and fill or tighten model_info.data_policy from the endpoints (comments and layout kept), after validating; prints a diff")] = False,
    endpoints: Annotated[bool, typer.Option("--endpoints", help="Also fetch the endpoints (data policy per provider) of every listed model, not only of the configured ones")] = False,
    api_key_env: Annotated[str | None, typer.Option("--api-key-env", help="Environment variable holding an OpenRouter key, sent with the endpoint listings")] = None,
    base_url: Annotated[str, typer.Option("--base-url", "--base", help="OpenRouter API base, URL or host:port (mirrors, tests)")] = ops.DEFAULT_OPENROUTER,
    json_out: JsonOption = False,
) -> None:
    """Fetch OpenRouter's live model list and check the config's OpenRouter models against it: retired
    ones get replacements (same family, closest name, free when the old one was), and each listed one
    its data policy from its endpoints (none | retains | trains | unknown: the least private endpoint).
    Exit 1 when a retired model is left in the config."""
    path = config_path(config)
    if write and path is None:
        raise _fail("--write needs the file to rewrite: pass --config FILE", ExitCode.USAGE)
    key = None
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            raise _fail(f"{api_key_env} is not set in this shell: export {api_key_env}=<key> and run again", ExitCode.USAGE)
    try:
        text = path.read_text() if path else None
    except OSError as exc:
        raise _fail(f"{path}: cannot read the config file: {exc.strerror or exc}", ExitCode.USAGE) from None
    try:
        cat = run_async(ops.openrouter_catalog(as_url(base_url), text, free, endpoints, key))
    except ops.CatalogError as exc:
        raise _fail(str(exc)) from None
    except yaml.YAMLError as exc:
        raise _fail(f"{path}: {exc}; run `lmgate validate --config {path}`", ExitCode.USAGE) from None
    diff, written = "", False
    if write and path and text is not None:
        rw = ops.rewrite_models(text, str(path), cat.configured)
        if rw.errors:
            for e in rw.errors:
                err_console.print(f"  {escape(e)}")
            raise _fail("the rewritten config would not be valid; nothing was written", ExitCode.USAGE)
        if rw.changes or rw.policies:
            diff = ops.unified_diff(text, rw.text, str(path))
            write_atomically(path, rw.text)
            written = True
            tightened = {index: new for index, _alias, _old, new in rw.policies}
            for c in cat.configured:
                if c.status == "retired" and c.replacements:
                    c.status = f"replaced by {c.replacements[0]}"
                c.configured_policy = tightened.get(c.index, c.configured_policy)
    left = [c for c in cat.configured if c.status == "retired"]
    if json_out:
        emit_json({**cat.as_json(), "written": written, "diff": diff})
        raise typer.Exit(1 if left else 0)
    _router_tables(cat, free)
    if diff:
        console.print(f"[green]wrote {escape(str(path))}[/green]:")
        console.print(escape(diff), highlight=False)
    elif left and not write:
        console.print(f"{len(left)} retired model(s) in the config: run again with --write to apply the first suggestion of each")
    for c in left:
        if not c.replacements:
            console.print(f"[bold red]retired[/bold red]: {escape(c.alias)} ({escape(c.model_id)}) has no replacement to suggest: pick one from the table")
    raise typer.Exit(1 if left else 0)
