"""`lmgate ollama ps|pull|rm`: thin wiring over `lmgate.ops.ollama_admin`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn
from rich.table import Table
from rich.text import Text

from lmgate.cli.common import CliError, ConfigOption, ExitCode, config_path
from lmgate.cli.ops_common import JsonOption, console, emit_json, load_for_ops, run_async
from lmgate.ops import ollama_admin as ops
from lmgate.ops.common import human_size

ollama_app = typer.Typer(
    help="Manage models on the Ollama instances named in the config.", no_args_is_help=True, rich_markup_mode=None
)

InstanceOption = Annotated[
    str, typer.Option("--instance", "-i", help="Instance URL, host:port, or a config alias/deployment served by it")
]
ModelArg = Annotated[str, typer.Argument(help="Ollama model name, e.g. qwen3:8b")]


def _instance(spec: str, config: ConfigOption) -> ops.Instance:
    loaded = load_for_ops(config, need_env=True) if config_path(config) else None
    try:
        return ops.resolve_instance(spec, loaded.config if loaded else None)
    except ops.AdminError as exc:
        raise _fail(exc, ExitCode.USAGE) from None


def _fail(exc: Exception, code: ExitCode = ExitCode.UNAVAILABLE) -> CliError:
    return CliError(str(exc), code)


@ollama_app.command("ps")
def ps(instance: InstanceOption, config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Models loaded in memory on the instance (Ollama's /api/ps)."""
    inst = _instance(instance, config)
    try:
        models = run_async(ops.ps(inst))
    except ops.AdminError as exc:
        raise _fail(exc) from None
    if json_out:
        emit_json({"instance": inst.base, "models": ops.as_json(models)})
        return
    table = Table(title=f"loaded on {inst.base}")
    for col in ("name", "size", "in VRAM", "context", "unloads at"):
        table.add_column(col)
    for m in models:
        table.add_row(Text(m.name), human_size(m.size), human_size(m.size_vram), str(m.context_length or "-"), m.expires_at)
    console.print(table if models else Text(f"nothing loaded on {inst.base}"))


@ollama_app.command("pull")
def pull(instance: InstanceOption, model: ModelArg, config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Download a model to the instance, with a progress bar per layer from Ollama's streamed status."""
    inst = _instance(instance, config)
    if json_out:
        try:
            last = run_async(ops.pull(inst, model, lambda _s: None))
        except ops.AdminError as exc:
            raise _fail(exc) from None
        emit_json({"instance": inst.base, "model": model, "status": last.status})
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console) as progress:
        layers: dict[str, TaskID] = {}

        def show(status: ops.PullStatus) -> None:
            if status.digest and status.total:
                task = layers.get(status.digest)
                if task is None:
                    task = layers[status.digest] = progress.add_task(status.status, total=status.total)
                progress.update(task, completed=status.completed or 0)
            else:
                progress.console.print(escape(status.status))

        try:
            run_async(ops.pull(inst, model, show))
        except ops.AdminError as exc:
            raise _fail(exc) from None
    console.print(f"[green]pulled {escape(model)} on {escape(inst.base)}[/green]")


@ollama_app.command("rm")
def rm(instance: InstanceOption, model: ModelArg, config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Delete a model from the instance."""
    inst = _instance(instance, config)
    try:
        run_async(ops.remove(inst, model))
    except ops.AdminError as exc:
        raise _fail(exc) from None
    if json_out:
        emit_json({"instance": inst.base, "model": model, "deleted": True})
    else:
        console.print(f"deleted {escape(model)} from {escape(inst.base)}")
