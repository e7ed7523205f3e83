"""LiteLLM keys lmgate accepts and does not act on: `lmgate validate` lists each one that is set, so
nothing a LiteLLM config asks for is ignored silently. docs/config.md has the same list with the
keys lmgate does implement. Keys neither knows are reported separately ("unknown key")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())

# section ("" = top level, "litellm_params" = every model_list entry's) -> keys accepted with no effect
NO_EFFECT: dict[str, frozenset[str]] = {
    "": _names(
        """
        finetune_settings files_settings credential_list assistant_settings mcp_servers vector_store_registry
        guardrails prompts search_tools
        """
    ),
    "litellm_params": _names(
        """
        region_name mock_timeout input_cost_per_second output_cost_per_second base_model
        use_in_pass_through litellm_credential_name merge_reasoning_content_in_choices tags
        """
    ),
    "router_settings": _names(
        """
        enable_pre_call_checks model_group_retry_policy routing_strategy_args cache_responses cache_kwargs
        caching_groups client_ttl default_litellm_params set_verbose debug_level retry_after
        provider_budget_config optional_pre_call_checks enable_tag_filtering tag_filtering_match_any
        polling_interval ignore_invalid_deployments alerting_config assistants_config redis_db
        cooldown_cache_ttl deployment_affinity_ttl_seconds router_general_settings
        """
    ),
    "litellm_settings": _names(
        """
        cache cache_params set_verbose json_logs failure_callback service_callbacks turn_off_message_logging
        redact_user_api_key_info langfuse_default_tags modify_params enable_preview_features force_ipv4
        default_team_settings max_budget budget_duration upperbound_key_generate_params
        default_internal_user_params ssl_verify disable_end_user_cost_tracking key_generation_settings
        guardrails max_internal_user_budget public_model_groups enable_json_schema_validation
        max_end_user_budget return_response_headers redact_messages_in_exceptions default_key_generate_params
        disable_add_transform_inline_image_block telemetry model_group_settings
        """
    ),
    "general_settings": _names(
        """
        store_model_in_db background_health_checks health_check_interval health_check_details
        max_parallel_requests global_max_parallel_requests maximum_spend_logs_retention_period
        maximum_spend_logs_retention_interval proxy_batch_write_at alerting alerting_threshold alert_types
        alert_to_webhook_url allowed_routes admin_only_routes enforce_user_param enable_jwt_auth
        litellm_jwtauth custom_auth custom_key_generate key_management_system key_management_settings
        use_redis_transaction_buffer disable_master_key_return disable_retry_on_max_parallel_request_limit_error
        database_connection_pool_limit database_connection_timeout allow_requests_on_db_unavailable
        infer_model_from_keys ui_access_mode pass_through_endpoints spend_report_frequency disable_reset_budget
        forward_client_headers_to_llm_api embedding_model user_header_name enable_oauth2_auth allowed_ips
        disable_prisma_schema_update public_routes custom_sso proxy_budget_rescheduler_min_time
        proxy_budget_rescheduler_max_time
        """
    ),
}
# callbacks lmgate acts on (everything else named in litellm_settings.callbacks / success_callback is inert)
ACTIVE_CALLBACKS = frozenset({"otel", "prometheus"})  # prometheus: /metrics is always served
CALLBACK_KEYS = ("callbacks", "success_callback")


def inert_keys(data: dict[str, Any]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, message) for every key set in `data` (the raw config) that lmgate does not act on."""
    for section, keys in NO_EFFECT.items():
        if section == "litellm_params":
            continue
        values = data if section == "" else data.get(section)
        if not isinstance(values, dict):
            continue
        for key in values:
            if key in keys and values[key] is not None:
                yield (*((section,) if section else ()), key), f"accepted, no effect in lmgate: {key}"
    entries = data.get("model_list")
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        params = entry.get("litellm_params") if isinstance(entry, dict) else None
        for key in params if isinstance(params, dict) else ():
            if key in NO_EFFECT["litellm_params"]:
                yield ("model_list", i, "litellm_params", key), f"accepted, no effect in lmgate: {key}"
    settings = data.get("litellm_settings")
    if isinstance(settings, dict):
        for key in CALLBACK_KEYS:
            value = settings.get(key)
            names = value if isinstance(value, list) else [value] if isinstance(value, str) else []
            for i, name in enumerate(names):
                if isinstance(name, str) and name not in ACTIVE_CALLBACKS:
                    yield ("litellm_settings", key, i), f"accepted, no effect in lmgate: callback '{name}'"
