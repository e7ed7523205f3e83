"""Property tests for the OpenAI <-> Ollama translation functions (pure; no server needed)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmgate.errors import BadRequest
from lmgate.translate import ollama as tr
from lmgate.translate.ollama_inbound import StreamRenderer, Timing, openai_messages

texts = st.text(max_size=40)
images = st.binary(min_size=1, max_size=48).map(lambda b: base64.b64encode(b).decode())
json_values = st.one_of(st.integers(-(2**40), 2**40), st.text(max_size=8), st.booleans(), st.none())
arguments = st.dictionaries(st.text(max_size=6), json_values, max_size=4)
names = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True)


@st.composite
def conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Valid OpenAI message lists: system, user (text and image parts), assistant (text and/or tool
    calls with ids), and tool results answering earlier calls."""
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(texts)})
    open_calls: list[str] = []
    for turn in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["user_text", "user_parts", "assistant", "tools"]))
        if kind == "user_text":
            messages.append({"role": "user", "content": draw(texts)})
        elif kind == "user_parts":
            parts: list[dict[str, Any]] = [{"type": "text", "text": t} for t in draw(st.lists(texts, max_size=2))]
            parts += [{"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{i}"}} for i in draw(st.lists(images, max_size=2))]
            messages.append({"role": "user", "content": parts})
        elif kind == "assistant":
            messages.append({"role": "assistant", "content": draw(texts)})
        else:
            calls = [
                {"id": f"call_{turn}_{n}", "type": "function", "function": {"name": draw(names), "arguments": json.dumps(draw(arguments))}}
                for n in range(draw(st.integers(1, 3)))
            ]
            messages.append({"role": "assistant", "content": draw(st.one_of(st.none(), texts)), "tool_calls": calls})
            open_calls = [c["id"] for c in calls]
            for ident in open_calls:
                messages.append({"role": "tool", "tool_call_id": ident, "content": draw(texts)})
    return messages


def _images(content: Any) -> list[str]:
    if not isinstance(content, list):
        return []
    return [tr.split_data_url(p["image_url"]["url"])[1] for p in content if p.get("type") == "image_url"]  # type: ignore[index]


def _calls(message: dict[str, Any]) -> list[tuple[str, str, Any]]:
    return [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message.get("tool_calls") or []]


@settings(max_examples=200, deadline=None)
@given(conversations())
def test_openai_messages_round_trip_through_ollama(messages):
    native = tr.ollama_messages(messages)
    back = openai_messages(native)
    assert [m["role"] for m in back] == [m["role"] for m in messages]
    for before, after in zip(messages, back, strict=True):
        assert tr.text_of(after.get("content")) == tr.text_of(before.get("content"))
        assert _images(after.get("content")) == _images(before.get("content"))
        assert _calls(after) == _calls(before)
        assert after.get("tool_call_id") == before.get("tool_call_id")


@settings(max_examples=100, deadline=None)
@given(conversations())
def test_tool_results_name_the_function_they_answer(messages):
    native = tr.ollama_messages(messages)
    called = {c["id"]: c["function"]["name"] for m in native for c in m.get("tool_calls", ())}
    for m in native:
        if m["role"] == "tool":
            assert m["tool_name"] == called[m["tool_call_id"]]
        for c in m.get("tool_calls", ()):
            assert isinstance(c["function"]["arguments"], dict)


@settings(max_examples=100, deadline=None)
@given(st.lists(arguments, min_size=1, max_size=3), names)
def test_ollama_calls_without_ids_get_stable_distinct_ids(args, name):
    # Without `id`, the ids are made from (index, name, arguments): the same answer gives the same ids
    native = [{"role": "assistant", "content": "", "tool_calls": [{"function": {"name": name, "arguments": a}} for a in args]}]
    first, second = openai_messages(native), openai_messages(native)
    ids = [c["id"] for c in first[0]["tool_calls"]]
    assert ids == [c["id"] for c in second[0]["tool_calls"]]
    assert len(set(ids)) == len(ids)
    # a result that names the function (Ollama style) is matched to the first unanswered call
    answered = openai_messages([*native, {"role": "tool", "content": "r", "tool_name": name}])
    assert answered[1]["tool_call_id"] == ids[0]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=10), max_size=8), st.integers(0, 500), st.integers(0, 500))
def test_ollama_stream_to_openai_chunks_and_back_keeps_text_and_usage(pieces, prompt, completion):
    lines: list[dict[str, Any]] = [
        {"model": "m", "created_at": "2026-01-01T00:00:00.123456789Z", "message": {"role": "assistant", "content": p}, "done": False}
        for p in pieces
    ]
    lines.append({"model": "m", "created_at": "2026-01-01T00:00:01Z", "message": {"role": "assistant", "content": ""}, "done": True,
                  "done_reason": "length", "prompt_eval_count": prompt, "eval_count": completion})
    translator = tr.ChunkTranslator("alias")
    chunks = [c for line in lines for c in translator.feed(line)]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "".join(pieces)
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "length"
    assert chunks[-1]["usage"] == {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    assert chunks[0]["created"] == (1767225600 if pieces else 1767225601)  # from the first line's created_at
    renderer = StreamRenderer("alias", Timing(0))
    out = b"".join(renderer.feed(c, 10) for c in chunks) + renderer.close(20)
    back = [json.loads(line) for line in out.splitlines()]
    assert "".join(b["message"]["content"] for b in back) == "".join(pieces)
    assert back[-1]["done"] is True and back[-1]["done_reason"] == "length"
    assert (back[-1]["prompt_eval_count"], back[-1]["eval_count"]) == (prompt, completion)
    assert back[-1]["total_duration"] == 20


def test_request_mapping_details():
    body = {
        "messages": [{"role": "developer", "content": "rules"}, {"role": "user", "content": "q"}],
        "max_completion_tokens": 10,
        "stop": ["a", "b"],
        "response_format": {"type": "json_object"},
        "reasoning_effort": "minimal",
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "none",
    }
    out = tr.chat_body(body, "m:7b", True, {"num_ctx": 4096, "keep_alive": "5m", "think": True})
    assert out["messages"][0] == {"role": "system", "content": "rules"}
    assert out["options"] == {"num_predict": 10, "stop": ["a", "b"], "num_ctx": 4096}
    assert out["format"] == "json" and out["think"] == "low" and out["keep_alive"] == "5m" and out["stream"] is True
    assert "tools" not in out  # tool_choice none: Ollama has no tool_choice, so the tools are not offered


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", "3"])
def test_tool_arguments_that_are_not_a_json_object_are_a_400(raw):
    bad = [{"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": raw}}]}]
    with pytest.raises(BadRequest):
        tr.ollama_messages(bad)


def test_remote_image_without_fetch_is_a_400_and_mime_is_sniffed():
    with pytest.raises(BadRequest, match="allow_remote_images"):
        tr.ollama_messages([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}])
    assert tr.data_url("/9j/4AAQ").startswith("data:image/jpeg;base64,")
    assert tr.error_status('model "x" not found, try pulling it first') == 404
    assert tr.error_status("you (me) have reached your session usage limit") == 429
