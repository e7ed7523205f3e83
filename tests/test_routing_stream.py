"""Streaming falls back only before the first byte reaches the client; later failures end the stream
with an error event the SDK raises on."""

from __future__ import annotations

import time

import openai
import pytest

from tests.routing_kit import MSGS, ROUTE, Tiers, chain_config, hops, sdk, tiers_fixture  # noqa: F401
from tests.servers import Behaviour


def _stream_text(gw, model: str = "cloud-kimi") -> tuple[str, dict[str, str]]:
    with sdk(gw).chat.completions.with_streaming_response.create(model=model, messages=MSGS, stream=True) as resp:
        headers = dict(resp.headers)
        text = "".join(c.choices[0].delta.content or "" for c in resp.parse() if c.choices)
    return text, headers


def test_stream_falls_back_when_upstream_errors_before_streaming(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers))
    tiers.cloud.script = [Behaviour("status", 503)]
    text, headers = _stream_text(gw)
    assert text == "from vllm"
    assert hops(headers[ROUTE]) == [("cloud-kimi", "503"), ("vllm-qwen", "ok")]


def test_stream_falls_back_when_cut_before_the_first_event(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers))
    tiers.cloud.script = [Behaviour("cut", after_chunks=0)]
    text, headers = _stream_text(gw)
    assert text == "from vllm"
    assert hops(headers[ROUTE])[-1] == ("vllm-qwen", "ok")
    assert tiers.cloud.calls == 1


def test_stream_falls_back_when_first_byte_never_comes(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, cloud_params="stream_timeout: 0.5"))
    tiers.cloud.script = [Behaviour("stall", after_chunks=0)]
    started = time.monotonic()
    text, headers = _stream_text(gw)
    assert text == "from vllm"
    assert hops(headers[ROUTE]) == [("cloud-kimi", "timeout"), ("vllm-qwen", "ok")]
    assert time.monotonic() - started < 5


def test_stream_failure_after_first_byte_ends_with_error_and_no_fallback(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers))
    tiers.cloud.script = [Behaviour("cut", content="one two three four", after_chunks=2)]
    got: list[str] = []
    with pytest.raises(openai.APIError):
        for chunk in sdk(gw).chat.completions.create(model="cloud-kimi", messages=MSGS, stream=True):
            got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) == "one"
    assert tiers.vllm.calls == 0, "after the first byte the client has the stream; no fallback"


def test_stream_stall_after_first_byte_times_out_in_stream(tiers: Tiers, make_gateway):
    gw = make_gateway(chain_config(tiers, cloud_params="stream_timeout: 0.5"))
    tiers.cloud.script = [Behaviour("stall", content="one two three", after_chunks=2)]
    with pytest.raises(openai.APIError, match="timed out"):
        list(sdk(gw).chat.completions.create(model="cloud-kimi", messages=MSGS, stream=True))
    assert tiers.vllm.calls == 0
