"""OpenAI Responses API <-> the canonical form (OpenAI chat completions), for upstreams without `/v1/responses`.

Requests: `chat_request(body, history)` turns a Responses request (plus the stored items of a
`previous_response_id`, if any) into a chat body. Answers: `responses_answer.response_object` turns a
chat.completion into a Response; `responses_stream.StreamTranslator` does the same for chunks.
Decisions (docs/responses.md):
- `instructions` and the system/developer messages before the first other turn become ONE leading
  system message (many chat templates accept a system message only at the start); later
  system/developer items stay system messages in place;
- a `reasoning` item's text (summary, content or our own sealed `encrypted_content`) rides on the
  next assistant message as `reasoning`, the canonical field the Ollama translator turns into `thinking`;
- `custom` (freeform) tools become a function with one string argument `input`, and the model's
  call of it comes back as a `custom_tool_call`;
- hosted tools (web_search, file_search, code_interpreter, image_generation, mcp, ...) are dropped and
  named by `dropped_tools`, so the handler can warn in a header instead of failing the turn;
- item ids derive from the response id, so the stream and the final object carry the same ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from lmgate.errors import BadRequest

CUSTOM_ARG = "input"  # the one argument of the function a custom tool becomes
_OPEN_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_UNSUPPORTED_FIELDS = ("conversation", "prompt")


def str_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def obj_of(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# ---- tools -----------------------------------------------------------------------------------------


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise BadRequest("'tools' must be an array of tool objects", param="tools")
    return tools


def dropped_tools(body: dict[str, Any]) -> list[str]:
    """The types of the hosted tools in a request: no upstream here can run them, so they are not sent."""
    return [str(t.get("type")) for t in _tools(body) if t.get("type") not in ("function", "custom")]


def custom_tool_names(body: dict[str, Any]) -> frozenset[str]:
    return frozenset(str(t.get("name")) for t in _tools(body) if t.get("type") == "custom")


def _tool_name(tool: dict[str, Any]) -> str:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest(f"a {tool.get('type')} tool needs a 'name'", param="tools")
    return name


def _function_tool(tool: dict[str, Any]) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": _tool_name(tool)}
    if isinstance(tool.get("description"), str):
        fn["description"] = tool["description"]
    params = tool.get("parameters")
    fn["parameters"] = params if isinstance(params, dict) else _OPEN_SCHEMA
    if isinstance(tool.get("strict"), bool):
        fn["strict"] = tool["strict"]
    return {"type": "function", "function": fn}


def _custom_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A freeform tool as a function taking its whole input as one string."""
    description = str_of(tool.get("description"))
    fmt = tool.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "grammar" and isinstance(fmt.get("definition"), str):
        syntax = fmt.get("syntax") or "lark"
        description += f"\n\nThe `{CUSTOM_ARG}` string must follow this {syntax} grammar:\n{fmt['definition']}"
    arg = {"type": "string", "description": "The tool's whole input, as free text."}
    params = {"type": "object", "properties": {CUSTOM_ARG: arg}, "required": [CUSTOM_ARG], "additionalProperties": False}
    return {"type": "function", "function": {"name": _tool_name(tool), "description": description.strip(), "parameters": params}}


def chat_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The function and custom tools of a Responses request as chat tools (hosted tools left out)."""
    out = []
    for tool in _tools(body):
        if tool.get("type") == "function":
            out.append(_function_tool(tool))
        elif tool.get("type") == "custom":
            out.append(_custom_tool(tool))
    return out


def _named_choice(choice: dict[str, Any], offered: set[str]) -> dict[str, Any] | None:
    name = choice.get("name")
    if not isinstance(name, str) or name not in offered:
        raise BadRequest(f"tool_choice names '{name}', which is not among the function tools", param="tool_choice")
    return {"type": "function", "function": {"name": name}}


def _tool_choice(choice: Any, tools: list[dict[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
    """(chat tool_choice or None, the tools to send): `allowed_tools` narrows the tools sent instead."""
    offered = {t["function"]["name"] for t in tools}
    if choice is None or choice in ("auto", "none", "required"):
        return choice, tools
    if not isinstance(choice, dict):
        raise BadRequest("'tool_choice' must be none, auto, required or a tool object", param="tool_choice")
    kind = choice.get("type")
    if kind in ("function", "custom"):
        return _named_choice(choice, offered), tools
    if kind == "allowed_tools":
        allowed = {t.get("name") for t in choice.get("tools") or [] if isinstance(t, dict)}
        mode = choice.get("mode") if choice.get("mode") in ("auto", "required") else "auto"
        return mode, [t for t in tools if t["function"]["name"] in allowed]
    return None, tools  # a hosted tool was forced: it is dropped, so the model chooses freely


# ---- input items -----------------------------------------------------------------------------------


def _text_parts(content: Any, param: str) -> str:
    """The text of a content value made of text parts (input_text, output_text, refusal)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise BadRequest("message 'content' must be a string or an array of content parts", param=param)
    texts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            texts.append(str(part.get("text", "")))
        elif kind == "refusal":
            texts.append(str(part.get("refusal", "")))
        else:
            raise BadRequest(f"a system or assistant message cannot hold a '{kind}' part", param=param)
    return "\n".join(texts)


def _image_part(part: dict[str, Any]) -> dict[str, Any]:
    url = part.get("image_url")
    if not isinstance(url, str) or not url:
        raise BadRequest("an input_image needs an 'image_url' (file ids are not served by this gateway)", param="input")
    image: dict[str, Any] = {"url": url}
    if isinstance(part.get("detail"), str):
        image["detail"] = part["detail"]
    return {"type": "image_url", "image_url": image}


def _file_part(part: dict[str, Any]) -> dict[str, Any]:
    file: dict[str, Any] = {k: part[k] for k in ("file_data", "file_id", "filename") if isinstance(part.get(k), str)}
    if "file_data" not in file and "file_id" not in file:
        raise BadRequest("an input_file needs 'file_data' or 'file_id' (file URLs are not fetched)", param="input")
    return {"type": "file", "file": file}


def _user_parts(content: Any) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise BadRequest("message 'content' must be a string or an array of content parts", param="input")
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "input_image":
            parts.append(_image_part(part))
        elif kind == "input_file":
            parts.append(_file_part(part))
        else:
            raise BadRequest(f"content parts of type '{kind}' are not supported", param="input")
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _tool_output(item: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """(text, image/file parts) of a function_call_output: chat tool messages carry text only."""
    output = item.get("output")
    if isinstance(output, str):
        return output, []
    if output is None:
        return "", []
    parts = _user_parts(output)
    if isinstance(parts, str):
        return parts, []
    text = "\n".join(p["text"] for p in parts if p["type"] == "text")
    return text, [p for p in parts if p["type"] != "text"]


def _call_id(item: dict[str, Any]) -> str:
    ident = item.get("call_id")
    if not isinstance(ident, str) or not ident:
        raise BadRequest(f"a {item.get('type')} item needs a 'call_id'", param="input")
    return ident


class _History:
    """Builds chat messages from Responses items, merging what chat keeps in one assistant message."""

    def __init__(self, open_reasoning: Callable[[str], str | None]) -> None:
        self.messages: list[dict[str, Any]] = []
        self._open_reasoning = open_reasoning
        self._assistant: dict[str, Any] | None = None  # the assistant turn items may still add to

    def _turn(self) -> dict[str, Any]:
        if self._assistant is None:
            self._assistant = {"role": "assistant", "content": None}
            self.messages.append(self._assistant)
        return self._assistant

    def _other(self, message: dict[str, Any]) -> None:
        self._assistant = None
        self.messages.append(message)

    def add(self, item: Any) -> None:
        if isinstance(item, str):
            item = {"type": "message", "role": "user", "content": item}
        if not isinstance(item, dict):
            raise BadRequest("each input item must be an object", param="input")
        kind = item.get("type", "message")
        if kind == "message":
            self._message(item)
        elif kind in ("function_call", "custom_tool_call"):
            self._call(item, kind)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            text, extra = _tool_output(item)
            self._other({"role": "tool", "tool_call_id": _call_id(item), "content": text})
            if extra:  # images a tool returned go to the model as the next user turn
                self._other({"role": "user", "content": [{"type": "text", "text": "(tool output)"}, *extra]})
        elif kind == "reasoning":
            self._reasoning(item)
        elif kind == "item_reference":
            raise BadRequest("item_reference inputs are not supported; send the items themselves", param="input")
        else:
            raise BadRequest(f"input items of type '{kind}' are not supported", param="input")

    def _message(self, item: dict[str, Any]) -> None:
        role = item.get("role")
        content = item.get("content")
        if role == "assistant":
            turn = self._assistant
            if turn is None or turn["content"] is not None or "tool_calls" in turn:
                self._assistant = None
                turn = self._turn()
            turn["content"] = _text_parts(content, "input")
        elif role in ("system", "developer"):
            self._other({"role": "system", "content": _text_parts(content, "input")})
        elif role == "user":
            self._other({"role": "user", "content": _user_parts(content)})
        else:
            raise BadRequest(f"unknown message role '{role}'", param="input")

    def _call(self, item: dict[str, Any], kind: str) -> None:
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest(f"a {kind} item needs a 'name'", param="input")
        if kind == "custom_tool_call":
            arguments = orjson.dumps({CUSTOM_ARG: str(item.get("input", ""))}).decode()
        else:
            arguments = str_of(item.get("arguments")) or "{}"
        call = {"id": _call_id(item), "type": "function", "function": {"name": name, "arguments": arguments}}
        self._turn().setdefault("tool_calls", []).append(call)

    def _reasoning(self, item: dict[str, Any]) -> None:
        text = reasoning_text(item, self._open_reasoning)
        if not text:
            return
        turn = self._assistant
        if turn is None or turn["content"] is not None or "tool_calls" in turn or "reasoning" in turn:
            self._assistant = None
            turn = self._turn()
        turn["reasoning"] = text

    def finish(self) -> list[dict[str, Any]]:
        for m in self.messages:
            if m["role"] == "assistant" and m["content"] is None and "tool_calls" not in m:
                m["content"] = ""  # a reasoning-only turn
        return self.messages


def reasoning_text(item: dict[str, Any], open_reasoning: Callable[[str], str | None]) -> str:
    """A reasoning item's text: our sealed blob when it opens, else its content, else its summary."""
    sealed = item.get("encrypted_content")
    if isinstance(sealed, str) and sealed:
        opened = open_reasoning(sealed)
        if opened is not None:
            return opened
    for key, kind in (("content", "reasoning_text"), ("summary", "summary_text")):
        parts = item.get(key)
        if isinstance(parts, list):
            text = "\n".join(str(p.get("text", "")) for p in parts if isinstance(p, dict) and p.get("type") == kind)
            if text:
                return text
    return ""


def input_items(body: dict[str, Any]) -> list[Any]:
    """The request's `input` as a list of items (a string is one user message)."""
    value = body.get("input")
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest("'input' must be a string or an array of input items", param="input")
    return value


def _no_reasoning(_: str) -> str | None:
    return None


def chat_messages(
    body: dict[str, Any], history: Sequence[Any] = (), open_reasoning: Callable[[str], str | None] = _no_reasoning
) -> list[dict[str, Any]]:
    """Chat messages for the stored items of earlier turns (`history`) plus this request's input."""
    built = _History(open_reasoning)
    for item in [*history, *input_items(body)]:
        built.add(item)
    messages = built.finish()
    lead = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        lead.append(instructions)
    elif instructions is not None and not isinstance(instructions, str):
        raise BadRequest("'instructions' must be a string", param="instructions")
    while messages and messages[0]["role"] == "system":
        lead.append(messages.pop(0)["content"])
    if lead:
        messages.insert(0, {"role": "system", "content": "\n\n".join(lead)})
    if not any(m["role"] != "system" for m in messages):
        raise BadRequest("'input' must hold at least one message", param="input")
    return messages


# ---- the request ----------------------------------------------------------------------------------


def _response_format(text: Any) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return None
    if fmt["type"] == "json_object":
        return {"type": "json_object"}
    if fmt["type"] == "json_schema":
        if not isinstance(fmt.get("schema"), dict):
            raise BadRequest("text.format.schema must be a JSON schema object", param="text.format")
        spec = {"name": fmt.get("name") or "response", "schema": fmt["schema"]}
        spec.update({k: fmt[k] for k in ("description", "strict") if fmt.get(k) is not None})
        return {"type": "json_schema", "json_schema": spec}
    raise BadRequest(f"text.format type '{fmt['type']}' is not supported", param="text.format")


def _sampling(body: dict[str, Any], out: dict[str, Any]) -> None:
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    limit = body.get("max_output_tokens")
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise BadRequest("'max_output_tokens' must be a positive integer", param="max_output_tokens")
        out["max_tokens"] = limit
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("effort"), str):
        out["reasoning_effort"] = reasoning["effort"]
    fmt = _response_format(body.get("text"))
    if fmt is not None:
        out["response_format"] = fmt
    if isinstance(body.get("top_logprobs"), int) and body["top_logprobs"] > 0:
        out["logprobs"] = True
        out["top_logprobs"] = body["top_logprobs"]
    for key in ("metadata", "user", "prompt_cache_key"):
        if body.get(key) is not None:
            out[key] = body[key]


def chat_request(
    body: dict[str, Any],
    model: str,
    history: Sequence[Any] = (),
    open_reasoning: Callable[[str], str | None] = _no_reasoning,
) -> dict[str, Any]:
    """A Responses request (after its earlier turns, `history`) as a canonical chat-completions body."""
    for key in _UNSUPPORTED_FIELDS:
        if body.get(key) is not None:
            raise BadRequest(f"'{key}' is not supported by this gateway", param=key)
    out: dict[str, Any] = {"model": model, "messages": chat_messages(body, history, open_reasoning)}
    tools = chat_tools(body)
    choice, tools = _tool_choice(body.get("tool_choice"), tools)
    if tools:
        out["tools"] = tools
        if choice is not None:
            out["tool_choice"] = choice
        if isinstance(body.get("parallel_tool_calls"), bool):
            out["parallel_tool_calls"] = body["parallel_tool_calls"]
    _sampling(body, out)
    if body.get("stream") is True:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out
