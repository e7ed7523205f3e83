"""The process environment a running gateway keeps in step with its accepted config."""

from __future__ import annotations

import os

from lmgate.config.runtime import RuntimeConfig


def export_environment(config: RuntimeConfig) -> None:
    """Apply the config's literal `environment_variables` (LiteLLM's behaviour: libraries the gateway
    loads, e.g. OpenTelemetry, read them). Called only for a config that was accepted, at start-up and
    after a successful reload, never while one is still being validated."""
    os.environ.update(config.environment_variables)
