"""Unit and property tests for the Anthropic <-> OpenAI translation functions (pure; no server needed).

Answers and streams are checked against the official SDKs' own models: `anthropic.types.Message`
validates the messages we build, and the SDK's stream accumulator rebuilds a message from our events.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion

from lmgate.core import Usage
from lmgate.errors import BadRequest, UpstreamStatus
from lmgate.translate import anthropic as tr
from lmgate.translate import anthropic_stream as ts
from lmgate.translate import anthropic_upstream as tu

texts = st.text(min_size=1, max_size=30)
images = st.binary(min_size=1, max_size=32).map(lambda b: base64.b64encode(b).decode())
json_values = st.one_of(st.integers(-(2**40), 2**40), st.text(max_size=8), st.booleans(), st.none())
inputs = st.dictionaries(st.text(max_size=6), json_values, max_size=4)
names = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True)
# upstream tool-call ids as providers make them: OpenAI call_…, Mistral's 9 alphanumerics,
# vLLM chatcmpl-tool-…, Kimi's functions.name:0, and anything else
upstream_ids = st.one_of(
    st.from_regex(r"call_[A-Za-z0-9]{24}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9]{9}", fullmatch=True),
    st.from_regex(r"chatcmpl-tool-[a-f0-9]{16}", fullmatch=True),
    st.from_regex(r"functions\.[a-z_]{1,8}:[0-9]", fullmatch=True),
    st.text(min_size=1, max_size=20),
)
SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


# ---- ids --------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(upstream_ids)
def test_tool_ids_round_trip_and_fit_anthropics_pattern(ident):
    shown = tr.client_tool_id(ident)
    assert shown.startswith("toolu_") and SAFE.match(shown)
    assert tr.upstream_tool_id(shown) == ident
    assert SAFE.match(tr.anthropic_tool_id(ident))


def test_mistral_ids_survive_readably_and_foreign_ids_pass():
    assert tr.client_tool_id("aB3dE5fG7") == "toolu_aB3dE5fG7"
    assert tr.upstream_tool_id("toolu_aB3dE5fG7") == "aB3dE5fG7"
    assert tr.upstream_tool_id("call_x") == "call_x"  # not ours: unchanged
    assert tr.upstream_tool_id("toolu_lmg-!!") == "toolu_lmg-!!"  # not decodable: unchanged
    assert tr.client_tool_id("lmg-x") != "toolu_lmg-x"  # the marker itself is escaped
    assert tr.upstream_tool_id(tr.client_tool_id("lmg-x")) == "lmg-x"


# ---- requests: Anthropic -> OpenAI ------------------------------------------------------------------


@st.composite
def anthropic_conversations(draw: st.DrawFn) -> dict[str, Any]:
    """Valid Anthropic bodies: system string or blocks, user turns (text, images, several tool results
    with string or block content), assistant turns (text, thinking, tool_use)."""
    messages: list[dict[str, Any]] = []
    open_ids: list[str] = []
    for turn in range(draw(st.integers(1, 6))):
        if turn % 2 == 0:
            blocks: list[dict[str, Any]] = []
            for ident in open_ids:
                content: Any = draw(st.one_of(texts, st.lists(st.builds(lambda t: {"type": "text", "text": t}, texts), min_size=1, max_size=2)))
                blocks.append({"type": "tool_result", "tool_use_id": ident, "content": content})
            blocks += [{"type": "text", "text": t} for t in draw(st.lists(texts, max_size=2))]
            blocks += [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": i}} for i in draw(st.lists(images, max_size=1))]
            if not blocks:
                blocks = [{"type": "text", "text": draw(texts)}]
            messages.append({"role": "user", "content": blocks if draw(st.booleans()) or len(blocks) > 1 else blocks[0].get("text", blocks)})
            open_ids = []
        else:
            blocks = []
            if draw(st.booleans()):
                blocks.append({"type": "thinking", "thinking": draw(texts), "signature": "sig"})
            if draw(st.booleans()):
                blocks.append({"type": "text", "text": draw(texts)})
            open_ids = [tr.client_tool_id(draw(upstream_ids)) + str(n) for n in range(draw(st.integers(0, 3)))]
            blocks += [{"type": "tool_use", "id": i, "name": draw(names), "input": draw(inputs)} for i in open_ids]
            messages.append({"role": "assistant", "content": blocks or [{"type": "text", "text": "ok"}]})
    system = draw(st.one_of(st.none(), texts, st.lists(st.builds(lambda t: {"type": "text", "text": t}, texts), min_size=1, max_size=3)))
    body: dict[str, Any] = {"model": "claude-x", "max_tokens": 100, "messages": messages}
    if system is not None:
        body["system"] = system
    return body


def _norm_anthropic(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """What must survive a translation: per turn, text, images, tool calls and results (no thinking)."""
    out: list[tuple[str, Any]] = []
    for m in body["messages"]:
        blocks = m["content"] if isinstance(m["content"], list) else [{"type": "text", "text": m["content"]}]
        for b in blocks:
            if b["type"] == "text" and b["text"]:
                out.append((m["role"], b["text"]))
            elif b["type"] == "image":
                out.append((m["role"], ("image", b["source"]["data"])))
            elif b["type"] == "tool_use":
                out.append(("call", (b["name"], b["input"])))
            elif b["type"] == "tool_result":
                content = b["content"] if isinstance(b["content"], str) else "\n".join(c["text"] for c in b["content"])
                out.append(("result", content))
    return out


@settings(max_examples=100, deadline=None)
@given(anthropic_conversations())
def test_anthropic_request_round_trip_through_openai(body):
    canonical = tr.openai_request(body, "alias", False)
    assert canonical["model"] == "alias" and canonical["max_tokens"] == 100
    back = tu.messages_request(canonical, "claude-x", False)
    assert _norm_anthropic(back) == _norm_anthropic(body)
    # system survives (blocks joined by a blank line)
    system = body.get("system")
    want = system if isinstance(system, str) else "\n\n".join(b["text"] for b in system or [])
    assert "\n\n".join(b["text"] for b in back.get("system", [])) == want
    # tool ids stay paired: every result names a call of the turn before, through both translations
    calls = {b["id"] for m in back["messages"] for b in m["content"] if b["type"] == "tool_use"}
    results = [b["tool_use_id"] for m in back["messages"] for b in m["content"] if b["type"] == "tool_result"]
    assert set(results) <= calls and all(SAFE.match(i) for i in calls)
    # the OpenAI form puts each turn's results first, one tool message per result
    for i, m in enumerate(canonical["messages"]):
        if m["role"] == "tool":
            assert canonical["messages"][i - 1]["role"] in ("assistant", "tool")


def test_claude_code_request_is_accepted_and_mapped():
    # the body shape Claude Code 2.1 sends (shared/design/PROTOCOLS.md §6)
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": True,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1"},
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Rules.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "<system-reminder>ctx</system-reminder>"}, {"type": "text", "text": "list files", "cache_control": {"type": "ephemeral"}}]},
            {"role": "system", "content": "late instructions"},
        ],
        "tools": [
            {"name": "Bash", "description": "run", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}, "cache_control": {"type": "ephemeral"}},
            {"name": "Later", "description": "deferred", "input_schema": {"type": "object"}, "defer_loading": True},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
        ],
        "metadata": {"user_id": '{"session":"abc"}'},
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015"}]},
        "output_config": {"effort": "high"},
    }
    out = tr.openai_request(body, "cloud-minimax", True)
    assert out["messages"][0] == {"role": "system", "content": "x-anthropic-billing-header: cc_version=2.1\n\nYou are Claude Code.\n\nRules."}
    assert out["messages"][1]["content"] == [{"type": "text", "text": "<system-reminder>ctx</system-reminder>"}, {"type": "text", "text": "list files"}]
    assert out["messages"][2] == {"role": "system", "content": "late instructions"}
    assert [t["function"]["name"] for t in out["tools"]] == ["Bash", "Later"]  # the server tool is Anthropic's own
    assert out["user"] == '{"session":"abc"}' and "reasoning_effort" not in out and out["max_tokens"] == 32000
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}
    assert "cache_control" not in json.dumps(out) and "context_management" not in out and "defer_loading" not in json.dumps(out)
    assert not tr.shows_thinking(body)  # display omitted: no thinking blocks go back


def test_user_turn_with_several_results_puts_them_before_its_text():
    body = {"max_tokens": 5, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_a", "name": "f", "input": {"x": 1}}, {"type": "tool_use", "id": "toolu_b", "name": "g", "input": {}}]},
        {"role": "user", "content": [
            {"type": "text", "text": "both done"},
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": [{"type": "text", "text": "one"}, {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/AA"}}]},
            {"type": "tool_result", "tool_use_id": "toolu_b", "content": "boom", "is_error": True},
        ]},
    ]}  # fmt: skip
    out = tr.openai_request(body, "m", False)["messages"]
    assert out[1]["tool_calls"][0] == {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}}
    assert out[2] == {"role": "tool", "tool_call_id": "a", "content": "one"}
    assert out[3] == {"role": "tool", "tool_call_id": "b", "content": "Error: boom"}
    assert out[4] == {"role": "user", "content": [{"type": "text", "text": "both done"}, {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/AA"}}]}


@pytest.mark.parametrize(
    ("thinking", "effort", "want"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, None, "low"),
        ({"type": "enabled", "budget_tokens": 4000}, None, "low"),  # Claude Code's "think"
        ({"type": "enabled", "budget_tokens": 10000}, None, "medium"),  # "think hard"
        ({"type": "enabled", "budget_tokens": 31999}, None, "high"),  # "ultrathink"
        ({"type": "enabled", "budget_tokens": 31999}, "low", "low"),  # an explicit effort wins
        ({"type": "enabled", "budget_tokens": 2048}, "max", "high"),
        ({"type": "adaptive"}, None, None),  # the model decides: nothing to say upstream
        ({"type": "adaptive"}, "high", None),  # what Claude Code sends on every request
        ({"type": "disabled"}, "high", None),
        (None, "xhigh", None),
    ],
)
def test_thinking_and_effort_map_to_reasoning_effort(thinking, effort, want):
    body: dict[str, Any] = {"max_tokens": 64000, "messages": [{"role": "user", "content": "q"}]}
    if thinking:
        body["thinking"] = thinking
    if effort:
        body["output_config"] = {"effort": effort}
    assert tr.openai_request(body, "m", False).get("reasoning_effort") == want


def test_request_fields_map():
    body = {
        "max_tokens": 9, "temperature": 0.2, "top_p": 0.9, "top_k": 5, "stop_sequences": ["END"],
        "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": True},
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
    }  # fmt: skip
    out = tr.openai_request(body, "m", False)
    assert (out["temperature"], out["top_p"], out["top_k"], out["stop"]) == (0.2, 0.9, 5, ["END"])
    assert out["messages"][0]["content"] == [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]  # the remote-image rule applies later
    assert out["tool_choice"] == {"type": "function", "function": {"name": "f"}} and out["parallel_tool_calls"] is False
    assert out["response_format"] == {"type": "json_schema", "json_schema": {"name": "response", "schema": {"type": "object"}}}
    for kind, want in (("auto", "auto"), ("any", "required"), ("none", "none")):
        assert tr.openai_request({**body, "tool_choice": {"type": kind}}, "m", False)["tool_choice"] == want


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"messages": [{"role": "user", "content": "q"}]}, "max_tokens"),
        ({"max_tokens": 5, "messages": []}, "messages"),
        ({"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "x"}}]}]}, "document blocks"),
        ({"max_tokens": 5, "messages": [{"role": "bot", "content": "q"}]}, "role"),
        ({"max_tokens": 5, "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": [1]}]}]}, "input"),
        ({"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]}, "image"),
        ({"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "hologram"}]}]}, "hologram"),
    ],
)
def test_bad_requests_are_a_clear_400(body, match):
    with pytest.raises(BadRequest, match=match):
        tr.openai_request(body, "m", False)


# ---- answers ----------------------------------------------------------------------------------------


@st.composite
def completions(draw: st.DrawFn) -> dict[str, Any]:
    """OpenAI chat.completion objects with text, reasoning and tool calls."""
    calls = [
        {"id": draw(upstream_ids), "type": "function", "function": {"name": draw(names), "arguments": json.dumps(draw(inputs))}}
        for _ in range(draw(st.integers(0, 3)))
    ]
    message: dict[str, Any] = {"role": "assistant", "content": draw(st.one_of(st.none(), texts))}
    if draw(st.booleans()):
        message["reasoning"] = draw(texts)
    if calls:
        message["tool_calls"] = calls
    finish = "tool_calls" if calls else draw(st.sampled_from(["stop", "length", "content_filter"]))
    prompt, cached, completion = draw(st.integers(0, 10_000)), draw(st.integers(0, 10_000)), draw(st.integers(0, 10_000))
    usage = {"prompt_tokens": prompt + cached, "completion_tokens": completion, "total_tokens": prompt + cached + completion,
             "prompt_tokens_details": {"cached_tokens": cached}}  # fmt: skip
    return {"id": "chatcmpl-" + draw(st.from_regex(r"[a-z0-9]{8}", fullmatch=True)), "object": "chat.completion", "created": 1,
            "model": "up", "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}  # fmt: skip


THINKING_ON = {"thinking": {"type": "enabled", "budget_tokens": 2048}}


@settings(max_examples=100, deadline=None)
@given(completions())
def test_completion_as_message_is_valid_and_round_trips(data):
    msg = tr.message(data, "claude-alias", THINKING_ON)
    Message.model_validate(msg)  # the SDK's own model accepts it
    assert msg["model"] == "claude-alias" and msg["id"].startswith("msg_")
    assert msg["usage"]["cache_read_input_tokens"] == data["usage"]["prompt_tokens_details"]["cached_tokens"]
    back = tu.chat_completion(msg, "alias")
    ChatCompletion.model_validate(back)
    original, again = data["choices"][0], back["choices"][0]
    assert again["finish_reason"] == original["finish_reason"]
    assert (again["message"]["content"] or None) == (original["message"]["content"] or None)
    assert again["message"].get("reasoning") == original["message"].get("reasoning")
    calls = [(tr.upstream_tool_id(c["id"]), c["function"]["name"], json.loads(c["function"]["arguments"])) for c in again["message"].get("tool_calls", [])]
    assert calls == [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in original["message"].get("tool_calls", [])]
    assert back["usage"]["prompt_tokens"] == data["usage"]["prompt_tokens"]
    assert back["usage"]["completion_tokens"] == data["usage"]["completion_tokens"]


def test_stop_reasons_and_thinking_visibility():
    base = {"id": "c1", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "reasoning": "hmm"}, "finish_reason": "stop", "stop_reason": "END"}]}
    msg = tr.message(base, "m", {"stop_sequences": ["END"]})
    assert (msg["stop_reason"], msg["stop_sequence"]) == ("stop_sequence", "END")  # vLLM says which stop matched
    assert [b["type"] for b in msg["content"]] == ["text"]  # thinking not asked for: not shown
    shown = tr.message(base, "m", THINKING_ON)["content"][0]
    assert shown == {"type": "thinking", "thinking": "hmm", "signature": tr.SIGNATURE}
    assert tr.message({**base, "choices": [{**base["choices"][0], "finish_reason": "content_filter"}]}, "m", {})["stop_reason"] == "refusal"
    broken = {"choices": [{"message": {"tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}]}, "finish_reason": "stop"}]}
    tool = tr.message(broken, "m", {})
    assert tool["stop_reason"] == "tool_use" and tool["content"][0]["input"] == {"_raw": "{oops"}


# ---- streams ----------------------------------------------------------------------------------------


def _pieces(draw: st.DrawFn, text: str) -> list[str]:
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=3)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if text[a:b]]


@st.composite
def streamed(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A completion and the OpenAI chunks that stream it (strings cut at random points)."""
    data = draw(completions())
    msg = data["choices"][0]["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": data["id"], "object": "chat.completion.chunk", "created": 1, "model": "up",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"reasoning": p}) for p in _pieces(draw, msg.get("reasoning") or "")]
    chunks += [chunk({"content": p}) for p in _pieces(draw, msg.get("content") or "")]
    for n, call in enumerate(msg.get("tool_calls", [])):
        args = _pieces(draw, call["function"]["arguments"])
        chunks.append(chunk({"tool_calls": [{"index": n, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"], "arguments": args[0] if args else ""}}]}))
        chunks += [chunk({"tool_calls": [{"index": n, "function": {"arguments": a}}]}) for a in args[1:]]
    chunks.append(chunk({}, data["choices"][0]["finish_reason"]))
    chunks.append({"id": data["id"], "object": "chat.completion.chunk", "created": 1, "model": "up", "choices": [], "usage": data["usage"]})
    return data, chunks


def _events(sse: bytes) -> list[dict[str, Any]]:
    out = []
    for frame in sse.decode().split("\n\n"):
        if not frame:
            continue
        name, data = frame.split("\n")
        event = json.loads(data.removeprefix("data: "))
        assert name == "event: " + event["type"]
        out.append(event)
    return out


def _accumulate(events: list[dict[str, Any]]) -> dict[str, Any]:
    snapshot = None
    bufs: dict[int, bytes] = {}
    for event in events:
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=bufs)  # type: ignore[arg-type]
        if event["type"] == "message_delta":
            snapshot.stop_reason = event["delta"]["stop_reason"]
            snapshot.usage.output_tokens = event["usage"]["output_tokens"]
    assert snapshot is not None
    return snapshot.to_dict()


@settings(max_examples=100, deadline=None)
@given(streamed())
def test_stream_renders_the_same_message_as_the_whole_answer(case):
    data, chunks = case
    stream = ts.MessageStream("claude-alias", THINKING_ON, input_tokens=7)
    sse = b"".join(stream.chunk(c) for c in chunks) + stream.end()
    events = _events(sse)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop")
    assert events[0]["message"]["usage"]["input_tokens"] == 7
    whole = tr.message(data, "claude-alias", THINKING_ON)
    rebuilt = _accumulate(events)
    assert rebuilt["content"] == whole["content"]
    assert rebuilt["stop_reason"] == whole["stop_reason"]
    assert events[-2]["usage"] == whole["usage"]  # cumulative usage at the end, cache reads apart

    # and back: an Anthropic upstream's events as OpenAI chunks give the same answer again
    translator = ts.ChunkTranslator("alias")
    again = [c for e in events for c in translator.feed(e)]
    assert translator.finished and again[-1]["usage"]["prompt_tokens"] == data["usage"]["prompt_tokens"]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in again if c["choices"])
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning") or "" for c in again if c["choices"])
    msg = data["choices"][0]["message"]
    assert content == (msg["content"] or "") and reasoning == (msg.get("reasoning") or "")
    calls: dict[int, dict[str, str]] = {}
    for c in again:
        for call in c["choices"][0]["delta"].get("tool_calls", []) if c["choices"] else []:
            slot = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
            slot["id"] = call.get("id") or slot["id"]
            slot["name"] += call["function"].get("name") or ""
            slot["arguments"] += call["function"].get("arguments") or ""
    got = [(tr.upstream_tool_id(s["id"]), s["name"], json.loads(s["arguments"] or "{}")) for _, s in sorted(calls.items())]
    assert got == [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in msg.get("tool_calls", [])]
    finishes = [c["choices"][0]["finish_reason"] for c in again if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finishes == [data["choices"][0]["finish_reason"]]


def test_stream_edge_cases():
    # no content at all: still a complete sequence; a tool call whose name comes late
    empty = ts.MessageStream("m", {})
    assert [e["type"] for e in _events(empty.end())] == ["message_start", "message_delta", "message_stop"]
    late = ts.MessageStream("m", {})
    frames = late.chunk({"id": "x", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "function": {"arguments": '{"a"'}}]}}]})
    assert b"content_block_start" not in frames and not late.started_content
    frames += late.chunk({"id": "x", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": ":1}"}}]}, "finish_reason": "tool_calls"}]})
    events = _events(frames + late.end())
    assert events[1]["content_block"] == {"type": "tool_use", "id": "toolu_call_1", "name": "f", "input": {}}
    assert _accumulate(events)["content"][0]["input"] == {"a": 1}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    error = _events(late.error(529, "Overloaded"))[0]
    assert error == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert ts.PING == b'event: ping\ndata: {"type":"ping"}\n\n'


def test_upstream_error_event_raises_with_its_status():
    with pytest.raises(UpstreamStatus) as info:
        ts.ChunkTranslator("m", "claude-tier").feed({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert info.value.status == 529 and info.value.retryable and "claude-tier" in info.value.message
    assert ts.ChunkTranslator("m").feed({"type": "ping"}) == [] and ts.ChunkTranslator("m").feed({"type": "new_kind"}) == []


# ---- requests: OpenAI -> Anthropic (an Anthropic upstream) ------------------------------------------


@st.composite
def openai_conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(texts)})
    for turn in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["user", "parts", "assistant", "tools"]))
        if kind == "user":
            messages.append({"role": "user", "content": draw(texts)})
        elif kind == "parts":
            parts = [{"type": "text", "text": t} for t in draw(st.lists(texts, min_size=1, max_size=2))]
            parts += [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{i}"}} for i in draw(st.lists(images, max_size=1))]
            messages.append({"role": "user", "content": parts})
        elif kind == "assistant":
            messages.append({"role": "assistant", "content": draw(texts)})
        else:
            calls = [{"id": draw(upstream_ids) + f"{turn}{n}", "type": "function", "function": {"name": draw(names), "arguments": json.dumps(draw(inputs))}}
                     for n in range(draw(st.integers(1, 3)))]  # fmt: skip
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            messages += [{"role": "tool", "tool_call_id": c["id"], "content": draw(texts)} for c in calls]
    return messages


def _norm_openai(messages: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, str) and content:
            out.append(("result" if m["role"] == "tool" else m["role"], content))
        elif isinstance(content, list):
            for p in content:
                out.append((m["role"], p["text"] if p["type"] == "text" else ("image", p["image_url"]["url"])))
        out += [("call", (c["function"]["name"], json.loads(c["function"]["arguments"]))) for c in m.get("tool_calls") or []]
    merged: list[tuple[str, Any]] = []  # consecutive assistant turns merge, their texts run together
    for role, value in out:
        if role == "assistant" and merged and merged[-1][0] == "assistant" and isinstance(value, str):
            merged[-1] = (role, merged[-1][1] + value)
        else:
            merged.append((role, value))
    return merged


@settings(max_examples=100, deadline=None)
@given(openai_conversations())
def test_openai_request_round_trip_through_anthropic(messages):
    native = tu.messages_request({"messages": messages, "max_tokens": 50}, "claude-sonnet", True)
    assert native["stream"] is True and native["max_tokens"] == 50
    roles = [m["role"] for m in native["messages"]]
    assert all(a != b for a, b in zip(roles, roles[1:], strict=False))  # same-role turns merged
    for m in native["messages"]:  # results open their user turn, ids fit Anthropic's pattern
        kinds = [b["type"] for b in m["content"]]
        assert kinds == sorted(kinds, key=lambda k: k != "tool_result")
        assert all(SAFE.match(b.get("id", b.get("tool_use_id", "x"))) for b in m["content"] if b["type"] in ("tool_use", "tool_result"))
    back = tr.openai_request(native, "alias", False)["messages"]
    system = [m for m in messages if m["role"] == "system"]
    assert _norm_openai(back) == _norm_openai(messages) if not system else _norm_openai(back[1:]) == _norm_openai(messages[1:])


def test_openai_to_anthropic_request_details():
    body = {
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "q"}, {"role": "system", "content": "later"}],
        "max_tokens": 3000, "temperature": 1.7, "top_p": 0.5, "stop": "END", "user": "u1",
        "tools": [{"type": "function", "function": {"name": "f", "description": "d"}}],
        "tool_choice": "required", "parallel_tool_calls": False,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
    }  # fmt: skip
    out = tu.messages_request(body, "claude-haiku", False)
    assert out["system"] == [{"type": "text", "text": "be brief"}] and out["messages"][1] == {"role": "system", "content": "later"}
    assert (out["temperature"], out["top_p"], out["stop_sequences"], out["metadata"]) == (1.0, 0.5, ["END"], {"user_id": "u1"})
    assert out["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}, "description": "d"}]
    assert out["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert out["output_config"] == {"format": {"type": "json_schema", "schema": {"type": "object"}}}
    thinking = tu.messages_request({**body, "reasoning_effort": "high"}, "c", False)
    assert thinking["thinking"] == {"type": "enabled", "budget_tokens": 2999}  # kept below max_tokens
    assert "temperature" not in thinking and "top_p" not in thinking
    for effort in ("low", "medium", "high"):  # each effort's budget falls back into its own band
        budget = tu.messages_request({**body, "max_tokens": 64000, "reasoning_effort": effort}, "c", False)["thinking"]["budget_tokens"]
        assert tr.effort_for_budget(budget) == effort
    assert "thinking" not in tu.messages_request({**body, "max_tokens": 1000, "reasoning_effort": "low"}, "c", False)
    assert tu.messages_request({"messages": [{"role": "user", "content": "q"}]}, "c", False)["max_tokens"] == tu.DEFAULT_MAX_TOKENS
    with pytest.raises(BadRequest, match="function tools"):
        tu.messages_request({**body, "tools": [{"type": "custom", "name": "x"}]}, "c", False)


def test_thinking_lmgate_made_is_dropped_before_an_anthropic_upstream():
    ours = {"type": "thinking", "thinking": "from qwen", "signature": tr.SIGNATURE}
    real = {"type": "thinking", "thinking": "from claude", "signature": "EqQBCkYIBxgCKkD"}
    body = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": [ours, real, {"type": "text", "text": "a"}]}]}
    cleaned = tu.drop_foreign_thinking(body)
    assert cleaned is not None and cleaned["messages"][1]["content"] == [real, {"type": "text", "text": "a"}]
    assert body["messages"][1]["content"][0] is ours  # the client's body is left as it was
    assert tu.drop_foreign_thinking(cleaned) is None  # nothing to drop: the bytes can go as they are


def test_usage_errors_and_estimates():
    usage = {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20}
    assert tu.usage_of(usage) == Usage(130, 5, 100, 20)
    assert ts.openai_usage(usage)["prompt_tokens"] == 130
    assert tr.anthropic_usage(ts.openai_usage(usage)) == {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 20, "cache_read_input_tokens": 100}
    assert [tr.error_type(s) for s in (400, 401, 403, 404, 413, 429, 500, 502, 503, 504, 529, 422)] == [
        "invalid_request_error", "authentication_error", "permission_error", "not_found_error", "request_too_large",
        "rate_limit_error", "api_error", "api_error", "overloaded_error", "timeout_error", "overloaded_error", "invalid_request_error",
    ]  # fmt: skip
    body = {"system": "x" * 40, "messages": [{"role": "user", "content": [{"type": "text", "text": "y" * 40}, {"type": "image", "source": {}}]}]}
    assert tr.estimate_tokens(body) == 20 + 1600 + 4
