"""The systemd user unit that runs the gateway, rendered from one template.

`lmgate service install --user` fills it in for the current virtualenv; deploy/systemd/lmgate.service
is the same template with `%h` paths (a test keeps the two in step). Pure text in, text out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from lmgate.config.loader import ENV_PREFIX

UNIT_NAME = "lmgate.service"

_UNIT = """\
# lmgate as a systemd user unit: `systemctl --user enable --now lmgate`.
# Written by `lmgate service install --user` (docs/deploy.md, "Workstation: systemd user unit").
[Unit]
Description=lmgate LLM gateway
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
# Secrets the config's os.environ/NAME references read (OLLAMA_API_KEY=...); keep it chmod 600.
EnvironmentFile=-{env_file}
ExecStart={exec_start}
# A config reload without a restart (the file is watched as well).
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2
TimeoutStopSec=20
# The request log and its spool: $XDG_STATE_HOME/lmgate (lmgate's default state dir).
StateDirectory=lmgate
UMask=0077
# Hardening that a user manager can apply (seccomp-based, allowed once NoNewPrivileges is set).
NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service

[Install]
WantedBy=default.target
"""

_PLAIN_WORD = re.compile(r"[A-Za-z0-9_./:=@+,-]+")


def quote_word(word: str) -> str:
    """One command-line word for ExecStart: `%` and `$` escaped, quoted when it holds anything else."""
    escaped = word.replace("%", "%%").replace("$", "$$")
    if _PLAIN_WORD.fullmatch(escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_path(path: str) -> str:
    """A path for EnvironmentFile= (taken whole, no quoting): only `%` needs escaping."""
    return path.replace("%", "%%")


@dataclass(frozen=True, slots=True)
class UnitSpec:
    """What varies between installs; `exec_start` and `env_file` are already in systemd syntax."""

    exec_start: str
    env_file: str


def serve_words(lmgate: str, config: str | None, host: str, port: int, workers: int) -> list[str]:
    """`lmgate serve ...` as the unit runs it."""
    words = [lmgate, "serve"]
    if config is not None:
        words += ["--config", config]
    words += ["--host", host, "--port", str(port)]
    if workers > 1:
        words += ["--workers", str(workers)]
    return words


def render_unit(spec: UnitSpec) -> str:
    return _UNIT.format(exec_start=spec.exec_start, env_file=spec.env_file)


def env_file_template(names: Iterable[str]) -> str:
    """A starting environment file: one commented line per variable the config references."""
    lines = [
        "# Environment for the lmgate user unit (EnvironmentFile=). Keep this file chmod 600, out of git.",
        "# One NAME=value per line; the config reads them through os.environ/NAME.",
    ]
    lines += [f"# {name}=" for name in names]
    return "\n".join(lines) + "\n"


def env_references(value: Any) -> Iterator[str]:
    """Every variable named by an `os.environ/NAME` string anywhere in a parsed YAML value (the env
    file lists them, set in this shell or not)."""
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        yield value[len(ENV_PREFIX) :].strip()
    elif isinstance(value, dict):
        for v in value.values():
            yield from env_references(v)
    elif isinstance(value, list):
        for v in value:
            yield from env_references(v)
