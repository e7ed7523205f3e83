"""Canonical chat chunks -> the OpenAI Responses event stream, with `sequence_number`s.

One `StreamTranslator` per response. Output items open in the order their first delta arrives
(reasoning, message text/refusal, one per tool call) and each gets the id `responses_answer.item_id`
gives its output index, so the items in `response.output_item.done` and in the final
`response.completed` are the same objects. A text or reasoning item closes when another item opens;
tool calls stay open until the end (chat streams may interleave their argument fragments).
A tool call's item opens once its name is known; fragments before that are sent in one delta.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from lmgate.translate.responses import custom_tool_names, obj_of, str_of
from lmgate.translate.responses_answer import (
    call_item,
    custom_input,
    error_object,
    finish,
    item_id,
    message_item,
    reasoning_item,
    reasoning_of,
    refusal_part,
    skeleton,
    synthetic_call_id,
    text_part,
)

Event = dict[str, Any]


def frame(events: list[Event]) -> bytes:
    """Server-sent event frames (`event:` line + `data:` line) for events."""
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)


@dataclass(slots=True)
class _Part:
    kind: str  # "output_text" or "refusal"
    index: int
    chunks: list[str] = field(default_factory=list)

    def value(self) -> dict[str, Any]:
        text = "".join(self.chunks)
        return text_part(text) if self.kind == "output_text" else refusal_part(text)


@dataclass(slots=True)
class _Item:
    kind: str  # "message", "reasoning", "call"
    output_index: int
    id: str
    parts: list[_Part] = field(default_factory=list)  # message parts; reasoning uses one
    call_id: str = ""
    name: str = ""
    custom: bool = False
    arguments: list[str] = field(default_factory=list)
    opened: bool = False  # output_item.added sent
    done: dict[str, Any] | None = None  # the item as sent in output_item.done
    where: dict[str, Any] = field(default_factory=dict)  # item_id and output_index, for its events


class StreamTranslator:
    """OpenAI chat chunks in, Responses events out (`start`, `feed` per chunk, then `end` or `fail`)."""

    def __init__(
        self,
        body: dict[str, Any],
        response_id: str,
        model: str,
        created_at: int,
        seal: Callable[[str], str] | None = None,
    ) -> None:
        self.response = skeleton(body, response_id, model, created_at)
        self._id = response_id
        self._seal = seal
        self._custom = custom_tool_names(body)
        self._seq = 0
        self._items: list[_Item] = []
        self._current: _Item | None = None  # the open message or reasoning item
        self._calls: dict[int, _Item] = {}  # by the chunks' tool-call index
        self._finish: str | None = None
        self._usage: Any = None

    # ---- events ----

    def _event(self, kind: str, **fields: Any) -> Event:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def _lifecycle(self, kind: str) -> Event:
        return self._event(kind, response=self.response)

    def start(self) -> list[Event]:
        # snapshots: only top-level keys change later, so a shallow copy keeps these as they were
        events = [self._lifecycle("response.created"), self._lifecycle("response.in_progress")]
        for event in events:
            event["response"] = {**self.response, "output": []}
        return events

    # ---- items ----

    def _new(self, kind: str, prefix: str) -> _Item:
        item = _Item(kind, len(self._items), item_id(prefix, self._id, len(self._items)))
        self._items.append(item)
        return item

    def _added(self, item: _Item, shown: dict[str, Any]) -> Event:
        item.opened = True
        return self._event("response.output_item.added", output_index=item.output_index, item=shown)

    def _open_text(self, kind: str, out: list[Event]) -> _Item:
        """The open item for text of `kind` ("reasoning" or a message part kind), opened if needed."""
        item_kind = "reasoning" if kind == "reasoning" else "message"
        item = self._current
        if item is None or item.kind != item_kind:
            self._close_current(out)
            if item_kind == "reasoning":
                item = self._new("reasoning", "rs")
                out.append(self._added(item, {"type": "reasoning", "id": item.id, "summary": []}))
                item.parts.append(_Part("summary_text", 0))
                part = {"type": "summary_text", "text": ""}
                out.append(self._event("response.reasoning_summary_part.added", **self._where(item), summary_index=0, part=part))
            else:
                item = self._new("message", "msg")
                out.append(self._added(item, message_item(item.id, [], "in_progress")))
            self._current = item
        return item

    def _where(self, item: _Item) -> dict[str, Any]:
        if not item.where:
            item.where = {"item_id": item.id, "output_index": item.output_index}
        return item.where

    def _text(self, kind: str, delta: str, out: list[Event]) -> None:
        item = self._open_text(kind, out)
        if item.kind == "reasoning":
            item.parts[0].chunks.append(delta)
            out.append(self._event("response.reasoning_summary_text.delta", **self._where(item), summary_index=0, delta=delta))
            return
        part = item.parts[-1] if item.parts and item.parts[-1].kind == kind else None
        part = part or next((p for p in item.parts if p.kind == kind), None)
        if part is None:
            part = _Part(kind, len(item.parts))
            item.parts.append(part)
            out.append(self._event("response.content_part.added", **self._where(item), content_index=part.index, part=part.value()))
        part.chunks.append(delta)
        if not delta:
            return
        if kind == "output_text":
            out.append(self._event("response.output_text.delta", **self._where(item), content_index=part.index, delta=delta, logprobs=[]))
        else:
            out.append(self._event("response.refusal.delta", **self._where(item), content_index=part.index, delta=delta))

    def _call_delta(self, fragment: dict[str, Any], out: list[Event]) -> None:
        index = fragment.get("index", len(self._calls))
        fn = obj_of(fragment.get("function"))
        item = self._calls.get(index)
        if item is None:
            self._close_current(out)
            item = self._calls[index] = _Item("call", -1, "")
            item.call_id = str_of(fragment.get("id")) or synthetic_call_id(self._id, len(self._calls) - 1)
        item.name += str_of(fn.get("name"))
        if fn.get("arguments"):
            item.arguments.append(str_of(fn["arguments"]) or orjson.dumps(fn["arguments"]).decode())
        if not item.opened and item.name:
            self._open_call(item, out)
        elif item.opened and not item.custom and fn.get("arguments"):
            out.append(self._event("response.function_call_arguments.delta", **self._where(item), delta=item.arguments[-1]))

    def _open_call(self, item: _Item, out: list[Event]) -> None:
        self._close_current(out)
        item.custom = item.name in self._custom
        item.output_index = len(self._items)
        item.id = item_id("ctc" if item.custom else "fc", self._id, item.output_index)
        self._items.append(item)
        out.append(self._added(item, call_item(item.id, item.call_id, item.name, "", item.custom, "in_progress")))
        if item.arguments and not item.custom:
            out.append(self._event("response.function_call_arguments.delta", **self._where(item), delta="".join(item.arguments)))

    # ---- closing ----

    def _close_current(self, out: list[Event]) -> None:
        if self._current is not None:
            self._close(self._current, out)
            self._current = None

    def _close(self, item: _Item, out: list[Event]) -> None:
        if item.kind == "reasoning":
            text = "".join(item.parts[0].chunks)
            where = {**self._where(item), "summary_index": 0}
            out.append(self._event("response.reasoning_summary_text.done", **where, text=text))
            out.append(self._event("response.reasoning_summary_part.done", **where, part={"type": "summary_text", "text": text}))
            item.done = reasoning_item(item.id, text, self._seal(text) if self._seal else None)
        elif item.kind == "message":
            for part in item.parts:
                value = part.value()
                where = {**self._where(item), "content_index": part.index}
                if part.kind == "output_text":
                    out.append(self._event("response.output_text.done", **where, text=value["text"], logprobs=[]))
                else:
                    out.append(self._event("response.refusal.done", **where, refusal=value["refusal"]))
                out.append(self._event("response.content_part.done", **where, part=value))
            item.done = message_item(item.id, [p.value() for p in item.parts])
        else:
            arguments = "".join(item.arguments)
            if item.custom:
                text = custom_input(arguments)
                if text:
                    out.append(self._event("response.custom_tool_call_input.delta", **self._where(item), delta=text))
                out.append(self._event("response.custom_tool_call_input.done", **self._where(item), input=text))
            else:
                out.append(self._event("response.function_call_arguments.done", **self._where(item), name=item.name, arguments=arguments))
            item.done = call_item(item.id, item.call_id, item.name, arguments, item.custom)
        out.append(self._event("response.output_item.done", output_index=item.output_index, item=item.done))

    # ---- input ----

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        """The events one chat chunk brings (often none)."""
        out: list[Event] = []
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = obj_of(choice.get("delta"))
            if "reasoning" in delta or "reasoning_content" in delta:
                thinking = reasoning_of(delta)
                if thinking:
                    self._text("reasoning", thinking, out)
            text = delta.get("content")
            if text and isinstance(text, str):
                self._text("output_text", text, out)
            refusal = delta.get("refusal")
            if refusal and isinstance(refusal, str):
                self._text("refusal", refusal, out)
            for fragment in delta.get("tool_calls") or ():
                if isinstance(fragment, dict):
                    self._call_delta(fragment, out)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return out

    def end(self) -> list[Event]:
        """Closes every open item and sends response.completed (or .incomplete on length/content filter)."""
        out: list[Event] = []
        self._close_current(out)
        for item in sorted(self._calls.values(), key=lambda i: (not i.opened, i.output_index)):
            if not item.opened:  # a call whose name never came: shown as it is
                self._open_call(item, out)
            self._close(item, out)
        if not self._items:  # the model said nothing: one empty message, as a whole answer has
            self._text("output_text", "", out)
            self._close_current(out)
        self.response["output"] = [i.done for i in self._items]
        finish(self.response, self._finish, self._usage)
        kind = "response.incomplete" if self.response["status"] == "incomplete" else "response.completed"
        return [*out, self._lifecycle(kind)]

    def fail(self, status: int, message: str) -> list[Event]:
        """response.failed after an upstream failure mid-stream; items already finished are kept."""
        self.response["status"] = "failed"
        self.response["error"] = error_object(status, message)
        self.response["output"] = [i.done for i in self._items if i.done is not None]
        self.response["usage"] = None
        return [self._lifecycle("response.failed")]
