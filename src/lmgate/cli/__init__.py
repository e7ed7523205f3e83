"""The `lmgate` command line: one module per command group, wired here.

`LmgateGroup` is the one place failures become output: a `CliError` is one line and its exit code,
anything unexpected one line and exit 4; `--debug` adds the traceback. Help and usage errors are plain text (no rich panels), so they pipe unwrapped.
"""

from __future__ import annotations

import logging
import traceback
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from lmgate.cli import (
    catalog_cmds,
    config_cmds,
    db_cmds,
    keys_cmds,
    logs_cmds,
    ollama_cmds,
    ops_cmds,
    serve_cmd,
    service_cmds,
)
from lmgate.cli.common import EXIT_CODE_HELP, CliError, ExitCode, err_console, print_error

if TYPE_CHECKING:
    from typer._click import Context  # typer's vendored click: the type TyperGroup.invoke declares


def _version() -> str:
    try:
        return version("lmgate")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
        return "unknown"


class LmgateGroup(TyperGroup):
    def invoke(self, ctx: Context) -> Any:
        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except CliError as exc:
            if debug:
                err_console.print(traceback.format_exc(), markup=False)
            print_error(str(exc))
            raise typer.Exit(exc.code) from None
        except Exception as exc:
            if debug:
                err_console.print(traceback.format_exc(), markup=False)
            else:
                logging.getLogger("lmgate").debug("unexpected error", exc_info=True)
            print_error(
                f"internal error: {type(exc).__name__}: {exc} (a bug in lmgate: run again with --debug "
                "for the traceback and report it)"
            )
            raise typer.Exit(ExitCode.INTERNAL) from None


app = typer.Typer(
    name="lmgate",
    cls=LmgateGroup,
    help="A fast, self-hosted LLM gateway (OpenAI and Ollama APIs; LiteLLM-compatible config).",
    epilog=EXIT_CODE_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"lmgate {_version()}")
        raise typer.Exit(ExitCode.OK)


@app.callback()
def _root(
    version_: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of a failure (for bug reports).")] = False,
) -> None:
    """A fast, self-hosted LLM gateway (OpenAI and Ollama APIs; LiteLLM-compatible config)."""


app.command("serve", epilog=EXIT_CODE_HELP)(serve_cmd.serve)
app.command("validate", epilog=EXIT_CODE_HELP)(config_cmds.validate)
app.command("models", epilog=EXIT_CODE_HELP)(config_cmds.models)
app.command("doctor", epilog=EXIT_CODE_HELP)(ops_cmds.doctor)
app.command("drill", epilog=EXIT_CODE_HELP)(ops_cmds.drill)
app.command("audit", epilog=EXIT_CODE_HELP)(ops_cmds.audit)
app.add_typer(catalog_cmds.catalog_app, name="catalog")
app.add_typer(ollama_cmds.ollama_app, name="ollama")
app.add_typer(logs_cmds.logs_app, name="logs")
app.add_typer(service_cmds.service_app, name="service")
app.add_typer(keys_cmds.keys_app, name="keys")
app.add_typer(keys_cmds.teams_app, name="teams")
app.add_typer(db_cmds.db_app, name="db")
app.command("usage", epilog=EXIT_CODE_HELP)(logs_cmds.usage)


def main() -> None:
    app()
