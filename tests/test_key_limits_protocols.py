"""A key's rate limit through every inbound protocol, with each protocol's official client: the answers
carry LiteLLM's x-ratelimit-* headers, and the 429 carries Retry-After, x-ratelimit-* and an error body
in the client's own protocol (Anthropic /v1/messages, Ollama /api/chat, OpenAI Responses, chat
completions), in memory and with Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import ollama
import openai
import pytest

from tests.keys_kit import new_key
from tests.limits_kit import client, limits_config
from tests.redis_server import redis_server_fixture, redis_session_fixture  # noqa: F401

Outcome = tuple[int, dict[str, str], Any]  # status, headers, what the client made of the answer


@pytest.fixture(params=["memory", "redis"])
def url(request, make_gateway, upstream, tmp_path) -> str:
    router = request.getfixturevalue("redis_server").router_settings if request.param == "redis" else ""
    config = limits_config(upstream.base, f"sqlite:///{tmp_path / 'keys.db'}", str(tmp_path / "requests.jsonl"), router)
    return str(make_gateway(config).url)


def _chat(url: str, key: str) -> Outcome:
    try:
        raw = client(url, key).chat.completions.with_raw_response.create(
            model="free", messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
    except openai.APIStatusError as exc:
        return exc.status_code, dict(exc.response.headers), exc.body
    return raw.http_response.status_code, dict(raw.headers), raw.parse()


def _responses(url: str, key: str) -> Outcome:
    try:
        raw = client(url, key).responses.with_raw_response.create(model="free", input="hi", max_output_tokens=16)
    except openai.APIStatusError as exc:
        return exc.status_code, dict(exc.response.headers), exc.body
    return raw.http_response.status_code, dict(raw.headers), raw.parse()


def _messages(url: str, key: str) -> Outcome:
    claude = anthropic.Anthropic(base_url=url, api_key=key, max_retries=0, timeout=20)
    try:
        raw = claude.messages.with_raw_response.create(
            model="free", max_tokens=4, messages=[{"role": "user", "content": "hi"}]
        )
    except anthropic.APIStatusError as exc:
        return exc.status_code, dict(exc.response.headers), exc.body
    return raw.http_response.status_code, dict(raw.headers), raw.parse()


def _ollama(url: str, key: str) -> Outcome:
    seen: list[httpx.Response] = []  # the SDK keeps no headers: an httpx hook on its own client sees them
    chat = ollama.Client(host=url, headers={"Authorization": f"Bearer {key}"}, timeout=20, event_hooks={"response": [seen.append]})
    try:
        answer: Any = chat.chat(model="free", messages=[{"role": "user", "content": "hi"}])
    except ollama.ResponseError as exc:
        answer = exc
    return seen[-1].status_code, dict(seen[-1].headers), answer


def _refused_in_openai_shape(body: Any) -> None:
    assert isinstance(body, dict) and body["code"] == "rate_limit_exceeded" and body["type"] == "rate_limit_error"
    assert "key 'once' is at its limit of 1 requests per minute (rpm_limit)" in body["message"]


def _refused_in_anthropic_shape(body: Any) -> None:
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert "rpm_limit" in body["error"]["message"] and body["request_id"]


def _refused_in_ollama_shape(err: Any) -> None:
    assert isinstance(err, ollama.ResponseError) and err.status_code == 429
    assert "rpm_limit" in err.error and "nothing was sent" in err.error


PROTOCOLS: dict[str, tuple[Callable[[str, str], Outcome], Callable[[Any], None]]] = {
    "chat": (_chat, _refused_in_openai_shape),
    "responses": (_responses, _refused_in_openai_shape),
    "anthropic": (_messages, _refused_in_anthropic_shape),
    "ollama": (_ollama, _refused_in_ollama_shape),
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_keys_429_has_retry_after_ratelimit_headers_and_the_clients_error_shape(url, protocol):
    send, refused_shape = PROTOCOLS[protocol]
    key = new_key(url, key_alias="once", rpm_limit=1)["key"]
    status, headers, _ = send(url, key)
    assert status == 200
    assert headers["x-ratelimit-limit-requests"] == "1" and headers["x-ratelimit-remaining-requests"] == "0"

    status, headers, body = send(url, key)
    assert status == 429
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-limit-requests"] == "1" and headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"] == headers["retry-after"] + "s"
    refused_shape(body)
    assert key not in str(body) and key not in str(headers)


@pytest.mark.parametrize("protocol", ["anthropic", "ollama"])
def test_a_tpm_429_names_the_token_headers(url, protocol):
    send, _ = PROTOCOLS[protocol]
    key = new_key(url, key_alias="tokens", tpm_limit=1)["key"]
    status, headers, _ = send(url, key)
    assert status == 200 and headers["x-ratelimit-limit-tokens"] == "1"
    status, headers, _ = send(url, key)  # the first answer's tokens used the minute up
    assert status == 429 and int(headers["retry-after"]) >= 1
    assert headers["x-ratelimit-limit-tokens"] == "1" and headers["x-ratelimit-remaining-tokens"] == "0"
    assert headers["x-ratelimit-reset-tokens"].endswith("s")
