"""Answers that match what clients expect (issue 15): the model name the client sent, Ollama's real
durations, /api/show and model loads from the instance itself, n > 1 said, public Ollama probes, and
request ids — through the real server with the official `openai` and `ollama` clients."""

from __future__ import annotations

import time

import httpx
import ollama
import openai
import orjson
import pytest

from lmgate.inbound.model_name import ModelSplicer
from tests.servers import Behaviour, FakeOpenAIUpstream, ServerThread
from tests.servers_ollama import FakeOllamaUpstream

MASTER = "sk-test-master"
MSG = [{"role": "user", "content": "hi"}]


@pytest.fixture
def gw(upstream: FakeOpenAIUpstream, ollama_up: FakeOllamaUpstream, make_gateway, tmp_path) -> ServerThread:
    upstream.default = Behaviour(content="three words here")
    return make_gateway(
        f"""
model_list:
  - model_name: via-openai
    litellm_params: {{model: openai/gpt-upstream-2024-08-06, api_base: {upstream.base}}}
  - model_name: via-ollama
    litellm_params: {{model: ollama_chat/qwen3:8b, api_base: {ollama_up.base}}}
  - model_name: via-mock
    litellm_params: {{model: mock/echo, mock_response: hello from mock}}
general_settings:
  master_key: {MASTER}
  request_log_path: {tmp_path / "requests.jsonl"}
"""
    )


def oai(gw: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=MASTER, max_retries=0, timeout=10)


def oll(gw: ServerThread) -> ollama.Client:
    return ollama.Client(host=gw.url, headers={"Authorization": f"Bearer {MASTER}"}, timeout=10)


@pytest.mark.parametrize("alias", ["via-openai", "via-ollama", "via-mock"])
def test_model_is_the_name_the_client_sent(gw, alias):
    whole = oai(gw).chat.completions.create(model=alias, messages=MSG)
    assert whole.model == alias
    chunks = list(oai(gw).chat.completions.create(model=alias, messages=MSG, stream=True))
    assert chunks and {c.model for c in chunks} == {alias}
    assert oll(gw).chat(model=alias, messages=MSG, stream=False).model == alias
    assert {part.model for part in oll(gw).chat(model=alias, messages=MSG, stream=True)} == {alias}


def test_model_splice_leaves_text_and_other_members_alone():
    pretty = b'{\n  "id": "x",\n  "model": "gpt-4o-2024-08-06",\n  "choices": [{"message": {"content": "say \\"model\\": \\"gpt-4o-2024-08-06\\""}}]\n}'
    out = ModelSplicer("my-alias")(pretty)
    data = orjson.loads(out)
    assert data["model"] == "my-alias"
    assert data["choices"][0]["message"]["content"] == 'say "model": "gpt-4o-2024-08-06"'
    splice = ModelSplicer('odd "alias"')  # JSON-escaped on the way in
    events = [b'data: {"model":"up","choices":[]}\n\n', b'data: {"model":"up","choices":[1]}\n\n']
    assert [orjson.loads(splice(e)[6:])["model"] for e in events] == ['odd "alias"'] * 2


def test_translated_ollama_answers_report_real_durations(gw):
    out = oll(gw).chat(model="via-openai", messages=MSG, stream=False)
    assert out.eval_count == 4 and out.eval_duration and out.eval_duration > 0
    assert out.total_duration >= out.eval_duration
    parts = list(oll(gw).chat(model="via-openai", messages=MSG, stream=True))
    final = parts[-1]
    assert final.done and final.eval_duration and final.eval_duration > 0
    assert final.total_duration >= final.prompt_eval_duration + final.eval_duration - 1


def test_show_is_the_instance_s_own_answer(gw, ollama_up):
    shown = oll(gw).show("via-ollama")
    assert ollama_up.seen[-1].path == "/api/show" and ollama_up.seen[-1].body == {"model": "qwen3:8b"}
    assert shown.details.parameter_size == "8.2B" and shown.details.quantization_level == "Q4_K_M"
    assert "thinking" in shown.capabilities and shown.modelinfo["qwen3.context_length"] == 40960


def test_show_for_other_upstreams_invents_nothing(gw):
    shown = oll(gw).show("via-openai")
    assert shown.details.family == "" and "general.architecture" not in (shown.modelinfo or {})
    assert shown.capabilities == ["completion", "tools"]


def test_load_and_unload_reach_the_instance(gw, ollama_up):
    loaded = oll(gw).chat(model="via-ollama", messages=[], keep_alive="10m", stream=False)
    assert ollama_up.seen[-1].path == "/api/chat" and ollama_up.seen[-1].body["keep_alive"] == "10m"
    assert loaded.done_reason == "load" and loaded.model == "via-ollama"
    unloaded = oll(gw).generate(model="via-ollama", prompt="", keep_alive=0, stream=False)
    assert ollama_up.seen[-1].path == "/api/generate" and ollama_up.seen[-1].body["keep_alive"] == 0
    assert unloaded.done_reason == "unload"
    seen = len(ollama_up.seen)
    assert oll(gw).chat(model="via-openai", messages=[], keep_alive=0, stream=False).done_reason == "unload"
    assert len(ollama_up.seen) == seen  # no Ollama instance behind that alias: answered by the gateway


def test_n_above_one_is_refused_where_one_choice_comes_back(gw, ollama_up, upstream):
    for alias in ("via-ollama", "via-mock"):
        with pytest.raises(openai.BadRequestError) as exc:
            oai(gw).chat.completions.create(model=alias, messages=MSG, n=2)
        assert "'n'" in exc.value.message and "2 requests" in exc.value.message
    assert not [s for s in ollama_up.seen if s.path == "/api/chat"]
    oai(gw).chat.completions.create(model="via-openai", messages=MSG, n=2)
    assert upstream.seen[-1].body["n"] == 2  # an OpenAI-compatible upstream decides for itself


def test_ollama_probes_are_public_and_the_rest_is_not(gw):
    assert httpx.get(gw.url + "/").text == "Ollama is running"
    assert httpx.head(gw.url + "/").status_code == 200
    assert httpx.get(gw.url + "/api/version").json()["version"]
    assert httpx.get(gw.url + "/api/tags").status_code == 401
    assert httpx.post(gw.url + "/api/show", json={"model": "via-ollama"}).status_code == 401


def test_every_answer_has_its_own_request_id(gw, tmp_path):
    first = oai(gw).chat.completions.with_raw_response.create(model="via-mock", messages=MSG)
    second = oai(gw).chat.completions.with_raw_response.create(
        model="via-mock", messages=MSG, extra_headers={"x-request-id": "client-abc"}
    )
    a, b = first.headers["x-request-id"], second.headers["x-request-id"]
    assert len(a) == 32 and a != b
    assert second.headers["x-client-request-id"] == "client-abc"
    stream = httpx.post(
        gw.url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {MASTER}"},
        json={"model": "via-mock", "messages": MSG, "stream": True},
    )
    failed = httpx.post(gw.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {MASTER}"}, json={"model": "nope", "messages": MSG})
    assert failed.status_code == 404
    ids = {a, b, stream.headers["x-request-id"], failed.headers["x-request-id"]}
    assert len(ids) == 4
    assert httpx.get(gw.url + "/health/liveliness").headers["x-request-id"]
    log = tmp_path / "requests.jsonl"

    def logged() -> list[dict]:
        return [orjson.loads(line) for line in log.read_bytes().splitlines()] if log.exists() else []

    deadline = time.monotonic() + 10
    while len(logged()) < 4:  # the request log flushes in the background
        assert time.monotonic() < deadline, "the request log never held the four model calls"
        time.sleep(0.05)
    by_id = {r["request_id"]: r for r in logged()}
    assert ids <= by_id.keys()
    assert by_id[b]["client_request_id"] == "client-abc" and by_id[a]["client_request_id"] == ""
