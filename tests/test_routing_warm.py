"""router_settings.ollama_prefer_loaded: an alias on several Ollama instances goes to the instance that
has its model in memory (from /api/ps, corrected by answers' load_duration) — through the real gateway
with two fake instances that charge for loading a cold model and hold one model at a time."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.routing_kit import MASTER
from tests.servers import ServerThread
from tests.servers_ollama import FakeOllamaUpstream

LOAD_S = 0.6


@pytest.fixture(name="pair")
def pair_fixture() -> Iterator[tuple[FakeOllamaUpstream, FakeOllamaUpstream]]:
    a = FakeOllamaUpstream(load_s=LOAD_S, max_loaded=1).start()
    b = FakeOllamaUpstream(load_s=LOAD_S, max_loaded=1).start()
    yield a, b
    a.stop()
    b.stop()


def _config(a: FakeOllamaUpstream, b: FakeOllamaUpstream, router: str) -> str:
    entries = []
    for alias, model in (("qwen", "qwen3:8b"), ("llama", "llama3.2")):
        for tag, up in (("a", a), ("b", b)):
            entries.append(
                f"  - model_name: {alias}\n    litellm_params: {{model: 'ollama_chat/{model}', api_base: '{up.base}'}}\n"
                f"    model_info: {{id: {alias}-{tag}}}"
            )
    listing = "\n".join(entries)
    return f"model_list:\n{listing}\nrouter_settings:\n  {router}\ngeneral_settings:\n  master_key: {MASTER}\n"


def _ask(gw: ServerThread, model: str, stream: bool = False) -> str:
    """One chat (read to its end); the deployment that answered."""
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    headers = {"Authorization": f"Bearer {MASTER}"}
    with httpx.stream("POST", gw.url + "/v1/chat/completions", json=body, headers=headers, timeout=15) as r:
        text = r.read()
        assert r.status_code == 200, text
        assert b"hello" in text
        return r.headers["x-lmgate-deployment"]


def _loaded(gw: ServerThread) -> dict[str, object]:
    r = httpx.get(gw.url + "/health", headers={"Authorization": f"Bearer {MASTER}"}, timeout=5)
    return {row["deployment"]: row.get("loaded", "absent") for row in r.json()["deployments"]}


def _until(what: str, ok, seconds: float = 8.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not (found := ok()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return found


def test_requests_go_to_the_instance_with_the_model_loaded(pair, make_gateway):
    a, b = pair
    a.loaded, b.loaded = ["qwen3:8b"], ["llama3.2"]
    gw = make_gateway(_config(a, b, "ollama_prefer_loaded: true\n  ollama_ps_interval: 0.2"))
    want = {"qwen-a": True, "qwen-b": False, "llama-a": False, "llama-b": True}
    _until("/api/ps to be read", lambda: _loaded(gw) == want)
    answered = [_ask(gw, model) for model in ("qwen", "llama") * 5]
    assert answered == ["qwen-a", "llama-b"] * 5
    assert (a.loads, b.loads) == (0, 0), "no request paid a cold load"
    metrics = httpx.get(gw.url + "/metrics", headers={"Authorization": f"Bearer {MASTER}"}, timeout=5).text
    assert 'lmgate_deployment_model_loaded{deployment="qwen-a",model_group="qwen"} 1.0' in metrics
    assert 'lmgate_deployment_model_loaded{deployment="qwen-b",model_group="qwen"} 0.0' in metrics


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_cold_start_settles_one_model_per_instance(pair, make_gateway, stream: bool):
    # /api/ps is read at start (both empty) and then only every 60 s: what follows is learnt from the
    # answers (and the poll a cold load's load_duration brings forward).
    a, b = pair
    gw = make_gateway(_config(a, b, "ollama_prefer_loaded: true\n  ollama_ps_interval: 60"))
    _until("/api/ps to be read", lambda: set(_loaded(gw).values()) == {False})
    answered = [_ask(gw, model, stream) for model in ("qwen", "llama") * 4]
    assert a.loads + b.loads == 2, f"one cold load per model, then warm: {answered}"
    qwen_on, llama_on = answered[0][-1], answered[1][-1]
    assert qwen_on != llama_on, "the second model goes to the empty instance"
    assert answered[2:] == answered[:2] * 3


def test_instance_that_lost_the_model_is_no_longer_preferred(pair, make_gateway):
    a, b = pair
    a.loaded = ["qwen3:8b"]
    gw = make_gateway(_config(a, b, "ollama_prefer_loaded: true\n  ollama_ps_interval: 0.2"))
    _until("/api/ps to be read", lambda: _loaded(gw)["qwen-a"] is True)
    a.loaded, b.loaded = ["llama3.2"], ["qwen3:8b"]  # swapped behind the gateway's back (another client)
    _until("the next /api/ps to see it", lambda: _loaded(gw)["qwen-b"] is True)
    assert [_ask(gw, "qwen"), _ask(gw, "llama")] == ["qwen-b", "llama-a"]
    assert (a.loads, b.loads) == (0, 0)


def test_off_by_default(pair, make_gateway):
    a, b = pair
    gw = make_gateway(_config(a, b, "routing_strategy: simple-shuffle"))
    _ask(gw, "qwen")
    assert set(_loaded(gw).values()) == {"absent"}, "no `loaded` in /health unless routing by it"
