"""`lmgate doctor`, `lmgate drill` and `lmgate audit`: thin wiring over `lmgate.ops`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lmgate.cli.common import CliError, ConfigOption, ExitCode, config_path
from lmgate.cli.ops_common import JsonOption, console, emit_json, level_style, load_for_ops, run_async
from lmgate.ops import audit as audit_ops
from lmgate.ops import doctor as doctor_ops
from lmgate.ops import drill as drill_ops
from lmgate.ops.common import LoadedConfig


def _doctor_table(report: doctor_ops.DoctorReport) -> Table:
    table = Table(title="lmgate doctor", show_lines=True)
    for col in ("deployment", "target", "status", "findings and fixes"):
        table.add_column(col, overflow="fold")
    for d in report.deployments:
        lines = []
        for f in d.findings:
            style = level_style(f.level)
            lines.append(f"[{style}]{f.level}[/{style}] {f.check}: {escape(f.message)}")
            if f.fix:
                lines.append(f"  [cyan]fix:[/cyan] {escape(f.fix)}")
        status = "[green]healthy[/green]" if d.healthy else "[bold red]failing[/bold red]"
        if d.latency_ms is not None:
            status += f"\n{d.latency_ms:.0f} ms"
        table.add_row(escape(d.deployment), escape(f"{d.target}\n{d.api_base}"), status, "\n".join(lines))
    return table


def _print_chains(report: doctor_ops.DoctorReport) -> None:
    for c in report.chains:
        if len(c.tiers) < 2 and c.healthy:
            continue
        tiers = " -> ".join(f"[green]{escape(t)}[/green]" if t in c.healthy_tiers else f"[red]{escape(t)}[/red]" for t in c.tiers)
        verdict = "ok" if c.healthy else "[bold red]NO HEALTHY TIER[/bold red]"
        console.print(f"chain {tiers}: {verdict}")


def _run_with_progress(loaded: LoadedConfig, model: str | None, deep: bool) -> doctor_ops.DoctorReport:
    total = len(doctor_ops.selected(loaded, model)) if loaded.config and (model is None or model in loaded.config.aliases) else 0
    columns = (TextColumn("probing deployments"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("probe", total=total)
        return run_async(doctor_ops.run_doctor(loaded, model, deep, on_done=lambda _r: progress.advance(task)))


def doctor(
    config: ConfigOption = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Only this alias and its fallback tiers")] = None,
    deep: Annotated[bool, typer.Option("--deep", help="Also send a one-token request to each deployment and time it")] = False,
    json_out: JsonOption = False,
) -> None:
    """Probe every deployment (reachability, auth, model present, optionally a one-token request) and
    explain each failure with the fix. Exit 1 when a model's fallback chain has no healthy tier, 2 when
    the config has errors."""
    loaded = load_for_ops(config, quiet=json_out)
    if json_out:
        report = run_async(doctor_ops.run_doctor(loaded, model, deep))
        emit_json(report.as_json())
        raise typer.Exit(report.exit_code)
    report = _run_with_progress(loaded, model, deep)
    if report.config_errors and not report.deployments:
        for e in report.config_errors:
            console.print(f"[bold red]error[/bold red]: {escape(e)}")  # one line per problem
        raise typer.Exit(report.exit_code)
    console.print(_doctor_table(report))
    _print_chains(report)
    failing = [c.alias for c in report.chains if not c.healthy]
    if failing:
        console.print(f"[bold red]{len(failing)} model(s) cannot be served[/bold red]: {escape(', '.join(failing))} — apply the fixes above, then run doctor again")
    elif report.exit_code == 0:
        console.print("[green]every model has at least one healthy tier[/green]")
    raise typer.Exit(report.exit_code)



def _round_line(r: drill_ops.DrillRound) -> str:
    broken = ", ".join(r.broken) if r.broken else "nothing"
    who = f"{r.answered_alias or '?'} ({r.answered_by or '-'})" if r.status == 200 else f"HTTP {r.status}" if r.status else "no answer"
    mark = "[green]ok[/green]" if r.ok else "[bold red]FAIL[/bold red]"
    line = f"{mark} broken: {escape(broken)} -> answered by {escape(who)} in {r.seconds:.2f} s"
    if r.route:
        line += f"  [dim]route {escape(r.route)}[/dim]"
    if r.problem:
        line += f"\n     {escape(r.problem)}"
    return line


def drill(
    alias: Annotated[str, typer.Argument(help="The alias whose fallback chain to prove")],
    config: ConfigOption = None,
    target_seconds: Annotated[float, typer.Option("--target-seconds", help="Fail a round that takes longer to answer")] = drill_ops.DEFAULT_TARGET_S,
    failure: Annotated[str, typer.Option("--failure", help="How broken tiers fail: refused (closed port), error (503), hang (never answers)")] = "refused",
    json_out: JsonOption = False,
) -> None:
    """Prove a fallback chain: run the gateway in-process, break the chain's tiers one more per round
    (pointing them at a failing loopback target, keys removed), send a small real request, and report
    which tier answered and how long it took. Exit 1 when a round fails or is over the target."""
    if failure not in drill_ops.FAILURE_MODES:
        raise CliError(f"--failure must be one of {', '.join(drill_ops.FAILURE_MODES)}")
    loaded = load_for_ops(config, quiet=json_out, need_env=True)
    if loaded.config is None:
        if json_out:
            emit_json({"ok": False, "problem": "; ".join(loaded.errors)})
        raise typer.Exit(ExitCode.USAGE)
    if alias not in loaded.config.aliases:
        known = ", ".join(sorted(loaded.config.aliases)) or "none"
        problem = f"no model_name '{alias}' in the config (known: {known}); `lmgate models` lists them"
        if json_out:
            emit_json({"ok": False, "alias": alias, "problem": problem})
            raise typer.Exit(ExitCode.USAGE)
        raise CliError(problem)
    if json_out:
        report = run_async(drill_ops.run_drill(loaded.config, alias, failure, target_seconds))
        emit_json(report.as_json())
        raise typer.Exit(ExitCode.USAGE if report.problem else ExitCode.OK if report.ok else ExitCode.CHECK_FAILED)
    with console.status(f"drilling {escape(alias)} ({failure})"):
        report = run_async(drill_ops.run_drill(loaded.config, alias, failure, target_seconds, on_round=lambda r: console.print(_round_line(r))))
    if report.problem:  # nothing to drill (no fallback chain)
        raise CliError(report.problem)
    chain = " -> ".join(report.tiers)
    verdict = "[green]holds[/green]" if report.ok else "[bold red]does not hold[/bold red]"
    console.print(f"chain {escape(chain)} {verdict} (target {target_seconds:g} s, failure mode {failure})")
    raise typer.Exit(ExitCode.OK if report.ok else ExitCode.CHECK_FAILED)


def audit(
    config: ConfigOption = None,
    path: Annotated[list[Path] | None, typer.Option("--path", "-p", help="A directory (scanned recursively) or file; repeatable")] = None,
    json_out: JsonOption = False,
) -> None:
    """Find plaintext secrets (API-key-shaped values, literal api_key/master_key/token fields where
    os.environ/ or a Secret reference belongs) in configs and manifests, and world-readable files
    holding them. Exit 1 when anything is found. Values are shown masked."""
    roots = [p for p in [config_path(config), *(path or [])] if p is not None] or [Path.cwd()]
    missing = [str(p) for p in roots if not p.exists()]
    if missing:
        raise CliError(f"not found: {', '.join(missing)}; pass an existing file or directory to --path/--config")
    report = audit_ops.audit(roots)
    if json_out:
        emit_json(report.as_json())
        raise typer.Exit(report.exit_code)
    if not report.findings:
        console.print(f"[green]no plaintext secrets[/green] in {report.files_scanned} file(s)")
        raise typer.Exit(0)
    table = Table(title=f"plaintext secrets ({len(report.findings)} in {report.files_scanned} file(s) scanned)", show_lines=True)
    for col in ("where", "what", "fix"):
        table.add_column(col, overflow="fold")
    for f in report.findings:
        where = f"{f.file}:{f.line}" if f.line else f.file
        what = f.kind + (f"\n{f.value}" if f.value else "")
        table.add_row(escape(where), escape(what), escape(f.fix))
    console.print(table)
    raise typer.Exit(1)
