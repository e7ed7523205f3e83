"""Anthropic Messages requests -> OpenAI chat requests, and OpenAI answers -> Anthropic messages.

Used when an Anthropic client (`POST /v1/messages`) reaches a non-Anthropic upstream. Decisions (see
docs/anthropic.md):
- `system` (string or text blocks, joined by a blank line) becomes the first system message;
  `role:"system"` entries inside `messages` (Claude Code sends them) stay system messages in place;
- `thinking` blocks in the history are dropped: strict OpenAI-compatible servers (Mistral) refuse
  reasoning fields in input messages, and chat templates drop past reasoning anyway;
- a user turn's `tool_result` blocks become `role:"tool"` messages placed BEFORE that turn's text
  and images, as Ollama's own Anthropic layer does; images inside a result follow in the user turn;
  `is_error` results start with "Error: " (OpenAI has no such flag);
- tool-call ids are translated statelessly and reversibly: an upstream id `X` is shown to the client
  as `toolu_X` (ids with characters Anthropic does not allow are base64url-encoded behind
  `toolu_lmg-`), and the client's `toolu_…` ids map back to `X`, so restricted ids such as Mistral's
  nine alphanumerics survive the round trip;
- `thinking: enabled` becomes `reasoning_effort`: `output_config.effort` when given, else by budget
  (below 4096 -> low, below 16384 -> medium, else high); `adaptive` (the model decides) sends no
  effort, so models that cannot reason still answer Claude Code (see `reasoning_effort`); the upstream's
  reasoning comes back as `thinking` blocks only when the client enabled thinking and did not ask
  for `display:"omitted"`; those blocks carry the signature `SIGNATURE`, which marks them as not
  made by Anthropic;
- `cache_control`, `context_management`, `defer_loading`, server tools (typed tools such as
  `web_search_20250305`, which only Anthropic can run) and `anthropic-beta` features are accepted
  and dropped; `document` blocks are refused with a 400.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from typing import TYPE_CHECKING, Any

import orjson

from lmgate.errors import BadRequest
from lmgate.translate.ollama import call_id, parse_arguments, text_of

if TYPE_CHECKING:
    from lmgate.core import GatewayRequest

SIGNATURE = "lmgate-unsigned"  # on thinking blocks lmgate made from another protocol's reasoning
_ID_PREFIX = "toolu_"
_ENCODED = "lmg-"  # after the prefix: the rest is the upstream id, base64url-encoded
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]+$")  # Anthropic's pattern for tool_use ids
EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
BUDGET_BANDS = ((4096, "low"), (16384, "medium"))  # budget_tokens below the bound -> effort
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use", "content_filter": "refusal"}
# blocks that only Anthropic's own servers produce or understand, and past thinking: history the
# other upstreams cannot use
_DROPPED_BLOCKS = frozenset(
    {
        "redacted_thinking", "server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
        "code_execution_tool_result", "bash_code_execution_tool_result", "tool_search_tool_result",
        "text_editor_code_execution_tool_result", "container_upload", "mcp_tool_use", "mcp_tool_result",
        "tool_reference", "thinking",
    }
)  # fmt: skip
_IMAGE_TOKENS = 1600  # count_tokens estimate for one image (Anthropic's ~1.15 megapixel cap / 750)


# ---- ids -------------------------------------------------------------------------------------------


def client_tool_id(upstream_id: str) -> str:
    """The `toolu_…` id an Anthropic client sees for an upstream tool-call id (see `upstream_tool_id`)."""
    if _SAFE_ID.match(upstream_id) and not upstream_id.startswith(_ENCODED):
        return _ID_PREFIX + upstream_id
    return _ID_PREFIX + _ENCODED + base64.urlsafe_b64encode(upstream_id.encode()).decode().rstrip("=")


def upstream_tool_id(client_id: str) -> str:
    """The upstream id behind a client's tool id: the inverse of `client_tool_id`; other ids unchanged."""
    if not client_id.startswith(_ID_PREFIX):
        return client_id
    rest = client_id[len(_ID_PREFIX) :]
    if rest.startswith(_ENCODED):
        packed = rest[len(_ENCODED) :]
        try:
            if _SAFE_ID.match(packed):
                return base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            pass
        return client_id
    return rest or client_id


def anthropic_tool_id(ident: str) -> str:
    """An id Anthropic accepts in a request: unchanged when it fits the pattern, else encoded."""
    return ident if _SAFE_ID.match(ident) else client_tool_id(ident)


def message_id(seed: Any) -> str:
    """A `msg_…` id derived from the upstream answer's own id (the same answer keeps the same id)."""
    return "msg_" + hashlib.sha256(str(seed).encode()).hexdigest()[:24]


# ---- shared helpers --------------------------------------------------------------------------------


def obj(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (wire data is never trusted to have a shape)."""
    return value if isinstance(value, dict) else {}


def seq(value: Any) -> list[Any]:
    """`value` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def lenient_arguments(raw: Any) -> dict[str, Any]:
    """Tool-call arguments as an object; a model's broken JSON is kept visible under `_raw`."""
    try:
        return parse_arguments(raw)
    except BadRequest:
        return {"_raw": raw}


def effort_for_budget(budget: int) -> str:
    """The OpenAI `reasoning_effort` for an Anthropic thinking `budget_tokens` (documented bands)."""
    return next((effort for bound, effort in BUDGET_BANDS if budget < bound), "high")


def shows_thinking(body: dict[str, Any]) -> bool:
    """Whether an Anthropic client asked to see thinking blocks."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive", "between_tools"):
        return False
    return thinking.get("display") != "omitted"


def stop_sequences(body: dict[str, Any]) -> tuple[str, ...]:
    stops = body.get("stop_sequences")
    return tuple(s for s in stops if isinstance(s, str)) if isinstance(stops, list) else ()


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list) and all(isinstance(b, dict) for b in content):
        return content
    raise BadRequest(f"{where} 'content' must be a string or an array of content blocks", param="messages")


def _text_blocks(content: Any, where: str, sep: str) -> str:
    if content is None:
        return ""
    return sep.join(str(b.get("text", "")) for b in _blocks(content, where) if b.get("type") == "text")


# ---- requests: Anthropic -> OpenAI -----------------------------------------------------------------


def _image_part(block: dict[str, Any]) -> dict[str, Any]:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64" and isinstance(source, dict) and isinstance(source.get("data"), str):
        mime = source.get("media_type") or "image/png"
        return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{source['data']}"}}
    if kind == "url" and isinstance(source, dict) and isinstance(source.get("url"), str):
        return {"type": "image_url", "image_url": {"url": source["url"]}}  # the remote-image rule applies
    raise BadRequest("an image block needs a source of type 'base64' (with data) or 'url'", param="messages")


def _refuse(kind: Any) -> BadRequest:
    if kind == "document":
        return BadRequest(
            "document blocks (PDF or text files) cannot be sent to this model: send the text as a text block",
            param="messages",
        )
    return BadRequest(f"content blocks of type '{kind}' are not supported here", param="messages")


def _tool_result(block: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One tool_result block as an OpenAI tool message, plus the images it carried."""
    ident = block.get("tool_use_id")
    if not isinstance(ident, str) or not ident:
        raise BadRequest("each tool_result block needs a 'tool_use_id'", param="messages")
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    content = block.get("content")
    for part in _blocks(content, "tool_result") if content is not None else ():
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind == "image":
            images.append(_image_part(part))
        elif kind == "search_result":
            texts.append(_text_blocks(part.get("content"), "search_result", "\n"))
        elif kind not in _DROPPED_BLOCKS:
            raise _refuse(kind)
    text = "\n".join(texts)
    if block.get("is_error") is True:
        text = "Error: " + text
    return {"role": "tool", "tool_call_id": upstream_tool_id(ident), "content": text}, images


def _user(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    result_images: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif kind == "image":
            parts.append(_image_part(block))
        elif kind == "tool_result":
            message, images = _tool_result(block)
            results.append(message)
            result_images += images
        elif kind == "search_result":
            parts.append({"type": "text", "text": _text_blocks(block.get("content"), "search_result", "\n")})
        elif kind not in _DROPPED_BLOCKS:
            raise _refuse(kind)
    parts += result_images
    if not parts:
        return results
    if len(parts) == 1 and parts[0]["type"] == "text":
        return [*results, {"role": "user", "content": parts[0]["text"]}]
    return [*results, {"role": "user", "content": parts}]


def _assistant(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            ident, name = block.get("id"), block.get("name")
            if not isinstance(ident, str) or not ident or not isinstance(name, str) or not name:
                raise BadRequest("each tool_use block needs an 'id' and a 'name'", param="messages")
            args = block.get("input") if block.get("input") is not None else {}
            if not isinstance(args, dict):
                raise BadRequest("a tool_use block's 'input' must be an object", param="messages")
            calls.append({"id": upstream_tool_id(ident), "type": "function", "function": {"name": name, "arguments": orjson.dumps(args).decode()}})
        elif kind not in _DROPPED_BLOCKS:
            raise _refuse(kind)
    text = "".join(texts)
    out: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        out["tool_calls"] = calls
    return out


def openai_messages(system: Any, messages: list[Any]) -> list[dict[str, Any]]:
    """Anthropic `system` and `messages` as OpenAI chat messages."""
    out: list[dict[str, Any]] = []
    system_text = _text_blocks(system, "system", "\n\n")
    if system_text:
        out.append({"role": "system", "content": system_text})
    for m in messages:
        if not isinstance(m, dict):
            raise BadRequest("each message must be an object", param="messages")
        role = m.get("role")
        if role == "system":
            out.append({"role": "system", "content": _text_blocks(m.get("content"), "system message", "\n\n")})
        elif role == "user":
            out += _user(_blocks(m.get("content"), "user message"))
        elif role == "assistant":
            out.append(_assistant(_blocks(m.get("content"), "assistant message")))
        else:
            raise BadRequest(f"message 'role' must be 'user' or 'assistant', not '{role}'", param="messages")
    return out


def openai_tools(tools: Any) -> list[dict[str, Any]]:
    """Custom tools as OpenAI function tools; server tools (typed, run by Anthropic) are dropped."""
    if not isinstance(tools, list):
        return []
    out = []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest("each tool needs a 'name'", param="tools")
        schema = tool.get("input_schema")
        fn: dict[str, Any] = {"name": name, "parameters": schema if isinstance(schema, dict) else {"type": "object", "properties": {}}}
        if isinstance(tool.get("description"), str):
            fn["description"] = tool["description"]
        out.append({"type": "function", "function": fn})
    return out


def _tool_choice(choice: Any, out: dict[str, Any]) -> None:
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind == "auto":
        out["tool_choice"] = "auto"
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "none":
        out["tool_choice"] = "none"
    elif kind == "tool":
        if not isinstance(choice.get("name"), str):
            raise BadRequest("tool_choice of type 'tool' needs a 'name'", param="tool_choice")
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    if choice.get("disable_parallel_tool_use") is True:
        out["parallel_tool_calls"] = False


def reasoning_effort(body: dict[str, Any]) -> str | None:
    """With `thinking: enabled`: `output_config.effort`, else the budget's band. Otherwise None:
    `adaptive` leaves it to the model, and Claude Code sends `adaptive` with `effort: high` on every
    request — passed on, that would make models that cannot reason (Ollama answers 400 "does not
    support thinking", OpenAI's non-reasoning models refuse `reasoning_effort`) fail every request."""
    thinking = obj(body.get("thinking"))
    if thinking.get("type") != "enabled":
        return None
    effort = obj(body.get("output_config")).get("effort")
    if isinstance(effort, str) and effort in EFFORTS:
        return EFFORTS[effort]
    budget = thinking.get("budget_tokens")
    return effort_for_budget(budget) if isinstance(budget, int) else None


def _response_format(body: dict[str, Any]) -> dict[str, Any] | None:
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    fmt = fmt if fmt is not None else body.get("output_format")  # the structured-outputs beta's name
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    if not isinstance(fmt.get("schema"), dict):
        raise BadRequest("output_config.format.schema must be a JSON schema object", param="output_config")
    return {"type": "json_schema", "json_schema": {"name": "response", "schema": fmt["schema"]}}


def validate(body: dict[str, Any]) -> None:
    """What every Messages request needs, whatever its upstream (400 otherwise)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array of messages", param="messages")
    limit = body.get("max_tokens")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise BadRequest("'max_tokens' is required: a positive integer", param="max_tokens")


def openai_request(body: dict[str, Any], model: str, stream: bool) -> dict[str, Any]:
    """An Anthropic Messages body as the canonical OpenAI chat body (400 for what cannot be served)."""
    validate(body)
    out: dict[str, Any] = {"model": model, "messages": openai_messages(body.get("system"), body["messages"]), "max_tokens": body["max_tokens"]}
    for key in ("temperature", "top_p", "top_k"):
        if isinstance(body.get(key), int | float) and not isinstance(body.get(key), bool):
            out[key] = body[key]
    if stop := stop_sequences(body):
        out["stop"] = list(stop)
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    if effort := reasoning_effort(body):
        out["reasoning_effort"] = effort
    if fmt := _response_format(body):
        out["response_format"] = fmt
    if tools := openai_tools(body.get("tools")):
        out["tools"] = tools
        _tool_choice(body.get("tool_choice"), out)
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def canonical_request(greq: GatewayRequest) -> dict[str, Any]:
    """The canonical body of an Anthropic-wire request (its `to_canonical`)."""
    return openai_request(greq.body, greq.model, greq.stream)


# ---- answers: OpenAI -> Anthropic ------------------------------------------------------------------


def anthropic_usage(usage: Any) -> dict[str, int]:
    """OpenAI usage as Anthropic's: input excludes cache reads, which are counted apart."""
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    cached = int(details.get("cached_tokens") or 0)
    written = int(details.get("cache_write_tokens") or 0)
    prompt = int(usage.get("prompt_tokens") or 0)
    return {
        "input_tokens": max(0, prompt - cached - written),
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
    }


def stop_reason(finish: Any, has_tool_calls: bool, matched: Any, stops: tuple[str, ...]) -> tuple[str, str | None]:
    """(stop_reason, stop_sequence) for an OpenAI finish_reason. vLLM names the stop string it hit."""
    if has_tool_calls and finish in (None, "stop", "tool_calls", "function_call"):
        return "tool_use", None
    if finish in (None, "stop") and isinstance(matched, str) and matched in stops:
        return "stop_sequence", matched
    return STOP_REASONS.get(finish or "stop", "end_turn"), None


def _first_choice(data: dict[str, Any]) -> dict[str, Any]:
    choices = data.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    return first if isinstance(first, dict) else {}


def _reasoning(obj: dict[str, Any]) -> str:
    value = obj.get("reasoning") or obj.get("reasoning_content")
    return value if isinstance(value, str) else ""


def message(data: dict[str, Any], model: str, request: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat.completion as an Anthropic message. `request` is the client's Anthropic body."""
    choice = _first_choice(data)
    msg = obj(choice.get("message"))
    content: list[dict[str, Any]] = []
    reasoning = _reasoning(msg)
    if reasoning and shows_thinking(request):
        content.append({"type": "thinking", "thinking": reasoning, "signature": SIGNATURE})
    text = text_of(msg.get("content"))
    if text:
        content.append({"type": "text", "text": text})
    calls = seq(msg.get("tool_calls"))
    for n, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            continue
        name = str(fn.get("name") or "")
        ident = call.get("id") if isinstance(call.get("id"), str) and call["id"] else call_id(n, name, str(fn.get("arguments")))
        content.append({"type": "tool_use", "id": client_tool_id(ident), "name": name, "input": lenient_arguments(fn.get("arguments"))})
    reason, sequence = stop_reason(choice.get("finish_reason"), bool(calls), choice.get("stop_reason"), stop_sequences(request))
    return {
        "id": message_id(data.get("id") or orjson.dumps(data)),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": anthropic_usage(data.get("usage")),
    }


# ---- errors and token estimates ----------------------------------------------------------------------

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    """The Anthropic error type for an HTTP status."""
    return _ERROR_TYPES.get(status, "invalid_request_error" if 400 <= status < 500 else "api_error")


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type(status), "message": message}}


def _block_chars(block: Any) -> tuple[int, int]:
    """(characters of text, images) in one content block, nested tool results included."""
    if isinstance(block, str):
        return len(block), 0
    if not isinstance(block, dict):
        return 0, 0
    kind = block.get("type")
    if kind == "image":
        return 0, 1
    if kind == "text":
        return len(str(block.get("text", ""))), 0
    if kind == "thinking":
        return len(str(block.get("thinking", ""))), 0
    if kind == "tool_use":
        return len(str(block.get("name", ""))) + len(orjson.dumps(block.get("input"))), 0
    chars = images = 0
    content = block.get("content")
    for part in content if isinstance(content, list) else [content]:
        c, i = _block_chars(part)
        chars, images = chars + c, images + i
    return chars, images


def estimate_tokens(body: dict[str, Any]) -> int:
    """A count_tokens estimate when the upstream has no tokenizer: 4 characters a token, 1600 an image,
    4 tokens of framing a message; tool definitions count as their JSON."""
    system = body.get("system")
    chars, images = _block_chars({"content": system}) if system is not None else (0, 0)
    messages = seq(body.get("messages"))
    for m in messages:
        c, i = _block_chars({"content": m.get("content")} if isinstance(m, dict) else None)
        chars, images = chars + c, images + i
    if isinstance(body.get("tools"), list):
        chars += len(orjson.dumps(body["tools"]))
    return math.ceil(chars / 4) + images * _IMAGE_TOKENS + 4 * len(messages)

