"""The same behaviour over every provider adapter and every inbound protocol, through real HTTP with each
protocol's official client: chat (stream and not) with usage and the model field, a tool call round trip,
and errors rendered in the client's protocol (unknown model 404, malformed JSON 400, an upstream 500 that
falls back, or is answered as the upstream's error when there is no fallback).

The rows come from tests/conformance/upstreams.py (UPSTREAMS) and tests/conformance/clients.py (CLIENTS).
"""

from __future__ import annotations

import pytest

from tests.conformance.clients import CLIENTS, TOOL, Client, post_raw
from tests.conformance.conftest import BACKUP_ANSWER
from tests.conformance.upstreams import ANSWER, UPSTREAMS

SCRIPTABLE = [k for k in UPSTREAMS if k.scriptable]
by_upstream = pytest.mark.parametrize("kind", UPSTREAMS, ids=lambda k: k.name)
by_scriptable = pytest.mark.parametrize("kind", SCRIPTABLE, ids=lambda k: k.name)
by_client = pytest.mark.parametrize("client", CLIENTS, ids=lambda c: c.name)
MOCK = next(k for k in UPSTREAMS if not k.scriptable)
MODEL_NAMES = ("conf", "conf-model")  # the alias; the deployment's upstream model (tests/conformance/conftest.py)


@by_client
@by_upstream
def test_chat_answers_with_usage_and_a_model(stacks, kind, client: Client):
    reply = client.chat(stacks(kind).url, "conf", [client.user("hi there")])
    assert reply.text == ANSWER
    assert reply.model in MODEL_NAMES, "the model field names the alias or the deployment's model"
    assert reply.prompt_tokens and reply.prompt_tokens > 0
    assert reply.completion_tokens and reply.completion_tokens > 0


@by_client
@by_upstream
def test_streamed_chat_answers_with_usage(stacks, kind, client: Client):
    url = stacks(kind).url
    reply = client.chat(url, "conf", [client.user("hi there")], stream=True)
    assert reply.text == ANSWER
    assert reply.model == client.chat(url, "conf", [client.user("hi there")]).model, "streamed or not, one model name"
    assert reply.prompt_tokens and reply.prompt_tokens > 0
    assert reply.completion_tokens and reply.completion_tokens > 0


@by_client
def test_the_model_field_does_not_depend_on_the_upstreams_wire(stacks, client: Client):
    """The name the client sent, whatever the upstream's wire (pass-through bytes are spliced)."""
    models = {k.name: client.chat(stacks(k).url, "conf", [client.user("hi")]).model for k in UPSTREAMS}
    assert set(models.values()) == {"conf"}, models


@by_client
@by_scriptable
def test_tool_call_round_trip(stacks, kind, client: Client):
    stack = stacks(kind)
    question = [client.user("weather in Paris?")]
    stack.upstream.tool_call_next("get_weather", {"city": "Paris"})
    first = client.chat(stack.url, "conf", question, tools=[TOOL])
    assert first.tool_calls == [("get_weather", {"city": "Paris"})]
    second = client.chat(stack.url, "conf", question + client.tool_result(first, "18 C and sunny"), tools=[TOOL])
    assert second.text == ANSWER
    sent = stack.upstream.last_messages()
    assert sent[-1]["role"] == "tool" and sent[-1]["content"] == "18 C and sunny", sent
    assert sent[-2]["role"] == "assistant" and sent[-2]["tool_calls"], "the call is handed back before its result"


@by_client
def test_unknown_model_is_a_404_in_the_clients_protocol(stacks, client: Client):
    failure = client.chat_error(stacks(MOCK).url, "no-such-model", [client.user("hi")])
    assert failure.status == 404
    assert "no-such-model" in failure.message


@by_client
def test_malformed_json_is_a_400_in_the_clients_protocol(stacks, client: Client):
    r = post_raw(stacks(MOCK).url, client.chat_path, b'{"model": "conf", "messages": [')
    assert r.status_code == 400
    assert client.error_message(r.json())


@by_client
@by_scriptable
def test_upstream_500_falls_back_or_is_its_error_in_the_clients_protocol(stacks, kind, client: Client):
    stack = stacks(kind)
    stack.upstream.fail_next(500)
    reply = client.chat(stack.url, "conf-flaky", [client.user("fall back please")])
    assert reply.text == BACKUP_ANSWER
    assert stack.upstream.last_messages()[-1]["content"] == "fall back please", "the first tier was tried"
    stack.upstream.fail_next(500)  # the same failure where no fallback is configured
    failure = client.chat_error(stack.url, "conf-alone", [client.user("hi")])
    assert failure.status == 500
    assert "upstream says 500" in failure.message
