"""`lmgate init`: wiring over `lmgate.ops.init_discover` (find), `ops.init` (plan), `ops.init_render` (write).

On a terminal (stdin and stdout) without --yes or --json it asks which alias is the default chat model
and which aliases to drop, then whether to write. The config is validated with the real loader before
anything is written; with --dry-run it goes to stdout and the summary to stderr, so it pipes.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lmgate.cli.common import (
    CliError,
    ExitCode,
    JsonOption,
    console,
    err_console,
    print_problems,
    write_atomically,
)
from lmgate.cli.ops_common import emit_json, run_async
from lmgate.config import ConfigError, compile_config
from lmgate.ops import init as planner
from lmgate.ops.catalog import DEFAULT_OPENROUTER
from lmgate.ops.init_discover import CLOUD_URL, LOCAL_OLLAMA, PAID, Targets, discover
from lmgate.ops.init_render import render


def _summary(plan: planner.Plan, out: Console) -> None:
    table = Table(title="lmgate init: aliases")
    for col in ("#", "alias", "tier", "purpose", "model", "context", "cost", "falls back to", "note"):
        table.add_column(col, overflow="fold")
    for i, a in enumerate(plan.aliases, 1):
        d = a.first
        cost = "paid, explicit-only" if a.paid else ("free tier" if d.free else ("local" if d.local else "cloud plan"))
        models = "\n".join(f"{x.prefix}/{x.model} @ {x.instance}" for x in a.deployments)
        notes = "; ".join(sorted({x.note for x in a.deployments if x.note}))
        name = f"{a.name} (default chat)" if a.name == plan.default_chat else a.name
        cells = (str(i), name, a.tier, "/".join(a.purposes), models, str(a.context or "-"), cost, ", ".join(a.fallbacks), notes)
        table.add_row(*(Text(c) for c in cells))
    out.print(table)
    for s in plan.sources:
        if s.status not in ("ok", "skipped"):
            out.print(f"[yellow]{escape(s.kind)} at {escape(s.url)}: {escape(s.status)}[/yellow] ({escape(s.detail)})")
    for purpose, chain in plan.chains.items():
        out.print(f"{purpose} chain: {' -> '.join(chain)}", markup=False)


def _pick(prompt: str, numbered: list[str], allowed: list[str], default: str | None) -> str | None:
    """An alias by its number in the table or by name, among `allowed`."""
    while True:
        answer = str(typer.prompt(prompt, default=default or "", show_default=bool(default))).strip()
        if not answer:
            return default
        if answer.isdigit() and 1 <= int(answer) <= len(numbered):
            answer = numbered[int(answer) - 1]
        if answer in allowed:
            return answer
        typer.echo(f"not one of the aliases that chat: {answer}")


def _interactive(plan: planner.Plan, drop: set[str]) -> tuple[str | None, set[str]]:
    """Ask for the default chat alias and the aliases to drop; returns (default, drop)."""
    _summary(plan, console)
    names = [a.name for a in plan.aliases]
    chat = [a.name for a in plan.aliases if a.purpose != "embeddings"]
    typer.echo("Aliases that chat: " + ", ".join(f"{names.index(n) + 1}={n}" for n in chat))
    default = _pick("Default chat alias (number or name)", names, chat, plan.default_chat)
    while True:
        answer = str(typer.prompt("Drop aliases (numbers or names, comma-separated; empty keeps all)", default="", show_default=False))
        picked = [x.strip() for x in answer.split(",") if x.strip()]
        unknown = [x for x in picked if not (x in names or (x.isdigit() and 1 <= int(x) <= len(names)))]
        if not unknown:
            break
        typer.echo(f"not listed: {', '.join(unknown)}")
    drop |= {names[int(x) - 1] if x.isdigit() else x for x in picked}
    return (default if default not in drop else None), drop


def init(
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="Where to write the config")] = Path("config.yaml"),
    ollama: Annotated[list[str] | None, typer.Option("--ollama", metavar="URL", help="Another Ollama instance (URL or host:port); repeatable")] = None,
    local_ollama: Annotated[str, typer.Option("--local-ollama", metavar="URL", help="The local Ollama probed by default; 'none' skips it")] = LOCAL_OLLAMA,
    openai_compatible: Annotated[
        list[str] | None, typer.Option("--openai-compatible", metavar="URL", help="An OpenAI-compatible server such as vLLM (URL); repeatable")
    ] = None,
    ollama_cloud_url: Annotated[str, typer.Option("--ollama-cloud-url", metavar="URL", help="Ollama Cloud's base (used when OLLAMA_API_KEY is set)")] = CLOUD_URL,
    openrouter_url: Annotated[str, typer.Option("--openrouter-url", metavar="URL", help="OpenRouter's API base (used when OPENROUTER_API_KEY is set)")] = DEFAULT_OPENROUTER,
    openai_url: Annotated[str | None, typer.Option("--openai-url", metavar="URL", help="OpenAI's API base (OPENAI_API_KEY)")] = None,
    groq_url: Annotated[str | None, typer.Option("--groq-url", metavar="URL", help="Groq's API base (GROQ_API_KEY)")] = None,
    gemini_url: Annotated[str | None, typer.Option("--gemini-url", metavar="URL", help="Gemini's OpenAI-compatible base (GEMINI_API_KEY)")] = None,
    mistral_url: Annotated[str | None, typer.Option("--mistral-url", metavar="URL", help="Mistral's API base (MISTRAL_API_KEY)")] = None,
    anthropic_url: Annotated[str | None, typer.Option("--anthropic-url", metavar="URL", help="Anthropic's API base (ANTHROPIC_API_KEY)")] = None,
    openrouter_max: Annotated[int, typer.Option("--openrouter-max", min=0, metavar="N", help="How many free OpenRouter models to include")] = 3,
    default_chat: Annotated[str | None, typer.Option("--default-chat", metavar="ALIAS", help="The default chat alias (head of the chat chain)")] = None,
    drop: Annotated[list[str] | None, typer.Option("--drop", metavar="ALIAS", help="Leave this alias out; repeatable")] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, metavar="SECONDS", help="Seconds per probe")] = 5.0,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="No questions, even on a terminal")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the config to stdout (summary to stderr) instead of writing it")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file")] = False,
    json_out: JsonOption = False,
) -> None:
    """Write a config from what is running: Ollama instances, Ollama Cloud, OpenRouter's free models,
    OpenAI-compatible servers (vLLM) and the paid APIs whose keys are exported. Aliases get cloud ->
    GPU -> CPU fallback chains per purpose; paid models are explicit-only; keys stay os.environ/
    references. The result is validated before it is written."""
    if not dry_run and output.exists() and not force:
        raise CliError(f"{output} exists: pass --force to replace it, --output FILE to write elsewhere, or --dry-run to print")
    if not dry_run and not output.parent.is_dir():
        raise CliError(f"{output.parent} is not a directory: create it or pass another --output")
    overrides = {"openai": openai_url, "groq": groq_url, "gemini": gemini_url, "mistral": mistral_url, "anthropic": anthropic_url}
    targets = Targets(
        local_ollama=None if local_ollama.strip().lower() in ("", "none") else local_ollama,
        ollama=list(ollama or []),
        openai_compatible=list(openai_compatible or []),
        ollama_cloud_url=ollama_cloud_url,
        openrouter_url=openrouter_url,
        vendor_urls={k: v for k, v in overrides.items() if v},
        openrouter_max=openrouter_max,
        timeout=timeout,
    )
    assert {v.name for v in PAID} == set(overrides)
    env = dict(os.environ)
    found = run_async(discover(targets, env))
    if not found.found:
        tried = "; ".join(f"{s.kind} at {s.url}: {s.status} ({s.detail})" for s in found.sources if s.status != "skipped")
        raise CliError(
            f"nothing found to configure ({tried or 'no source given'}): start Ollama, pass --ollama URL or "
            "--openai-compatible URL, or export a provider key (OLLAMA_API_KEY, OPENROUTER_API_KEY, OPENAI_API_KEY, ...)",
            ExitCode.UNAVAILABLE,
        )
    drops = set(drop or [])
    names = {a.name for a in planner.name_aliases(found.found)}
    for name in [*drops, *([default_chat] if default_chat else [])]:
        if name not in names:
            raise CliError(f"no alias named {name!r} was found; found: {', '.join(sorted(names))}")
    plan = planner.plan(found, default_chat, drops)
    interactive = not yes and not json_out and sys.stdin.isatty() and sys.stdout.isatty()
    if interactive:
        default_chat, drops = _interactive(plan, drops)
        plan = planner.plan(found, default_chat, drops)
    if not plan.aliases:
        raise CliError("every alias was dropped: nothing to write")
    text = render(plan, str(output), datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    try:
        compile_config(text, str(output), env=env)
    except ConfigError as exc:
        print_problems(f"{len(exc.errors)} error(s) in the generated config:", exc.errors, "bold red")
        raise CliError("the generated config does not validate, nothing was written (a bug in lmgate init: run with --dry-run and report it)", ExitCode.INTERNAL) from None
    written = False
    if not dry_run:
        if interactive:
            _summary(plan, console)
            if not typer.confirm(f"Write {output}?", default=True):
                typer.echo("nothing written")
                raise typer.Exit(ExitCode.OK)
        try:
            write_atomically(output, text)
        except OSError as exc:
            raise CliError(f"cannot write {output}: {exc.strerror or exc}; pass another --output or --dry-run") from None
        written = True
    if json_out:
        emit_json({**plan.as_json(), "path": str(output), "written": written, "dry_run": dry_run, "validated": True, **({"config": text} if dry_run else {})})
        return
    if dry_run:
        typer.echo(text, nl=False)
        _summary(plan, err_console)
        return
    _summary(plan, console)
    console.print(f"wrote {escape(str(output))} (validated); next: lmgate doctor --config {escape(str(output))}, then lmgate serve --config {escape(str(output))}")
