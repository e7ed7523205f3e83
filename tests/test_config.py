"""Loading LiteLLM configs: env references, line-numbered errors, warnings for unknown keys, normalisation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lmgate.config import ConfigError, compile_config, load_config

BENCH_CONFIG = Path(__file__).resolve().parents[1] / "bench" / "litellm-config.yaml"  # the config LiteLLM is benched with


def compile_text(text: str):
    return compile_config(textwrap.dedent(text), "cfg.yaml")


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        compile_text(text)
    return err.value.errors


def test_env_reference_resolves_and_never_leaks(monkeypatch):
    monkeypatch.setenv("MY_UPSTREAM_KEY", "sk-very-secret-value")
    cfg = compile_text(
        """
        model_list:
          - model_name: a
            litellm_params: {model: openai/gpt-4o, api_key: os.environ/MY_UPSTREAM_KEY}
        """
    )
    dep = cfg.aliases["a"][0]
    assert dep.api_key == "sk-very-secret-value"
    assert "sk-very-secret-value" not in repr(dep) and "sk-very-secret-value" not in repr(cfg.file)


def test_missing_env_var_names_variable_entry_and_line(monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    errs = errors_of(
        """
        model_list:
          - model_name: first
            litellm_params: {model: openai/x}
          - model_name: cloud-kimi
            litellm_params:
              model: openai/kimi
              api_key: os.environ/NOT_SET_ANYWHERE
        """
    )
    assert len(errs) == 1
    assert errs[0].startswith("cfg.yaml:8:")
    assert "NOT_SET_ANYWHERE" in errs[0] and "model_list[1] (cloud-kimi).litellm_params.api_key" in errs[0]


def test_environment_variables_section_is_exported_first(monkeypatch):
    monkeypatch.delenv("LMGATE_TEST_BASE", raising=False)
    cfg = compile_text(
        """
        environment_variables:
          LMGATE_TEST_BASE: http://10.1.2.3:8000/v1
        model_list:
          - model_name: v
            litellm_params: {model: hosted_vllm/m, api_base: os.environ/LMGATE_TEST_BASE}
        """
    )
    assert cfg.aliases["v"][0].api_base == "http://10.1.2.3:8000/v1"


def test_type_errors_name_file_and_line():
    errs = errors_of(
        """
        model_list:
          - model_name: a
            litellm_params:
              model: openai/x
              timeout: -3
        """
    )
    assert errs[0].startswith("cfg.yaml:6:") and "timeout" in errs[0] and "greater than 0" in errs[0]


def test_missing_litellm_params_is_reported():
    errs = errors_of("model_list:\n  - model_name: a\n")
    assert "model_list[0] (a).litellm_params" in errs[0] and "required" in errs[0].lower()


def test_yaml_syntax_error_has_line():
    errs = errors_of("model_list:\n  - model_name: a\n    litellm_params: {model: [\n")
    assert errs[0].startswith("cfg.yaml:") and "not valid YAML" in errs[0]


def test_unknown_provider_lists_known_ones():
    errs = errors_of(
        """
        model_list:
          - model_name: a
            litellm_params: {model: nosuchvendor/m}
        """
    )
    assert "unknown provider 'nosuchvendor'" in errs[0] and "openai" in errs[0]


def test_hosted_vllm_without_api_base_is_an_error():
    errs = errors_of(
        """
        model_list:
          - model_name: a
            litellm_params: {model: hosted_vllm/m}
        """
    )
    assert "needs an api_base" in errs[0]


def test_unknown_keys_are_kept_and_warned_not_fatal():
    cfg = compile_text(
        """
        model_list:
          - model_name: a
            litellm_params: {model: openai/x, some_future_param: 1}
        router_settings:
          routing_strategy: simple-shuffle
          brand_new_router_knob: true
        litellm_settings:
          success_callback: ["prometheus"]
        general_settings:
          master_key: sk-1
          something_enterprise: yes
        totally_new_section: {a: 1}
        """
    )
    text = "\n".join(cfg.warnings)
    for key in ("some_future_param", "brand_new_router_knob", "something_enterprise", "totally_new_section"):
        assert key in text
    assert cfg.file.model_extra == {"totally_new_section": {"a": 1}}


@pytest.mark.parametrize(
    "given, expected, note",
    [
        ("http://h:8000/v1/v1", "http://h:8000/v1", "doubled"),
        ("http://h:8000/v1/chat/completions", "http://h:8000/v1", "removed"),
        ("http://h:8000", "http://h:8000/v1", "added '/v1'"),
        ("http://h:8000/v1/", "http://h:8000/v1", None),
    ],
)
def test_api_base_normalisation_warns(given, expected, note):
    cfg = compile_text(
        f"""
        model_list:
          - model_name: a
            litellm_params: {{model: hosted_vllm/m, api_base: "{given}"}}
        """
    )
    assert cfg.aliases["a"][0].api_base == expected
    if note:
        assert any(note in w and "cfg.yaml:4" in w for w in cfg.warnings)
    else:
        assert cfg.warnings == []


def test_provider_is_the_part_before_the_first_slash():
    cfg = compile_text(
        """
        model_list:
          - model_name: groq/llama-3.3-70b
            litellm_params: {model: groq/llama-3.3-70b-versatile}
          - model_name: q
            litellm_params: {model: hosted_vllm/Qwen/Qwen2.5-7B-Instruct-AWQ, api_base: "http://g:8000/v1"}
        """
    )
    groq = cfg.aliases["groq/llama-3.3-70b"][0]
    assert (groq.provider, groq.upstream_model, groq.api_base) == (
        "groq",
        "llama-3.3-70b-versatile",
        "https://api.groq.com/openai/v1",
    )
    q = cfg.aliases["q"][0]
    assert (q.provider, q.upstream_model) == ("hosted_vllm", "Qwen/Qwen2.5-7B-Instruct-AWQ")


def test_shared_alias_gets_numbered_deployments_and_timeouts_inherit():
    cfg = compile_text(
        """
        model_list:
          - model_name: m
            litellm_params: {model: openai/a, rpm: 20}
          - model_name: m
            litellm_params: {model: openai/b, timeout: 9, connect_timeout: 1}
            model_info: {id: backup-b}
        router_settings: {timeout: 42}
        """
    )
    a, b = cfg.aliases["m"]
    assert (a.name, b.name) == ("m#1", "backup-b")
    assert (a.timeout, b.timeout, b.connect_timeout, a.connect_timeout) == (42, 9, 1, 3)
    assert a.weight == 20  # rpm is a shuffle weight, as in LiteLLM


def test_request_defaults_and_costs_in_litellm_params():
    cfg = compile_text(
        """
        model_list:
          - model_name: m
            litellm_params: {model: openai/a, temperature: 0.1, input_cost_per_token: 0.000002}
        """
    )
    d = cfg.aliases["m"][0]
    assert d.request_defaults == {"temperature": 0.1}
    assert d.info is not None and d.info.input_cost_per_token == 0.000002
    assert cfg.warnings == []


def test_embedded_default_config_needs_nothing_outside():
    cfg = load_config(None)
    assert {d.provider for d in cfg.deployments} == {"mock"}
    assert cfg.warnings == []


def test_benchmark_litellm_config_loads_unchanged():
    cfg = load_config(BENCH_CONFIG)
    assert cfg.aliases["bench-model-stream"][0].api_base == "http://127.0.0.1:18080/v1/stream"
    assert cfg.master_key == "sk-bench"


def test_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "missing.yaml")
    assert "cannot read the config file" in err.value.errors[0]
