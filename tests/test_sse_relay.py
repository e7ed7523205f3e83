"""The SSE relay's usage handling, checked against a plain reference over generated streams."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from lmgate.core import Usage
from lmgate.providers.sse import OpenAISSEStream

USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}

content_event = st.builds(
    lambda text: {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]},
    st.text(max_size=12),
)
usage_in_chunk = st.just({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": USAGE})
usage_only = st.just({"choices": [], "usage": USAGE})
null_usage = st.just({"choices": [{"index": 0, "delta": {"content": "x"}}], "usage": None})
events = st.lists(st.one_of(content_event, usage_in_chunk, usage_only, null_usage), max_size=12)


def frame(obj: dict) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


@given(events, st.booleans())
def test_inspect_matches_reference(evts, strip):
    relay = OpenAISSEStream.__new__(OpenAISSEStream)
    relay._strip_usage = strip
    relay.usage = None
    block = b"".join(frame(e) for e in evts) + b"data: [DONE]\n\n"
    expected = b"".join(frame(e) for e in evts if not (strip and e.get("usage") and not e["choices"])) + b"data: [DONE]\n\n"
    assert relay._inspect(block) == expected
    with_usage = [e for e in evts if isinstance(e.get("usage"), dict)]
    assert relay.usage == (Usage.from_openai(USAGE) if with_usage else None)
