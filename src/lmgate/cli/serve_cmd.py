"""`lmgate serve`."""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Annotated

import typer

from lmgate.cli.common import ConfigOption, load_or_exit, print_problems


def serve(
    config: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 4000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes sharing the port.")] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the gateway."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = load_or_exit(config)
    print_problems(f"{len(cfg.warnings)} config warning(s):", cfg.warnings, "yellow")
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers share metrics through files; must be set before prometheus_client is imported.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="lmgate-metrics-")
    from lmgate.server.run import serve as run  # the server stack loads only for this command

    run(cfg, host, port, workers)
