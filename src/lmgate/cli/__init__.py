"""The `lmgate` command line: one module per command group, wired here."""

from __future__ import annotations

import typer

from lmgate.cli import (
    catalog_cmds,
    config_cmds,
    db_cmds,
    keys_cmds,
    logs_cmds,
    ollama_cmds,
    ops_cmds,
    serve_cmd,
)

app = typer.Typer(
    name="lmgate",
    help="A fast, self-hosted LLM gateway (OpenAI, Ollama and Anthropic APIs; LiteLLM-compatible config).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve_cmd.serve)
app.command("validate")(config_cmds.validate)
app.command("models")(config_cmds.models)
app.command("doctor")(ops_cmds.doctor)
app.command("drill")(ops_cmds.drill)
app.command("audit")(ops_cmds.audit)
app.add_typer(catalog_cmds.catalog_app, name="catalog")
app.add_typer(ollama_cmds.ollama_app, name="ollama")
app.add_typer(logs_cmds.logs_app, name="logs")
app.command("usage")(logs_cmds.usage)
app.add_typer(keys_cmds.keys_app, name="keys")
app.add_typer(keys_cmds.teams_app, name="teams")
app.add_typer(db_cmds.db_app, name="db")


def main() -> None:
    app()
