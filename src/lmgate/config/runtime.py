"""The compiled, immutable form of a loaded config: what the request path reads.

Built once per load (and per hot reload); plain slotted dataclasses so the hot path does attribute
reads only, never pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmgate.config.aliases import AliasTable
from lmgate.config.chains import FallbackChain, RoutingPolicy
from lmgate.core import DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_TIMEOUT_S, Deployment

if TYPE_CHECKING:
    from lmgate.config.schema import ConfigFile

__all__ = ["DEFAULT_CONNECT_TIMEOUT_S", "DEFAULT_TIMEOUT_S", "Deployment", "RuntimeConfig"]
DEFAULT_MAX_BODY_MB = 32.0
DEFAULT_WATCH_INTERVAL_S = 2.0


@dataclass(frozen=True, slots=True)
class UnsupportedDeployment:
    """A model_list entry of a provider LiteLLM knows and lmgate does not serve yet: loaded, reported
    (validate, doctor, models), never routed to."""

    alias: str
    provider: str
    model: str  # litellm_params.model as written
    where: str  # file:line
    reason: str = ""  # why it is never routed to: "provider 'bedrock' is not supported by lmgate yet"


@dataclass(slots=True)
class RuntimeConfig:
    source: Path | None
    file: ConfigFile
    deployments: list[Deployment]
    aliases: dict[str, list[Deployment]]
    warnings: list[str]
    loaded_at: int  # unix seconds; `created` in /v1/models
    policy: RoutingPolicy = field(default_factory=RoutingPolicy)
    chains: dict[str, FallbackChain] = field(default_factory=dict)  # alias -> its fallback chain
    by_name: dict[str, Deployment] = field(default_factory=dict)  # deployment name -> deployment
    # what the config exports (literal `environment_variables`); the server applies it once accepted
    environment_variables: dict[str, str] = field(default_factory=dict)
    # tolerant loads only: unset `os.environ/` variable -> the file:line problems that name it
    unset_env: dict[str, list[str]] = field(default_factory=dict)
    unsupported: list[UnsupportedDeployment] = field(default_factory=list)
    names: AliasTable = field(default_factory=AliasTable)  # group aliases and wildcards
    inert: list[str] = field(default_factory=list)  # "file:line: key: accepted, no effect in lmgate"
    # read on every request: computed once here rather than through the pydantic settings each time
    master_key: str | None = field(init=False, default=None)
    max_body_bytes: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if not self.by_name:
            self.by_name = {d.name: d for d in self.deployments}
        gs = self.file.general_settings
        self.master_key = gs.master_key.get_secret_value() if gs.master_key else None
        self.max_body_bytes = int((gs.max_request_body_mb or DEFAULT_MAX_BODY_MB) * 1024 * 1024)

    def resolve(self, requested: str) -> str | None:
        """The alias (model_name) a requested model name routes to, or None."""
        return self.names.resolve(requested, self.aliases)

    def unserved(self, alias: str) -> list[UnsupportedDeployment]:
        """The unsupported deployments of `alias` when it has no other (else empty)."""
        if alias in self.aliases:
            return []
        return [u for u in self.unsupported if u.alias == alias]

    def listed_models(self) -> list[str]:
        """What /v1/models lists: the aliases (wildcard ones aside) and the visible group aliases."""
        shown = [a for a in self.aliases if a not in self.names.wildcard_aliases]
        return shown + [g for g in self.names.listed if self.names.exact[g] in self.aliases]

    @property
    def redis_settings(self) -> dict[str, Any] | None:
        """router_settings' Redis connection (redis_url wins over redis_host/port/password); None = none."""
        rs = self.file.router_settings
        if rs.redis_url is not None:
            return {"url": rs.redis_url.get_secret_value()}
        if rs.redis_host:
            password = rs.redis_password.get_secret_value() if rs.redis_password else None
            return {"host": rs.redis_host, "port": rs.redis_port or 6379, "password": password}
        return None

    @property
    def watch_interval(self) -> float:
        """Seconds between checks of the config file for changes (0 = do not watch)."""
        value = self.file.general_settings.config_watch_interval
        return DEFAULT_WATCH_INTERVAL_S if value is None else value
