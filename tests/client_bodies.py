"""Request bodies as real clients send them, for edge-validation tests and the validation micro-benchmark.

- Open WebUI (OpenAI and Ollama connections) and n8n's OpenAI node (LangChain JS `ChatOpenAI`): the
  keys and shapes those clients put on the wire, nulls and defaults included.
- Claude Code 2.1 (`POST /v1/messages`) and Codex CLI 0.169 (`POST /v1/responses`), after
  shared/design/PROTOCOLS.md section 6: the keys recorded there, with tool definitions of the size
  those clients send (the Claude Code body is ~40 kB with a dozen tools), for the Anthropic and
  Responses protocols.

The openai and ollama SDKs' own bodies are produced live by the SDKs in tests/test_validation.py.
"""

from __future__ import annotations

import copy
import json
from typing import Any

IMAGE = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

OPEN_WEBUI_OPENAI: dict[str, Any] = {
    "stream": True,
    "model": "MODEL",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant. Today is 2026-12-01."},
        {"role": "user", "content": "What is on this picture?"},
        {"role": "assistant", "content": "Please send it."},
        {"role": "user", "content": [{"type": "text", "text": "Here"}, {"type": "image_url", "image_url": {"url": IMAGE}}]},
    ],
    "stream_options": {"include_usage": True},
    "temperature": 0.8,
    "max_tokens": None,
    "metadata": {"chat_id": "c-1", "message_id": "m-1", "session_id": "s-1"},
}

OPEN_WEBUI_OLLAMA: dict[str, Any] = {
    "model": "MODEL",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Describe the image", "images": [IMAGE.split(",", 1)[1]]},
    ],
    "stream": True,
    "options": {"temperature": 0.7, "num_ctx": 8192, "top_k": 40, "stop": ["<|im_end|>"]},
    "format": "",
    "keep_alive": "5m",
}

N8N_TOOLS_AGENT: dict[str, Any] = {
    "model": "MODEL",
    "temperature": 0.7,
    "top_p": 1,
    "frequency_penalty": 0,
    "presence_penalty": 0,
    "n": 1,
    "stream": False,
    "max_tokens": -1,
    "messages": [
        {"role": "system", "content": "You are a helpful assistant"},
        {"role": "user", "content": "What's the weather in Berlin?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "call_abc123", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Berlin\"}"}}
            ],
        },
        {"role": "tool", "content": "{\"temp\": 4}", "tool_call_id": "call_abc123"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                    "additionalProperties": False,
                    "$schema": "http://json-schema.org/draft-07/schema#",
                },
            },
        }
    ],
}

N8N_STRUCTURED: dict[str, Any] = {
    "model": "MODEL",
    "messages": [{"role": "developer", "content": "Extract the fields."}, {"role": "user", "content": "Ann, 31"}],
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "person", "strict": True, "schema": {
            "type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name", "age"], "additionalProperties": False}},
    },
    "stop": None,
    "user": None,
}


def _schema(n: int) -> dict[str, Any]:
    """A tool input schema the size Claude Code's are (long descriptions, a few nested properties)."""
    prose = ("Use this tool when the task needs it. It runs in the user's workspace with their permissions, "
             "so describe what it will do first, keep each call focused, and prefer the dedicated tools. ") * 4
    return {
        "type": "object",
        "properties": {
            f"param_{i}": {"type": "string", "description": prose[: 200 + 40 * i]} for i in range(n)
        } | {"options": {"type": "object", "properties": {"timeout": {"type": "number"},
                                                          "run_in_background": {"type": "boolean"}}}},
        "required": ["param_0"],
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }


_CLAUDE_TOOLS = ["Agent", "Bash", "Edit", "Glob", "Grep", "Read", "Write", "NotebookEdit", "WebFetch", "WebSearch",
                 "TodoWrite", "ExitPlanMode"]


def claude_code() -> dict[str, Any]:
    """A Claude Code turn: ~40 kB, 12 tools, three cache-controlled system blocks, thinking adaptive."""
    tools: list[dict[str, Any]] = []
    for i, name in enumerate(_CLAUDE_TOOLS):
        tool: dict[str, Any] = {"name": name, "description": f"{name}: " + "Performs the action. " * 45,
                                "input_schema": _schema(4 + i % 4)}
        if name == "NotebookEdit":
            tool["defer_loading"] = True
        tools.append(tool)
    system = [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.328; cc_entrypoint=cli"},
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.",
         "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "You are an interactive CLI tool that helps users with software engineering tasks. "
         * 40, "cache_control": {"type": "ephemeral"}},
    ]
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "<system-reminder>context</system-reminder>"},
                                     {"type": "text", "text": "fix the failing test", "cache_control": {"type": "ephemeral"}}]},
        {"role": "system", "content": "The user is in plan mode."},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Look at the test first.", "signature": "sig"},
            {"type": "text", "text": "Let me read it."},
            {"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"param_0": "tests/test_x.py"}},
        ]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01",
                                      "content": [{"type": "text", "text": "def test_x():\n    assert f() == 2\n"}]}]},
    ]
    return {
        "model": "claude-sonnet-4-5",
        "messages": messages,
        "system": system,
        "tools": tools,
        "metadata": {"user_id": json.dumps({"device_id": "d" * 64, "session_id": "0b1c"})},
        "max_tokens": 32000,
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
        "stream": True,
    }


def codex() -> dict[str, Any]:
    """A Codex CLI turn on the Responses API."""
    fn = [
        {"type": "function", "name": name, "description": f"{name} " + "Runs a command in the sandbox. " * 20,
         "strict": False, "parameters": _schema(3)}
        for name in ("exec_command", "write_stdin", "view_image", "apply_patch", "update_plan")
    ]
    return {
        "model": "gpt-5-codex",
        "instructions": "You are Codex, based on GPT-5. You are running as a coding agent in the Codex CLI.",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions>…"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "run the tests"}]},
            {"type": "function_call", "call_id": "call_1", "name": "exec_command",
             "arguments": "{\"cmd\":\"make test\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "2 passed"},
            {"type": "reasoning", "summary": [], "encrypted_content": "gAAAA"},
        ],
        "tools": [*fn, {"type": "web_search"}],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0b1c",
        "client_metadata": {"originator": "codex_exec"},
    }


def short_chat() -> dict[str, Any]:
    return {"model": "MODEL", "messages": [{"role": "user", "content": "hello"}]}


def openai_chat_like_claude_code() -> dict[str, Any]:
    """The Claude Code turn as an OpenAI chat request (what a translating client sends): ~40 kB, 12 tools."""
    cc = claude_code()
    return {
        "model": "MODEL",
        "stream": True,
        "max_tokens": 32000,
        "messages": [
            {"role": "system", "content": "\n".join(b["text"] for b in cc["system"])},
            {"role": "user", "content": "fix the failing test"},
            {"role": "assistant", "content": "Let me read it.", "tool_calls": [
                {"id": "toolu_01", "type": "function", "function": {"name": "Read", "arguments": "{\"param_0\":\"t.py\"}"}}]},
            {"role": "tool", "tool_call_id": "toolu_01", "content": "def test_x():\n    assert f() == 2\n"},
        ],
        "tools": [{"type": "function", "function": {"name": t["name"], "description": t["description"],
                                                    "parameters": t["input_schema"]}} for t in cc["tools"]],
    }


def with_model(body: dict[str, Any], model: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    out["model"] = model
    return out
