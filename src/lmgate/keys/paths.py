"""Where keys live and are reached: the key database's URL and LiteLLM's admin paths. Imports nothing
heavy, so a gateway with a master key and no key database yet starts without loading SQLAlchemy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lmgate.config.runtime import RuntimeConfig

DEFAULT_FILE = "lmgate.db"

# LiteLLM's admin paths -> (HTTP method, KeyAdmin operation): the only list of them (routes, CLI --url).
ADMIN_PATHS: dict[str, tuple[str, str]] = {
    "/key/generate": ("POST", "generate"),
    "/key/info": ("GET", "info"),
    "/key/update": ("POST", "update"),
    "/key/delete": ("POST", "delete"),
    "/key/list": ("GET", "list_keys"),
    "/key/block": ("POST", "block"),
    "/key/unblock": ("POST", "unblock"),
    "/key/regenerate": ("POST", "regenerate"),
    "/team/new": ("POST", "team_new"),
    "/team/info": ("GET", "team_info"),
    "/team/update": ("POST", "team_update"),
    "/team/delete": ("POST", "team_delete"),
    "/team/list": ("GET", "team_list"),
}


def default_file(config: RuntimeConfig, state_dir: Path) -> Path | None:
    """The SQLite file used when general_settings.database_url is not set (None when it is)."""
    return state_dir / DEFAULT_FILE if config.file.general_settings.database_url is None else None


def database_url(config: RuntimeConfig, state_dir: Path) -> str:
    """general_settings.database_url, else a SQLite file in the state directory."""
    url = config.file.general_settings.database_url
    return url.get_secret_value() if url is not None else f"sqlite:///{state_dir / DEFAULT_FILE}"
