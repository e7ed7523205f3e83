"""The official OpenAI SDK's `responses` API against a real lmgate on loopback, in front of upstreams
that serve only chat completions (the tests' fake OpenAI server) or Ollama's /api/chat."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.servers import Behaviour, FakeOpenAIUpstream, ServerThread
from tests.servers_ollama import FakeOllamaUpstream, OllamaBehaviour

EXEC = {"type": "function", "name": "exec_command", "description": "Run a command", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}
CALL = {"id": "call_exec1", "name": "exec_command", "arguments": '{"cmd": "ls"}'}


def config(up: Any, db: Path, kind: str = "openai", extra: str = "") -> str:
    base = up.base if kind == "openai" else up.server.url
    model = "openai/served-model" if kind == "openai" else "ollama_chat/qwen3"
    return f"""
model_list:
  - model_name: coder
    litellm_params: {{model: {model}, api_base: {base}, timeout: 5}}
general_settings:
  database_url: sqlite:///{db}
  request_log_path: false
{extra}
"""


def client(gw: ServerThread, key: str = "sk-client") -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=10)


@pytest.fixture
def ollama() -> Iterator[FakeOllamaUpstream]:
    up = FakeOllamaUpstream().start()
    yield up
    up.stop()


@pytest.fixture
def gw(upstream: FakeOpenAIUpstream, make_gateway: Any, tmp_path: Path) -> ServerThread:
    return make_gateway(config(upstream, tmp_path / "r.db"))


def test_create_against_a_chat_only_upstream(gw: ServerThread, upstream: FakeOpenAIUpstream) -> None:
    resp = client(gw).responses.create(model="coder", input="hi", instructions="Be brief.", max_output_tokens=64)
    assert resp.id.startswith("resp_") and resp.status == "completed"
    assert resp.output_text == "hello from upstream"
    assert resp.usage is not None and resp.usage.input_tokens == 5 and resp.usage.total_tokens == 9
    seen = upstream.seen[-1]
    assert seen.path == "/v1/chat/completions"
    assert seen.body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert seen.body["max_tokens"] == 64 and seen.body["model"] == "served-model"


def test_stream_events_and_final_response(gw: ServerThread, upstream: FakeOpenAIUpstream) -> None:
    upstream.default = Behaviour(content="one two three")
    with client(gw).responses.stream(model="coder", input="count") as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert kinds.count("response.output_text.delta") == 3
    assert final.output_text == "one two three" and final.id.startswith("resp_")
    assert upstream.seen[-1].body["stream"] is True


@pytest.mark.parametrize("stream", [False, True])
def test_tool_round_trip_with_function_call_output(gw: ServerThread, upstream: FakeOpenAIUpstream, stream: bool) -> None:
    upstream.script = [Behaviour(content="", tool_calls=[CALL]), Behaviour(content="two files")]
    c = client(gw)
    first = _create(c, stream, model="coder", input="list files", tools=[EXEC], store=False)
    call = next(i for i in first.output if i.type == "function_call")
    assert (call.name, call.call_id, json.loads(call.arguments)) == ("exec_command", "call_exec1", {"cmd": "ls"})
    assert upstream.seen[0].body["tools"][0]["function"]["name"] == "exec_command"
    history = [{"role": "user", "content": "list files"}, call.model_dump(exclude_none=True), {"type": "function_call_output", "call_id": call.call_id, "output": "a.txt b.txt"}]
    second = _create(c, stream, model="coder", input=history, tools=[EXEC], store=False)
    assert second.output_text == "two files"
    sent = upstream.seen[1].body["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "call_exec1"
    assert sent[2] == {"role": "tool", "tool_call_id": "call_exec1", "content": "a.txt b.txt"}


def _create(c: openai.OpenAI, stream: bool, **kw: Any) -> Any:
    if not stream:
        return c.responses.create(**kw)
    with c.responses.stream(**kw) as s:
        for _ in s:
            pass
        return s.get_final_response()


def test_store_previous_response_id_retrieve_input_items_delete(gw: ServerThread, upstream: FakeOpenAIUpstream) -> None:
    c = client(gw)
    upstream.script = [Behaviour(content="Hi Ada"), Behaviour(content="Your name is Ada")]
    first = c.responses.create(model="coder", input="My name is Ada", instructions="Be kind.")
    second = c.responses.create(model="coder", input="What is my name?", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    sent = upstream.seen[1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]  # instructions are not carried over
    assert sent[1]["content"] == "Hi Ada"
    assert c.responses.retrieve(second.id).output_text == "Your name is Ada"
    items = c.responses.input_items.list(second.id, order="asc")
    assert [i.type for i in items.data] == ["message"] and items.data[0].content[0].text == "What is my name?"
    with pytest.raises(openai.BadRequestError):  # finished: nothing to cancel
        c.responses.cancel(second.id)
    c.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(first.id)
    with pytest.raises(openai.BadRequestError) as err:
        c.responses.create(model="coder", input="again", previous_response_id=first.id)
    assert "not found" in str(err.value)


def test_store_false_leaves_nothing_and_other_keys_cannot_read(gw: ServerThread) -> None:
    c = client(gw)
    unstored = c.responses.create(model="coder", input="secret", store=False)
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(unstored.id)
    stored = c.responses.create(model="coder", input="mine")
    with pytest.raises(openai.NotFoundError):
        client(gw, key="sk-someone-else").responses.retrieve(stored.id)
    assert c.responses.retrieve(stored.id).id == stored.id


def test_stored_before_completed_reaches_another_worker(upstream: FakeOpenAIUpstream, make_gateway: Any, tmp_path: Path) -> None:
    cfg = config(upstream, tmp_path / "shared.db")
    a, b = make_gateway(cfg), make_gateway(cfg)
    mine, other = client(a), client(b)
    with pytest.raises(openai.NotFoundError):  # b's client and store are warm
        other.responses.retrieve("resp_none")
    _create(mine, True, model="coder", input="warm up", store=False)  # and the SDK's stream types
    with mine.responses.stream(model="coder", input="hi") as stream:
        for event in stream:
            if event.type == "response.completed":  # the very moment the client learns the id
                assert other.responses.retrieve(event.response.id).output_text == "hello from upstream"
                break
        else:
            pytest.fail("no response.completed")


def test_gateway_wide_store_off(upstream: FakeOpenAIUpstream, make_gateway: Any, tmp_path: Path) -> None:
    gw = make_gateway(config(upstream, tmp_path / "r.db", extra="  responses_store: false"))
    c = client(gw)
    resp = c.responses.create(model="coder", input="hi")
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(resp.id)
    with pytest.raises(openai.BadRequestError) as err:
        c.responses.create(model="coder", input="more", previous_response_id=resp.id)
    assert "responses_store" in str(err.value)


def test_hosted_tools_are_dropped_with_a_warning(gw: ServerThread, upstream: FakeOpenAIUpstream) -> None:
    raw = client(gw).responses.with_raw_response.create(model="coder", input="hi", tools=[EXEC, {"type": "web_search"}])
    assert raw.parse().output_text == "hello from upstream"
    assert "web_search" in raw.headers["x-lmgate-warning"]
    assert [t["function"]["name"] for t in upstream.seen[-1].body["tools"]] == ["exec_command"]
    with client(gw).responses.with_streaming_response.create(model="coder", input="hi", tools=[{"type": "web_search"}], stream=True) as streamed:
        assert "web_search" in streamed.headers["x-lmgate-warning"]
        assert "response.completed" in streamed.read().decode()
    assert "tools" not in upstream.seen[-1].body


def test_bad_requests_are_openai_errors_before_any_upstream(gw: ServerThread, upstream: FakeOpenAIUpstream) -> None:
    c = client(gw)
    with pytest.raises(openai.BadRequestError) as err:
        c.responses.create(model="coder", input=[{"type": "computer_call_output", "call_id": "x", "output": {}}])  # type: ignore[list-item]
    assert err.value.body["param"] == "input"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        c.responses.create(model="no-such-model", input="hi")
    raw = httpx.post(gw.url + "/v1/responses", json={"input": "hi"}, timeout=5)
    assert raw.status_code == 400 and raw.json()["error"]["param"] == "model"
    assert upstream.calls == 0


def test_fallback_chain_and_mid_stream_failure(upstream: FakeOpenAIUpstream, make_gateway: Any, tmp_path: Path) -> None:
    dead = FakeOpenAIUpstream().start()
    try:
        dead.default = Behaviour(kind="status", status=503)
        gw = make_gateway(f"""
model_list:
  - model_name: coder
    litellm_params: {{model: openai/primary, api_base: {dead.base}, max_retries: 0}}
  - model_name: coder-backup
    litellm_params: {{model: openai/backup, api_base: {upstream.base}}}
litellm_settings:
  fallbacks: [{{coder: [coder-backup]}}]
general_settings:
  database_url: sqlite:///{tmp_path / "r.db"}
  request_log_path: false
""")
        raw = client(gw).responses.with_raw_response.create(model="coder", input="hi")
        assert raw.parse().output_text == "hello from upstream"
        assert raw.headers["x-lmgate-deployment"] == "coder-backup" and dead.calls == 1
    finally:
        dead.stop()
    upstream.default = Behaviour(kind="cut", after_chunks=3, content="a b c d e")
    with client(gw).responses.create(model="coder-backup", input="hi", stream=True) as events:
        kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.failed"


def test_reasoning_round_trip_through_encrypted_content(gw: ServerThread, upstream: FakeOpenAIUpstream) -> None:
    upstream.script = [Behaviour(content="42", reasoning="six times seven"), Behaviour(content="yes")]
    c = client(gw)
    first = c.responses.create(model="coder", input="answer?", include=["reasoning.encrypted_content"], store=False)
    reasoning = next(i for i in first.output if i.type == "reasoning")
    assert reasoning.encrypted_content and "six" not in reasoning.encrypted_content
    assert reasoning.summary[0].text == "six times seven"
    replay = {"type": "reasoning", "id": reasoning.id, "summary": [], "encrypted_content": reasoning.encrypted_content}
    c.responses.create(model="coder", input=[{"role": "user", "content": "answer?"}, replay, {"role": "assistant", "content": "42"}, {"role": "user", "content": "sure?"}], store=False)  # type: ignore[list-item]
    assert upstream.seen[1].body["messages"][1] == {"role": "assistant", "content": "42", "reasoning": "six times seven"}


@pytest.mark.parametrize("stream", [False, True])
def test_ollama_upstream_text_and_tool_call(ollama: FakeOllamaUpstream, make_gateway: Any, tmp_path: Path, stream: bool) -> None:
    gw = make_gateway(config(ollama, tmp_path / "r.db", kind="ollama"))
    c = client(gw)
    text = _create(c, stream, model="coder", input="hi", store=False)
    assert text.output_text == "hello from ollama"
    ollama.script = [OllamaBehaviour(kind="tools", tool_calls=[{"function": {"name": "exec_command", "arguments": {"cmd": "ls"}}}])]
    called = _create(c, stream, model="coder", input="list", tools=[EXEC], store=False)
    call = next(i for i in called.output if i.type == "function_call")
    assert call.name == "exec_command" and json.loads(call.arguments) == {"cmd": "ls"} and call.call_id
    out = {"type": "function_call_output", "call_id": call.call_id, "output": "a.txt"}
    done = _create(c, stream, model="coder", input=[{"role": "user", "content": "list"}, call.model_dump(exclude_none=True), out], tools=[EXEC], store=False)
    assert done.output_text == "hello from ollama"
    sent = ollama.seen[-1].body
    assert sent["messages"][-1] == {"role": "tool", "content": "a.txt", "tool_name": "exec_command", "tool_call_id": call.call_id}
    assert ollama.seen[-1].path == "/api/chat"


def test_input_items_pagination(gw: ServerThread) -> None:
    c = client(gw)
    resp = c.responses.create(model="coder", input=[{"role": "user", "content": f"m{n}"} for n in range(5)])
    page = c.responses.input_items.list(resp.id, limit=2)
    assert page.has_more and [i.content[0].text for i in page.data] == ["m4", "m3"]  # type: ignore[union-attr]
    rest = c.responses.input_items.list(resp.id, limit=10, after=page.data[-1].id)
    assert [i.content[0].text for i in rest.data] == ["m2", "m1", "m0"]  # type: ignore[union-attr]


def test_postgres_store_chain_across_two_gateways(upstream: FakeOpenAIUpstream, make_gateway: Any, tmp_path: Path) -> None:
    from tests.pg import Postgres

    pg = Postgres()
    try:
        cfg = config(upstream, tmp_path / "unused.db").replace(f"sqlite:///{tmp_path / 'unused.db'}", pg.url)
        a, b = client(make_gateway(cfg)), client(make_gateway(cfg))
        upstream.script = [Behaviour(content="noted"), Behaviour(content="Ada")]
        first = a.responses.create(model="coder", input="I am Ada")
        second = b.responses.create(model="coder", input="Who am I?", previous_response_id=first.id)
        assert [m["content"] for m in upstream.seen[1].body["messages"]] == ["I am Ada", "noted", "Who am I?"]
        assert a.responses.retrieve(second.id).output_text == "Ada"
        assert pg.query("select count(*) from lmgate_responses") == ["2"]
        pg.stop()  # the database goes away: reads are a clean 503, answers still reach the client
        with pytest.raises(openai.InternalServerError) as err:
            a.responses.retrieve(second.id)
        assert err.value.status_code == 503 and "store" in err.value.message
        upstream.default = Behaviour(content="still here")
        assert a.responses.create(model="coder", input="hello?").output_text == "still here"
    finally:
        pg.destroy()
