"""`lmgate serve`."""

from __future__ import annotations

import logging
import os
import tempfile
from enum import StrEnum
from typing import Annotated

import typer

from lmgate.cli.common import CliError, ConfigOption, ExitCode, load_or_exit, print_problems


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


def serve(
    config: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 4000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes sharing the port.")] = 1,
    log_level: Annotated[LogLevel, typer.Option(case_sensitive=False, help="How much to log.")] = LogLevel.info,
) -> None:
    """Run the gateway. It binds the address first and only then logs "listening on ...": exit 2 for
    an invalid config, 3 when the address cannot be had (in use, not on this machine)."""
    logging.basicConfig(level=log_level.value.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = load_or_exit(config)
    print_problems(f"{len(cfg.warnings)} config warning(s):", cfg.warnings, "yellow")
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers share metrics through files; must be set before prometheus_client is imported.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="lmgate-metrics-")
    from lmgate.server.run import BindError
    from lmgate.server.run import serve as run  # the server stack loads only for this command

    try:
        run(cfg, host, port, workers)
    except BindError as exc:
        raise CliError(str(exc), ExitCode.UNAVAILABLE) from None
