"""Config: the LiteLLM-compatible schema, loading and validation, and the compiled runtime form."""

from lmgate.config.loader import ConfigError, compile_config, load_config
from lmgate.config.runtime import RuntimeConfig
from lmgate.core import Deployment

__all__ = ["ConfigError", "Deployment", "RuntimeConfig", "compile_config", "load_config"]
