"""Helpers for the key-limit and budget tests: a config with a paid upstream (a loopback fake priced by
model_info: 0.01 USD per output token, input free, so a request with max_tokens 4 reserves exactly
what it costs), a zero-cost one (mock) and a chain paid -> free."""

from __future__ import annotations

from typing import Any

import openai

from tests.keys_kit import MASTER

PRICE_OUT = 0.01  # USD per output token
COST = 4 * PRICE_OUT  # the fake upstream answers 4 completion tokens


def limits_config(upstream_base: str, database_url: str, log_path: str, router: str = "", extra: str = "") -> str:
    return f"""
model_list:
  - model_name: paid
    litellm_params: {{model: openai/gpt-4o, api_base: {upstream_base}, api_key: sk-up}}
    model_info: {{input_cost_per_token: 0.0, output_cost_per_token: {PRICE_OUT}}}
  - model_name: tiered
    litellm_params: {{model: openai/gpt-4o, api_base: {upstream_base}, api_key: sk-up}}
    model_info: {{input_cost_per_token: 0.0, output_cost_per_token: {PRICE_OUT}}}
  - model_name: free
    litellm_params: {{model: mock/echo}}
  - model_name: free-slow
    litellm_params: {{model: mock/echo, mock_latency: 0.6}}
router_settings:
  fallbacks: [{{tiered: [free]}}]
  {router}
general_settings:
  master_key: {MASTER}
  database_url: {database_url}
  request_log_path: {log_path}
  request_log_flush_seconds: 0.05
{extra}
"""


def client(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=20)


def ask(url: str, key: str, model: str = "paid") -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) of one chat request through the real OpenAI SDK."""
    try:
        raw = client(url, key).chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
    except openai.APIStatusError as exc:
        return exc.status_code, exc.response.json(), dict(exc.response.headers)
    return raw.http_response.status_code, raw.http_response.json(), dict(raw.headers)
