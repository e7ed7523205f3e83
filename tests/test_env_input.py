"""The environment as an input (issue 11 item 4): compiling reads a mapping and never writes os.environ;
a rejected reload changes nothing in the running process; workers get their identity as an argument."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import httpx
import pytest

from lmgate.config import ConfigError, compile_config
from lmgate.limits import Quota
from lmgate.providers.http import UpstreamPool
from lmgate.routing import Router
from lmgate.workers import WorkerIdentity
from tests.processes import serving
from tests.routing_kit import MASTER

AUTH = {"Authorization": f"Bearer {MASTER}"}
LEAK = "LMGATE_TEST_LEAKED_BY_A_REJECTED_RELOAD"


def _config(*, env_block: str = "", key: str = "none", extra_model: str = "") -> str:
    return textwrap.dedent(f"""\
        {env_block}
        model_list:
          - model_name: demo
            litellm_params: {{model: mock/echo, api_key: {key}}}
        {extra_model}
        general_settings: {{master_key: {MASTER}, config_watch_interval: 0, request_log_path: false}}
        """)


def test_compiling_reads_the_given_mapping_and_writes_nothing(monkeypatch):
    monkeypatch.delenv("LMGATE_T_EXPORTED", raising=False)
    monkeypatch.setenv("LMGATE_T_KEY", "from-os-environ")
    text = _config(env_block="environment_variables: {LMGATE_T_EXPORTED: exported-value}", key="os.environ/LMGATE_T_KEY")
    cfg = compile_config(text, "c.yaml", env={"LMGATE_T_KEY": "from-the-mapping"})
    assert cfg.deployments[0].api_key == "from-the-mapping"
    assert cfg.environment_variables == {"LMGATE_T_EXPORTED": "exported-value"}
    assert "LMGATE_T_EXPORTED" not in os.environ, "compiling must not export; the server does, once accepted"


def test_a_config_resolves_references_to_its_own_environment_variables():
    text = _config(env_block="environment_variables: {LMGATE_T_OWN: own-key}", key="os.environ/LMGATE_T_OWN")
    assert compile_config(text, "c.yaml", env={}).deployments[0].api_key == "own-key"


def test_tolerant_mode_reports_unset_variables_by_name_and_place():
    text = _config(key="os.environ/LMGATE_T_NOWHERE")
    with pytest.raises(ConfigError) as exc:
        compile_config(text, "c.yaml", env={})
    assert exc.value.unset_env.keys() == {"LMGATE_T_NOWHERE"}
    cfg = compile_config(text, "c.yaml", env={}, tolerant=True)
    assert list(cfg.unset_env) == ["LMGATE_T_NOWHERE"]
    assert cfg.unset_env["LMGATE_T_NOWHERE"][0].startswith("c.yaml:4: model_list[0] (demo).litellm_params.api_key")
    assert "LMGATE_T_NOWHERE" not in os.environ


def test_a_rejected_reload_exports_nothing_into_the_running_server(tmp_path: Path):
    """Through a real `lmgate serve`: a rejected config's environment_variables must not stay behind.

    Had the rejected config exported LEAK, the third config (which reads os.environ/LEAK without
    declaring it) would be accepted; it must be refused because LEAK is still unset in the server.
    """
    cfg = tmp_path / "config.yaml"
    cfg.write_text(_config())
    env = {k: v for k, v in os.environ.items() if k != LEAK}
    with serving("--config", str(cfg), env=env) as url:
        cfg.write_text(_config(env_block=f"environment_variables: {{{LEAK}: leaked}}", extra_model="  - {model_name: bad, litellm_params: {model: nosuch/x}}"))
        rejected = httpx.post(url + "/config/reload", headers=AUTH, timeout=15)
        assert rejected.status_code == 400 and "unknown provider" in rejected.text
        cfg.write_text(_config(key=f"os.environ/{LEAK}"))
        second = httpx.post(url + "/config/reload", headers=AUTH, timeout=15)
        assert second.status_code == 400, "the rejected config's environment_variables leaked into the server"
        assert f"environment variable {LEAK} is not set" in second.text
        # and an accepted config's exports do reach the process (LiteLLM's behaviour), for later reloads
        cfg.write_text(_config(env_block=f"environment_variables: {{{LEAK}: now-set}}"))
        assert httpx.post(url + "/config/reload", headers=AUTH, timeout=15).status_code == 200
        cfg.write_text(_config(key=f"os.environ/{LEAK}"))
        assert httpx.post(url + "/config/reload", headers=AUTH, timeout=15).status_code == 200


def test_a_worker_gets_its_share_of_in_process_quotas_from_its_identity():
    cfg = compile_config(
        "model_list: [{model_name: m, litellm_params: {model: mock/echo, rpm: 10, tpm: 1000}}]\n", "c.yaml", env={}
    )
    alone = Router(cfg, UpstreamPool())
    third = Router(cfg, UpstreamPool(), worker=WorkerIdentity(2, 3))
    assert alone.quota_of("m") == Quota(rpm=10, tpm=1000)
    assert third.quota_of("m") == Quota(rpm=3, tpm=333)

