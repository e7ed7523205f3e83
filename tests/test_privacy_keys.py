"""The `privacy` field of keys and teams (admin API), and what a strict key meets in each inbound
protocol with the official SDKs: a 403 naming the data policy, nothing sent upstream, never retried.
Also a chain whose only non-private tier is cooling down."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import ollama
import openai
import pytest

from tests.keys_kit import admin as keys_admin
from tests.routing_kit import MASTER, MSGS, Tiers, chat, health, hops, remote_deployments, tiers_fixture
from tests.servers import Behaviour, ServerThread

__all__ = ["tiers_fixture"]
Gateway = Callable[[str], ServerThread]


def keys_policy_config(t: Tiers, db: Path, private_tier: bool = True, router: str = "") -> str:
    """cloud-kimi (trains) -> remote-qwen (OpenRouter, no policy: unknown) -> keeper (retains)
    [-> ollama-qwen (local: none)]."""
    local = f"""
  - model_name: ollama-qwen
    litellm_params: {{model: openai/qwen2.5:3b, api_base: {t.cpu.base}}}""" if private_tier else ""
    tail = ", ollama-qwen" if private_tier else ""
    return f"""
model_list:{remote_deployments(t)}
  - model_name: keeper
    litellm_params: {{model: openai/keeper, api_base: {t.cpu.base}}}
    model_info: {{data_policy: retains}}{local}
router_settings:
  retry_backoff_base: 0.01
  fallbacks: [{{cloud-kimi: [remote-qwen, keeper{tail}]}}]
  {router}
general_settings:
  master_key: {MASTER}
  database_url: sqlite:///{db}
"""


def admin(url: str, path: str, body: dict[str, Any] | None, **params: Any) -> httpx.Response:
    return keys_admin(url, path, body, as_key=MASTER, **params)


def ok(res: httpx.Response) -> dict[str, Any]:
    assert res.status_code == 200, res.text
    return dict(res.json())


def upstream_calls(t: Tiers) -> int:
    return t.cloud.calls + t.vllm.calls + t.cpu.calls


class Sent:
    """An httpx event hook: every request an SDK sends (its own retries included)."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, request: Any) -> None:
        self.paths.append(request.url.path)

    def client(self) -> httpx.Client:
        return httpx.Client(event_hooks={"request": [self]}, timeout=15)

    def client2(self) -> Any:
        """The same for the anthropic SDK, which brings its own httpx (httpx2)."""
        import httpx2

        return httpx2.Client(event_hooks={"request": [self]}, timeout=15)


def test_privacy_field_is_validated_stored_and_shown(tiers: Tiers, make_gateway: Gateway, tmp_path: Path) -> None:
    gw = make_gateway(keys_policy_config(tiers, tmp_path / "keys.db"))
    for path, body in (
        ("/key/generate", {"key_alias": "bad", "privacy": "loose"}),
        ("/team/new", {"team_alias": "bad", "privacy": 1}),
    ):
        bad = admin(gw.url, path, body)
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "privacy", bad.text
        assert "'strict' or 'default'" in bad.json()["error"]["message"]
    assert ok(admin(gw.url, "/key/list", None, return_full_object="true"))["keys"] == []  # nothing stored
    assert admin(gw.url, "/team/list", None).json() == []

    made = ok(admin(gw.url, "/key/generate", {"key_alias": "private", "privacy": "strict"}))
    assert made["privacy"] == "strict"
    assert ok(admin(gw.url, "/key/info", None, key=made["key"]))["info"]["privacy"] == "strict"
    refused = admin(gw.url, "/key/update", {"key": made["key"], "privacy": "lax"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "privacy"
    assert ok(admin(gw.url, "/key/info", None, key=made["key"]))["info"]["privacy"] == "strict"  # unchanged
    assert ok(admin(gw.url, "/key/update", {"key": made["key"], "privacy": "default"}))["privacy"] is None
    assert ok(admin(gw.url, "/key/info", None, key=made["key"]))["info"]["privacy"] is None

    team = ok(admin(gw.url, "/team/new", {"team_alias": "legal", "privacy": "strict"}))
    assert team["privacy"] == "strict"
    info = ok(admin(gw.url, "/team/info", None, team_id=team["team_id"]))
    assert info["team_info"]["privacy"] == "strict"
    bad = admin(gw.url, "/team/update", {"team_id": team["team_id"], "privacy": "open"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "privacy"
    updated = ok(admin(gw.url, "/team/update", {"team_id": team["team_id"], "privacy": None}))
    assert updated["data"]["privacy"] is None
    assert upstream_calls(tiers) == 0


def test_the_privacy_field_routes_like_metadata_privacy(tiers: Tiers, make_gateway: Gateway, tmp_path: Path) -> None:
    gw = make_gateway(keys_policy_config(tiers, tmp_path / "keys.db"))
    key = ok(admin(gw.url, "/key/generate", {"key_alias": "k", "privacy": "strict"}))["key"]
    team = ok(admin(gw.url, "/team/new", {"team_alias": "legal", "privacy": "strict"}))["team_id"]
    member = ok(admin(gw.url, "/key/generate", {"key_alias": "m", "team_id": team}))["key"]

    def ask(k: str) -> httpx.Response:
        return httpx.post(gw.url + "/v1/chat/completions", json={"model": "cloud-kimi", "messages": MSGS},
                          headers={"Authorization": f"Bearer {k}"}, timeout=15)

    for k in (key, member):
        r = ask(k)
        assert r.status_code == 200, r.text
        assert [h for h, _ in hops(r.headers["x-lmgate-route"])] == ["cloud-kimi", "remote-qwen", "keeper", "ollama-qwen"]
        assert [o for _, o in hops(r.headers["x-lmgate-route"])] == ["policy-trains", "policy-unknown", "policy-retains", "ok"]
    assert tiers.cloud.calls == 0 and tiers.vllm.calls == 0 and tiers.cpu.calls == 2
    ok(admin(gw.url, "/key/update", {"key": key, "privacy": "default"}))  # every process learns at once
    assert ask(key).json()["choices"][0]["message"]["content"] == "from cloud"


@pytest.fixture
def strict_gw(tiers: Tiers, make_gateway: Gateway, tmp_path: Path) -> tuple[ServerThread, str]:
    """A gateway whose chain has no private tier, and a key with privacy: strict."""
    gw = make_gateway(keys_policy_config(tiers, tmp_path / "keys.db", private_tier=False))
    return gw, ok(admin(gw.url, "/key/generate", {"key_alias": "private-app", "privacy": "strict"}))["key"]


def _refusal_text(message: str) -> None:
    assert "strict data privacy" in message
    assert "cloud-kimi (trains)" in message and "remote-qwen (unknown)" in message and "keeper (retains)" in message


def test_strict_key_gets_403_from_the_openai_sdk_chat_and_responses(strict_gw: tuple[ServerThread, str], tiers: Tiers) -> None:
    gw, key = strict_gw
    sent = Sent()
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=key, http_client=sent.client())  # default retries
    with pytest.raises(openai.PermissionDeniedError) as chat_err:
        client.chat.completions.create(model="cloud-kimi", messages=MSGS)  # type: ignore[arg-type]
    assert chat_err.value.status_code == 403 and chat_err.value.code == "data_policy"
    _refusal_text(chat_err.value.message)
    with pytest.raises(openai.PermissionDeniedError) as resp_err:
        client.responses.create(model="cloud-kimi", input="hi")
    assert resp_err.value.code == "data_policy"
    _refusal_text(resp_err.value.message)
    assert sent.paths == ["/v1/chat/completions", "/v1/responses"]  # one each: a 403 is not retried
    assert upstream_calls(tiers) == 0


def test_strict_key_gets_403_from_the_anthropic_sdk(strict_gw: tuple[ServerThread, str], tiers: Tiers) -> None:
    gw, key = strict_gw
    sent = Sent()
    claude = anthropic.Anthropic(base_url=gw.url, api_key=key, http_client=sent.client2())
    with pytest.raises(anthropic.PermissionDeniedError) as err:
        claude.messages.create(model="cloud-kimi", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 403
    body = err.value.body
    assert isinstance(body, dict) and body["type"] == "error" and body["error"]["type"] == "permission_error"
    _refusal_text(body["error"]["message"])
    assert sent.paths == ["/v1/messages"]
    assert upstream_calls(tiers) == 0


def test_strict_key_gets_403_from_the_ollama_client(strict_gw: tuple[ServerThread, str], tiers: Tiers) -> None:
    gw, key = strict_gw
    sent = Sent()
    client = ollama.Client(host=gw.url, headers={"Authorization": f"Bearer {key}"}, timeout=15,
                           event_hooks={"request": [sent]})
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model="cloud-kimi", messages=MSGS)
    assert err.value.status_code == 403
    _refusal_text(err.value.error)
    with pytest.raises(ollama.ResponseError) as streamed:
        list(client.chat(model="cloud-kimi", messages=MSGS, stream=True))
    assert streamed.value.status_code == 403
    assert sent.paths == ["/api/chat", "/api/chat"]
    assert upstream_calls(tiers) == 0


def test_only_non_private_tiers_cooling_down(tiers: Tiers, make_gateway: Gateway, tmp_path: Path) -> None:
    """The chain's non-private head is cooling down: a strict key's request goes to the private tier
    (skipped by policy, not by cooldown); with no private tier left, the strict request is the 403, not a
    wait for the cooled tier nor a move to the retains or unknown one."""
    router = "cooldown_time: 60\n  allowed_fails: 0\n  wait_for_cooldown_s: 5"
    for private in (True, False):
        for up in (tiers.cloud, tiers.vllm, tiers.cpu):
            up.seen.clear()
        gw = make_gateway(keys_policy_config(tiers, tmp_path / f"keys-{private}.db", private, router))
        key = ok(admin(gw.url, "/key/generate", {"key_alias": "strict", "privacy": "strict"}))["key"]
        tiers.cloud.script = [Behaviour(kind="status", status=503)]
        assert chat(gw).json()["choices"][0]["message"]["content"] == "from vllm"  # the head failed, the chain moved on
        assert health(gw)["cloud-kimi"]["state"] == "cooling_down"
        tiers.cloud.seen.clear()
        tiers.vllm.seen.clear()
        r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "cloud-kimi", "messages": MSGS},
                       headers={"Authorization": f"Bearer {key}"}, timeout=15)
        if private:
            assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "from cpu"
            assert hops(r.headers["x-lmgate-route"])[0] == ("cloud-kimi", "policy-trains")
            assert tiers.cpu.calls == 1
        else:
            assert r.status_code == 403 and r.json()["error"]["code"] == "data_policy", r.text
            _refusal_text(r.json()["error"]["message"])
            assert "cooldown" not in r.headers.get("x-lmgate-route", "")
            assert tiers.cpu.calls == 0
        assert tiers.cloud.calls == 0 and tiers.vllm.calls == 0
        assert health(gw)["cloud-kimi"]["state"] == "cooling_down"
