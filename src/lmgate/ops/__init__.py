"""Operator commands' logic: doctor, catalog, drill, Ollama instance management, audit.

Each module returns plain dataclasses (with `as_json()` where a command has a `--json` form); the CLI
in `lmgate.cli` only renders them. Nothing here prints.
"""
