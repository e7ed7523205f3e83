"""/metrics scraped over real HTTP after real requests, parsed with prometheus_client's parser."""

from __future__ import annotations

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import Behaviour, FakeOpenAIUpstream, ServerThread
from tests.wait import wait_for

KEY = "sk-metrics-secret-123456789"


def config(upstream: FakeOpenAIUpstream, extra: str = "") -> str:
    return f"""
model_list:
  - model_name: gpt-local
    litellm_params: {{model: openai/served, api_base: "{upstream.base}", api_key: {KEY}}}
  - model_name: demo
    litellm_params: {{model: mock/echo}}
router_settings:
  num_retries: 0
general_settings:
  request_log_path: false
{extra}
"""


def scrape(gw: ServerThread) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(gw.url + "/metrics").text
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, metric: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == metric and labels.items() <= dict(ls).items())


@pytest.fixture
def gw(upstream, make_gateway) -> ServerThread:
    return make_gateway(config(upstream))


def test_requests_tokens_and_latency_are_counted(gw, upstream):
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0)
    msgs = [{"role": "user", "content": "one two"}]
    for _ in range(3):
        client.chat.completions.create(model="gpt-local", messages=msgs)
    list(client.chat.completions.create(model="demo", messages=msgs, stream=True))
    upstream.script = [Behaviour("status", 503)]
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-local", messages=msgs)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such", messages=msgs)

    m = scrape(gw)
    ok = {"requested_model": "gpt-local", "model_group": "gpt-local", "deployment": "gpt-local",
          "provider": "openai", "status_code": "200", "inbound_protocol": "openai"}
    assert value(m, "lmgate_requests_total", **ok) == 3
    assert value(m, "lmgate_requests_total", requested_model="gpt-local", status_code="503") == 1
    assert value(m, "lmgate_requests_total", requested_model="no-such", status_code="404") == 1
    assert value(m, "lmgate_input_tokens_total", deployment="gpt-local") == 15  # upstream reports 5 each
    assert value(m, "lmgate_output_tokens_total", deployment="demo") == 3  # "echo: one two"
    assert value(m, "lmgate_request_duration_seconds_count", requested_model="gpt-local") == 4
    assert value(m, "lmgate_time_to_first_token_seconds_count", requested_model="demo") == 1
    assert value(m, "lmgate_upstream_failures_total", deployment="gpt-local", provider="openai", outcome="503") == 1
    assert value(m, "lmgate_in_flight_requests") == 0


def test_no_secret_or_address_in_metrics(gw, upstream):
    openai.OpenAI(base_url=gw.url + "/v1", api_key="x").chat.completions.create(
        model="gpt-local", messages=[{"role": "user", "content": "hi"}]
    )
    text = httpx.get(gw.url + "/metrics").text
    assert KEY not in text and "127.0.0.1" not in text and "hi" not in text.split()


def test_litellm_compatible_names_when_enabled(upstream, make_gateway):
    gw = make_gateway(config(upstream, "litellm_settings:\n  litellm_compat_metrics: true\n"))
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0)
    client.chat.completions.create(model="gpt-local", messages=[{"role": "user", "content": "hi"}])
    m = scrape(gw)
    assert value(m, "litellm_proxy_total_requests_metric_total", requested_model="gpt-local", status_code="200") == 1
    assert value(m, "litellm_input_tokens_metric_total", requested_model="gpt-local") == 5
    assert value(m, "litellm_deployment_success_responses_total", requested_model="gpt-local") == 1
    assert value(m, "litellm_request_total_latency_metric_count", requested_model="gpt-local") == 1


def test_metrics_need_the_key_only_when_configured(upstream, make_gateway):
    open_gw = make_gateway(config(upstream, "  master_key: sk-m"))
    assert httpx.get(open_gw.url + "/metrics").status_code == 200
    locked = make_gateway(config(upstream, "  master_key: sk-m\n  require_auth_for_metrics_endpoint: true"))
    assert httpx.get(locked.url + "/metrics").status_code == 401
    assert httpx.get(locked.url + "/metrics", headers={"Authorization": "Bearer sk-m"}).status_code == 200


def test_ollama_clients_are_counted_as_ollama_inbound(gw):
    import ollama

    ollama.Client(host=gw.url).chat(model="demo", messages=[{"role": "user", "content": "a b"}], stream=False)
    m = scrape(gw)
    assert value(m, "lmgate_requests_total", requested_model="demo", inbound_protocol="ollama", status_code="200") == 1


def test_counts_add_up_across_workers():
    from tests.processes import serving
    from tests.test_cli import EXAMPLES

    with serving("--config", str(EXAMPLES / "mock-only.yaml"), "--workers", "2") as url:
        for _ in range(20):  # a new connection each time, so both workers take requests
            r = httpx.post(url + "/v1/chat/completions", headers={"Authorization": "Bearer sk-demo", "Connection": "close"},
                           json={"model": "demo", "messages": [{"role": "user", "content": "x"}]})
            assert r.status_code == 200
        def total() -> float:
            text = httpx.get(url + "/metrics", headers={"Authorization": "Bearer sk-demo", "Connection": "close"}).text
            return sum(
                s.value for f in text_string_to_metric_families(text) for s in f.samples
                if s.name == "lmgate_requests_total" and s.labels.get("requested_model") == "demo"
            )

        # each worker moves its counts into the shared files within 0.25 s (server/observe.py)
        wait_for(lambda: total() == 20, "both workers' counts to reach the shared files", interval=0.2)
        for _ in range(3):  # whichever worker answers the scrape, the totals are the same
            assert total() == 20


def test_deployment_state_and_quota_rejections(upstream, make_gateway):
    gw = make_gateway(f"""
model_list:
  - model_name: free-model
    litellm_params: {{model: openrouter/some/model:free, api_base: "{upstream.base}", rpm: 1}}
  - model_name: demo
    litellm_params: {{model: mock/echo}}
general_settings:
  request_log_path: false
""")
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0)
    client.chat.completions.create(model="free-model", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="free-model", messages=[{"role": "user", "content": "x"}])
    assert len(upstream.seen) == 1, "the exhausted upstream is never asked"
    m = scrape(gw)
    assert value(m, "lmgate_deployment_state", deployment="free-model", state="over_quota") == 1
    assert value(m, "lmgate_deployment_state", deployment="free-model", state="healthy") == 0
    assert value(m, "lmgate_deployment_state", deployment="demo", state="healthy") == 1
    assert value(m, "lmgate_rate_limit_rejections_total", scope="upstream_quota", name="free-model") == 1


def test_grafana_dashboard_only_uses_exported_metrics(gw):
    import json
    import re
    from pathlib import Path

    dash = json.loads((Path(__file__).resolve().parents[1] / "examples" / "grafana" / "lmgate-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {re.sub(r"_(bucket|total)$", "", n) for e in exprs for n in re.findall(r"lmgate_[a-z_]+", e)}
    openai.OpenAI(base_url=gw.url + "/v1", api_key="x").chat.completions.create(
        model="demo", messages=[{"role": "user", "content": "x"}]
    )
    exported = {f.name for f in text_string_to_metric_families(httpx.get(gw.url + "/metrics").text)}
    assert used and used <= exported, used - exported


def test_metrics_can_be_turned_off(upstream, make_gateway):
    gw = make_gateway(config(upstream, "  metrics: false"))
    openai.OpenAI(base_url=gw.url + "/v1", api_key="x").chat.completions.create(
        model="demo", messages=[{"role": "user", "content": "x"}]
    )
    r = httpx.get(gw.url + "/metrics")
    assert r.status_code == 404 and "metrics: false" in r.json()["error"]["message"]


def test_fallbacks_and_failed_attempts_are_counted(upstream, make_gateway):
    from tests.servers import closed_port

    gw = make_gateway(f"""
model_list:
  - model_name: cloud
    litellm_params: {{model: openai/c, api_base: "http://127.0.0.1:{closed_port()}/v1"}}
  - model_name: local
    litellm_params: {{model: openai/l, api_base: "{upstream.base}"}}
litellm_settings:
  fallbacks: [{{cloud: [local]}}]
general_settings: {{request_log_path: false}}
""")
    raw = openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0).chat.completions.with_raw_response.create(
        model="cloud", messages=[{"role": "user", "content": "x"}]
    )
    assert raw.headers["x-lmgate-deployment"] == "local"
    m = scrape(gw)
    assert value(m, "lmgate_fallbacks_total", from_model="cloud", to_model="local", reason="unreachable") == 1
    assert value(m, "lmgate_upstream_failures_total", deployment="cloud", outcome="unreachable") == 1
    assert value(m, "lmgate_requests_total", requested_model="cloud", model_group="local", status_code="200") == 1


def test_client_hanging_up_mid_stream_is_counted_as_499_without_an_error_log(gw, upstream, caplog):
    upstream.script = [Behaviour("slow_stream", content=" ".join(["w"] * 200), delay=0.05)]
    body = {"model": "gpt-local", "messages": [{"role": "user", "content": "x"}], "stream": True}
    with httpx.stream("POST", gw.url + "/v1/chat/completions", json=body, timeout=10) as r:
        for _ in r.iter_bytes():
            break  # read the first bytes, then hang up
    wait_for(lambda: value(scrape(gw), "lmgate_requests_total", requested_model="gpt-local", status_code="499") == 1,
             "the hung-up request to be counted as 499", 5)
    assert not [rec for rec in caplog.records if rec.levelname in ("ERROR", "CRITICAL")]
