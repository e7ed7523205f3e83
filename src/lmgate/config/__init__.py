"""Config: the LiteLLM-compatible schema, loading and validation, and the compiled runtime form."""

from lmgate.config.loader import ConfigError, compile_config, load_config
from lmgate.config.runtime import Deployment, RuntimeConfig

__all__ = ["ConfigError", "Deployment", "RuntimeConfig", "compile_config", "load_config"]
