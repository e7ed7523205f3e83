"""The config.yaml schema: LiteLLM's proxy keys plus lmgate's namespaced extensions (see docs/config.md).

Validated once at load time. Every section keeps keys it does not know (`extra="allow"`) so a real
LiteLLM config never fails to load; the loader reports those keys as warnings.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class LitellmParams(_Section):
    model: str
    api_base: str | None = None
    api_key: SecretStr | None = None
    timeout: float | None = Field(default=None, gt=0)
    stream_timeout: float | None = Field(default=None, gt=0)
    connect_timeout: float | None = Field(default=None, gt=0)  # lmgate extension
    max_retries: int | None = Field(default=None, ge=0)
    rpm: int | None = Field(default=None, ge=0)
    tpm: int | None = Field(default=None, ge=0)
    rpd: int | None = Field(default=None, ge=0)  # lmgate extension: upstream requests/day quota
    weight: float | None = Field(default=None, ge=0)
    extra_headers: dict[str, str] = Field(default_factory=dict)
    organization: str | None = None
    max_parallel_requests: int | None = Field(default=None, ge=1)
    drop_params: bool | None = None
    additional_drop_params: list[str] | None = None

    @field_validator("model")
    @classmethod
    def _model_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must be '<provider>/<upstream model>', e.g. openai/gpt-4o")
        return v


class ModelInfo(_Section):
    """LiteLLM's model_info is free-form; these are the keys lmgate reads."""

    id: str | None = None
    mode: str | None = None
    max_tokens: int | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    supports_vision: bool | None = None
    fallback_target: bool = True  # lmgate extension: false = explicit-only, never in a chain
    # lmgate extension: what the upstream does with prompts; unset = none when local, else unknown
    data_policy: Literal["none", "retains", "trains"] | None = None


class ModelEntry(_Section):
    model_name: str
    litellm_params: LitellmParams
    model_info: ModelInfo = Field(default_factory=ModelInfo)

    @field_validator("model_name")
    @classmethod
    def _alias_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("model_name (the alias clients send) must not be empty")
        return v


FallbackList = list[dict[str, list[str]]]


class UsageLimitCooldowns(BaseModel):
    """Seconds a deployment is cooled down after Ollama Cloud says a usage limit is reached (its 429
    carries no reset time)."""

    model_config = ConfigDict(extra="forbid")
    session: float = Field(default=3600.0, gt=0)
    weekly: float = Field(default=86400.0, gt=0)


class FreeTierLimits(BaseModel):
    """OpenRouter's free limits, account-wide (defaults: its documented 20/min, 1000/day, 50/day for
    an account that never bought credits)."""

    model_config = ConfigDict(extra="forbid")
    rpm: int = Field(default=20, ge=1)
    rpd: int = Field(default=1000, ge=1)
    rpd_free_tier: int = Field(default=50, ge=1)


class RouterSettings(_Section):
    routing_strategy: Literal[
        "simple-shuffle",
        "least-busy",
        "usage-based-routing",
        "usage-based-routing-v2",
        "latency-based-routing",
        "cost-based-routing",
    ] = "simple-shuffle"
    num_retries: int | None = Field(default=None, ge=0)
    timeout: float | None = Field(default=None, gt=0)
    stream_timeout: float | None = Field(default=None, gt=0)
    connect_timeout: float | None = Field(default=None, gt=0)  # lmgate extension
    max_fallbacks: int | None = Field(default=None, ge=0)
    allowed_fails: int | None = Field(default=None, ge=0)
    cooldown_time: float | None = Field(default=None, ge=0)
    disable_cooldowns: bool | None = None
    retry_policy: dict[str, Any] | None = None
    allowed_fails_policy: dict[str, Any] | None = None
    redis_host: str | None = None
    redis_port: int | None = None
    redis_password: SecretStr | None = None
    redis_url: SecretStr | None = None
    enable_pre_call_checks: bool | None = None
    default_max_parallel_requests: int | None = Field(default=None, ge=1)
    model_group_alias: dict[str, Any] | None = None
    fallbacks: FallbackList | None = None
    context_window_fallbacks: FallbackList | None = None
    content_policy_fallbacks: FallbackList | None = None
    default_fallbacks: list[str] | None = None
    retry_backoff_base: float | None = Field(default=None, ge=0)  # lmgate extension
    retry_backoff_max: float | None = Field(default=None, ge=0)  # lmgate extension
    recursive_fallbacks: bool | None = None  # lmgate extension
    wait_for_cooldown_s: float | None = Field(default=None, ge=0)  # lmgate extension
    ollama_prefer_loaded: bool | None = None  # lmgate extension
    ollama_ps_interval: float | None = Field(default=None, gt=0)  # lmgate extension
    # lmgate extensions: data-policy routing and provider-wide limits (docs/config.md)
    strict_aliases: list[str] | None = None  # requests for these aliases are strict-privacy requests
    ollama_cloud_cooldowns: UsageLimitCooldowns | None = None  # cool-down per Ollama Cloud usage limit
    free_tier_check_interval: float | None = Field(default=None, gt=0)  # seconds between GET /key checks
    openrouter_free_limits: FreeTierLimits | None = None  # OpenRouter's account-wide free limits


class LitellmSettings(_Section):
    fallbacks: FallbackList | None = None
    context_window_fallbacks: FallbackList | None = None
    content_policy_fallbacks: FallbackList | None = None
    default_fallbacks: list[str] | None = None
    request_timeout: float | None = Field(default=None, gt=0)
    drop_params: bool | None = None
    num_retries: int | None = Field(default=None, ge=0)
    callbacks: list[str] | str | None = None
    success_callback: list[str] | None = None
    failure_callback: list[str] | None = None
    cache: bool | None = None
    cache_params: dict[str, Any] | None = None
    set_verbose: bool | None = None
    json_logs: bool | None = None
    litellm_compat_metrics: bool | None = None  # lmgate extension


class GeneralSettings(_Section):
    master_key: SecretStr | None = None
    database_url: SecretStr | None = None
    store_model_in_db: bool | None = None
    disable_spend_logs: bool | None = None
    background_health_checks: bool | None = None
    health_check_interval: float | None = Field(default=None, gt=0)
    max_parallel_requests: int | None = None
    global_max_parallel_requests: int | None = None
    maximum_spend_logs_retention_period: str | None = None
    require_auth_for_metrics_endpoint: bool | None = None
    proxy_batch_write_at: float | None = None
    allow_remote_images: bool | None = None  # lmgate extension
    log_content: bool | None = None  # lmgate extension
    metrics: bool = True  # lmgate extension: false turns /metrics and per-request counting off
    request_log_path: str | bool | None = None
    request_log_flush_seconds: float = Field(default=0.5, gt=0)  # lmgate extension  # lmgate extension: JSONL request log; false disables
    max_request_body_mb: float | None = Field(default=None, gt=0)  # lmgate extension
    config_watch_interval: float | None = Field(default=None, ge=0)  # lmgate extension, 0 = off
    # lmgate extensions for /v1/responses: keep `store: true` responses (false = never store anything),
    # how long, and the secret that seals reasoning for `include: ["reasoning.encrypted_content"]`
    responses_store: bool = True
    responses_retention_days: float = Field(default=30, gt=0)
    responses_secret: SecretStr | None = None
    # lmgate extension: the output tokens a budget reservation assumes when neither the request nor the
    # model's model_info names an output limit (docs/keys.md#budgets)
    budget_default_max_tokens: int = Field(default=4096, ge=1)


class ConfigFile(_Section):
    environment_variables: dict[str, Any] = Field(default_factory=dict)
    model_list: list[ModelEntry] = Field(default_factory=list)
    router_settings: RouterSettings = Field(default_factory=RouterSettings)
    litellm_settings: LitellmSettings = Field(default_factory=LitellmSettings)
    general_settings: GeneralSettings = Field(default_factory=GeneralSettings)

    @field_validator("router_settings", "litellm_settings", "general_settings", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        return {} if v is None else v

    @field_validator("model_list", mode="before")
    @classmethod
    def _none_is_empty_list(cls, v: Any) -> Any:
        return [] if v is None else v

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _none_is_empty_dict(cls, v: Any) -> Any:
        return {} if v is None else v
