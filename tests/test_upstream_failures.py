"""Upstreams that misbehave on purpose: what the OpenAI SDK sees through lmgate."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.servers import Behaviour, FakeOpenAIUpstream, ServerThread, closed_port
from tests.wait import wait_for

KEY = "sk-live-abcdefghijklmnop1234"
MSGS = [{"role": "user", "content": "hi"}]


def one_model(api_base: str, extra_params: str = "") -> str:
    return f"""
model_list:
  - model_name: m
    litellm_params:
      model: openai/up-model
      api_base: {api_base}
      api_key: {KEY}
      timeout: 2
      {extra_params}
router_settings:
  num_retries: 0   # these tests look at one attempt's failure mapping; retries are tested with the router
"""


@pytest.fixture
def gw(upstream: FakeOpenAIUpstream, make_gateway) -> ServerThread:
    return make_gateway(one_model(upstream.base))


def sdk(gw: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0, timeout=15)


def test_upstream_500_keeps_message_and_status(gw, upstream):
    upstream.script = [Behaviour("status", 500, body={"error": {"message": "CUDA out of memory"}})]
    with pytest.raises(openai.InternalServerError) as err:
        sdk(gw).chat.completions.create(model="m", messages=MSGS)
    assert err.value.status_code == 500
    assert "CUDA out of memory" in str(err.value)


def test_upstream_secret_echo_is_scrubbed(gw, upstream):
    body = {"error": {"message": f"Incorrect API key provided: {KEY}. Also sk-other-zzzzzzzzzzzz leaked"}}
    upstream.script = [Behaviour("status", 401, body=body)]
    r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "m", "messages": MSGS})
    assert r.status_code == 401
    assert KEY not in r.text and "sk-other-zzzz" not in r.text
    assert "Incorrect API key provided" in r.json()["error"]["message"]


def test_upstream_429_maps_to_rate_limit_with_retry_after(gw, upstream):
    upstream.script = [Behaviour("status", 429, headers={"Retry-After": "7"})]
    with pytest.raises(openai.RateLimitError) as err:
        sdk(gw).chat.completions.create(model="m", messages=MSGS)
    assert err.value.response.headers["retry-after"] == "7"


def test_vllm_flat_error_shape_is_understood(gw, upstream):
    flat = {"object": "error", "message": "maximum context length is 4096 tokens", "type": "BadRequestError", "code": 400}
    upstream.script = [Behaviour("status", 400, body=flat)]
    with pytest.raises(openai.BadRequestError) as err:
        sdk(gw).chat.completions.create(model="m", messages=MSGS)
    assert "maximum context length" in str(err.value)


@pytest.mark.parametrize("kind, fragment", [("garbage", "not JSON"), ("html", "text/html")])
def test_garbage_or_wrong_content_type_is_502(gw, upstream, kind, fragment):
    upstream.script = [Behaviour(kind)]
    r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "m", "messages": MSGS})
    assert r.status_code == 502
    assert fragment in r.json()["error"]["message"]
    assert "Traceback" not in r.text


def test_reset_before_answer_is_502(gw, upstream):
    upstream.script = [Behaviour("reset")]
    with pytest.raises(openai.APIStatusError) as err:
        sdk(gw).chat.completions.create(model="m", messages=MSGS)
    assert err.value.status_code == 502
    assert "closed the connection" in str(err.value) or "cut" in str(err.value)


def test_json_answer_to_stream_request_is_502(gw, upstream):
    upstream.script = [Behaviour("json_for_stream")]
    with pytest.raises(openai.APIStatusError) as err:
        list(sdk(gw).chat.completions.create(model="m", messages=MSGS, stream=True))
    assert err.value.status_code == 502 and "text/event-stream" in str(err.value)


def test_stream_cut_mid_way_ends_with_error_event(gw, upstream):
    upstream.script = [Behaviour("cut", content="a b c d e f", after_chunks=3)]
    received: list[str] = []
    with pytest.raises(openai.APIError) as err:
        for chunk in sdk(gw).chat.completions.create(model="m", messages=MSGS, stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "a b", "chunks before the cut reach the client"
    assert "m" in str(err.value)


def test_finished_stream_without_done_is_completed(gw, upstream):
    upstream.script = [Behaviour("no_done", content="x y")]
    r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "m", "messages": MSGS, "stream": True})
    assert r.text.rstrip().endswith("data: [DONE]")


def test_closed_port_fails_fast_with_502(make_gateway):
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    gw = make_gateway(one_model(dead))
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as err:
        sdk(gw).chat.completions.create(model="m", messages=MSGS)
    assert err.value.status_code == 502 and "unreachable" in str(err.value)
    assert time.monotonic() - started < 5, "a dead upstream must fail well within the failover budget"
    assert "127.0.0.1" not in str(err.value), "upstream addresses stay out of client errors"


def test_slow_upstream_times_out_with_504(gw, upstream):
    upstream.script = [Behaviour("hang")]
    with pytest.raises(openai.APIStatusError) as err:
        sdk(gw).chat.completions.create(model="m", messages=MSGS)
    assert err.value.status_code == 504 and "timed out" in str(err.value)


def test_stream_timeout_between_chunks(upstream, make_gateway):
    gw = make_gateway(one_model(upstream.base, "stream_timeout: 0.3"))
    upstream.script = [Behaviour("slow_stream", content="a b c", delay=1.0)]
    r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "m", "messages": MSGS, "stream": True}, timeout=10)
    assert r.status_code == 200
    assert '"error"' in r.text and "timed out" in r.text


def test_stream_first_byte_timeout_is_504(upstream, make_gateway):
    gw = make_gateway(one_model(upstream.base, "stream_timeout: 0.3"))
    upstream.script = [Behaviour("ok", delay=1.0)]
    r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "m", "messages": MSGS, "stream": True}, timeout=10)
    assert r.status_code == 504 and "timed out" in r.json()["error"]["message"]


def test_second_deployment_answers_when_first_fails(upstream, make_gateway):
    backup = FakeOpenAIUpstream().start()
    try:
        dead = f"http://127.0.0.1:{closed_port()}/v1"
        gw = make_gateway(
            f"""
model_list:
  - model_name: m
    litellm_params: {{model: openai/a, api_base: "{dead}", weight: 1000}}
  - model_name: m
    litellm_params: {{model: openai/b, api_base: "{backup.base}", weight: 0.001}}
"""
        )
        raw = sdk(gw).chat.completions.with_raw_response.create(model="m", messages=MSGS)
        assert raw.parse().choices[0].message.content == "hello from upstream"
        assert raw.headers["x-lmgate-deployment"] == "m#2"
    finally:
        backup.stop()


def test_client_disconnect_cancels_upstream_stream(gw, upstream):
    upstream.script = [Behaviour("slow_stream", content=" ".join(["w"] * 200), delay=0.05)]
    with httpx.stream(
        "POST", gw.url + "/v1/chat/completions", json={"model": "m", "messages": MSGS, "stream": True}, timeout=10
    ) as r:
        for _ in r.iter_bytes():
            break  # read the first bytes, then hang up
    wait_for(lambda: upstream.disconnects, "the upstream stream to be closed", 5)
    assert upstream.disconnects == 1, "closing the client must close the upstream request"
