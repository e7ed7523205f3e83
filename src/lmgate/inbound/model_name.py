"""The `model` of a relayed answer is the name the client sent, not the upstream's.

Pass-through answers are relayed as the upstream's bytes; their `"model": "<upstream name>"` members
(one per stream event or NDJSON line) are spliced in the bytes, never re-serialised: the first
member found is matched once with a regular expression, after which each block costs one
`bytes.replace` (C speed). A `"model"` inside a JSON string (generated text, tool arguments) is
escaped (`\\"model\\"`) and never matches.
"""

from __future__ import annotations

import re

import orjson

_MEMBER = re.compile(rb'"model"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _first_member(data: bytes) -> re.Match[bytes] | None:
    """The first `"model": "..."` member (bytes.find to get there: far cheaper than a regex search)."""
    pos = data.find(b'"model"')
    while pos >= 0:
        found = _MEMBER.match(data, pos)
        if found is not None:
            return found
        pos = data.find(b'"model"', pos + 7)
    return None


class ModelSplicer:
    """Rewrites the upstream's model name to `model` in the blocks of one answer."""

    __slots__ = ("_want", "_old", "_new")

    def __init__(self, model: str) -> None:
        self._want = orjson.dumps(model)
        self._old: bytes | None = None  # the upstream's member as it appears, once found
        self._new = b""

    def __call__(self, data: bytes) -> bytes:
        old = self._old
        if old is None:
            found = _first_member(data)
            if found is None:
                return data
            old = self._old = found.group(0)
            self._new = data[found.start() : found.start(1) - 1] + self._want
        if old == self._new:
            return data
        return data.replace(old, self._new)
