"""Virtual keys and teams through the real gateway: LiteLLM's admin API, the official clients' errors,
allow-lists, the caller's own record, and no key value anywhere it should not be."""

from __future__ import annotations

import sqlite3
import time

import httpx
import ollama
import openai
import pytest

from tests.keys_kit import MASTER, MSGS, admin, chat, keys_config, new_key, ok_json, within


@pytest.fixture
def gw(make_gateway, tmp_path):
    return make_gateway(keys_config(f"sqlite:///{tmp_path / 'keys.db'}", str(tmp_path / "requests.jsonl")))


def sdk(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=10)


def test_generated_key_works_and_its_allow_list_is_enforced_for_the_openai_sdk(gw):
    made = new_key(gw.url, key_alias="paperless", models=["cloud-*"], metadata={"owner": "docs"})
    key = made["key"]
    assert key.startswith("sk-") and made["key_alias"] == "paperless" and made["models"] == ["cloud-*"]
    assert made["token"] != key and len(made["token"]) == 64
    client = sdk(gw.url, key)
    out = client.chat.completions.create(model="cloud-coder", messages=MSGS, max_tokens=2)
    assert out.choices[0].message.content is not None
    with pytest.raises(openai.PermissionDeniedError) as denied:
        client.chat.completions.create(model="local-chat", messages=MSGS, max_tokens=2)
    assert "local-chat" in denied.value.message and "cloud-*" in denied.value.message
    assert [m.id for m in client.models.list()] == ["cloud-chat", "cloud-coder"]
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("local-chat")
    with pytest.raises(openai.AuthenticationError):
        sdk(gw.url, key + "x").models.list()
    # the master key keeps working and sees every model
    assert len(sdk(gw.url, MASTER).models.list().data) == 3


def test_block_unblock_delete_and_regenerate(gw):
    key = new_key(gw.url, key_alias="n8n")["key"]
    assert chat(gw.url, key).status_code == 200
    assert admin(gw.url, "/key/block", {"key": key}).json()["blocked"] is True
    with pytest.raises(openai.AuthenticationError) as refused:
        sdk(gw.url, key).chat.completions.create(model="cloud-chat", messages=MSGS)
    assert "blocked" in refused.value.message
    assert admin(gw.url, "/key/unblock", {"key": key}).json()["blocked"] is False
    assert chat(gw.url, key).status_code == 200

    fresh = admin(gw.url, "/key/regenerate", {"key": key}).json()
    assert fresh["key"] != key and fresh["key_alias"] == "n8n"
    assert chat(gw.url, key).status_code == 401
    assert chat(gw.url, fresh["key"]).status_code == 200
    res = admin(gw.url, f"/key/{fresh['token']}/regenerate", {})
    assert res.status_code == 200 and chat(gw.url, res.json()["key"]).status_code == 200

    gone = admin(gw.url, "/key/delete", {"key_aliases": ["n8n"]})
    assert gone.status_code == 200 and gone.json() == {"deleted_keys": ["n8n"]}
    assert chat(gw.url, res.json()["key"]).status_code == 401
    assert admin(gw.url, "/key/delete", {"keys": [key]}).status_code == 404


def test_expired_key_is_refused_and_duration_sets_expiry(gw):
    made = new_key(gw.url, duration="30d")
    expires = time.mktime(time.strptime(made["expires"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert abs(expires - (time.time() + 30 * 86400)) < 120
    assert chat(gw.url, made["key"]).status_code == 200
    assert admin(gw.url, "/key/update", {"key": made["key"], "expires": "2020-01-01T00:00:00Z"}).status_code == 200
    res = chat(gw.url, made["key"])
    assert res.status_code == 401 and "expired" in res.json()["error"]["message"]
    assert admin(gw.url, "/key/generate", {"duration": "soon"}).status_code == 400


def test_ollama_client_gets_the_same_refusals_in_ollamas_shape(gw):
    key = new_key(gw.url, models=["local-chat"])["key"]
    client = ollama.Client(host=gw.url, headers={"Authorization": f"Bearer {key}"})
    assert [m.model for m in client.list().models] == ["local-chat"]
    assert client.chat(model="local-chat", messages=MSGS, stream=False).message.content is not None
    with pytest.raises(ollama.ResponseError) as denied:
        client.chat(model="cloud-chat", messages=MSGS, stream=False)
    assert denied.value.status_code == 403 and "local-chat" in denied.value.error
    bad = ollama.Client(host=gw.url, headers={"Authorization": "Bearer sk-not-a-key"})
    with pytest.raises(ollama.ResponseError) as refused:
        bad.chat(model="local-chat", messages=MSGS, stream=False)
    assert refused.value.status_code == 401
    raw = httpx.post(gw.url + "/api/chat", json={"model": "cloud-chat", "messages": MSGS, "stream": False},
                     headers={"Authorization": f"Bearer {key}"})
    assert raw.status_code == 403 and isinstance(raw.json()["error"], str)


def test_a_virtual_key_reads_only_its_own_record_and_no_admin_path(gw):
    mine = new_key(gw.url, key_alias="agent")
    other = new_key(gw.url, key_alias="other")
    own = admin(gw.url, "/key/info", as_key=mine["key"])
    assert own.status_code == 200 and own.json()["info"]["key_alias"] == "agent"
    assert admin(gw.url, "/key/info", as_key=mine["key"], key=other["token"]).status_code == 403
    assert admin(gw.url, "/key/info", key=other["token"]).json()["info"]["key_alias"] == "other"
    for path in ("/key/generate", "/team/new", "/key/block"):
        assert admin(gw.url, path, {}, as_key=mine["key"]).status_code == 403
    for path in ("/key/list", "/health", "/team/list"):
        assert admin(gw.url, path, as_key=mine["key"]).status_code == 403
    listed = admin(gw.url, "/key/list").json()
    assert listed["total_count"] == 2 and set(listed["keys"]) == {mine["token"], other["token"]}
    full = admin(gw.url, "/key/list", return_full_object="true", key_alias="agent").json()
    assert [k["key_alias"] for k in full["keys"]] == ["agent"]


def test_teams_restrict_and_block_their_keys(gw):
    team = admin(gw.url, "/team/new", {"team_alias": "agents", "models": ["cloud-coder"]}).json()
    key = new_key(gw.url, team_id=team["team_id"], key_alias="coder")["key"]
    assert chat(gw.url, key, "cloud-coder").status_code == 200
    denied = chat(gw.url, key, "cloud-chat")
    assert denied.status_code == 403 and "cloud-coder" in denied.json()["error"]["message"]
    info = admin(gw.url, "/team/info", team_id=team["team_id"]).json()
    assert info["team_info"]["team_alias"] == "agents" and [k["key_alias"] for k in info["keys"]] == ["coder"]
    assert admin(gw.url, "/team/update", {"team_id": team["team_id"], "blocked": True}).json()["data"]["blocked"] is True
    assert chat(gw.url, key, "cloud-coder").status_code == 401
    assert admin(gw.url, "/team/delete", {"team_ids": [team["team_id"]]}).status_code == 400  # it has a key
    assert admin(gw.url, "/key/generate", {"team_id": "nosuch"}).status_code == 400
    assert [t["team_alias"] for t in admin(gw.url, "/team/list").json()] == ["agents"]


def test_limit_fields_are_stored_and_user_id_is_ignored_with_a_warning(gw):
    fields = {
        "rpm_limit": 10, "tpm_limit": 1000, "max_parallel_requests": 2, "max_budget": 5.5,
        "budget_duration": "30d", "model_rpm_limit": {"cloud-chat": 3}, "model_tpm_limit": {"cloud-chat": 300},
    }
    res = admin(gw.url, "/key/generate", {**fields, "user_id": "alice"})
    assert res.status_code == 200 and "user_id" in res.headers["x-lmgate-warning"]
    info = admin(gw.url, "/key/info", key=res.json()["key"]).json()["info"]
    assert {k: info[k] for k in fields} == fields and info["user_id"] is None
    bad = admin(gw.url, "/key/generate", {"rpm_limit": -1})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "rpm_limit"


def test_no_key_value_in_database_logs_metrics_or_errors(gw, tmp_path):
    made = new_key(gw.url, key_alias="webui", models=["cloud-chat"])
    key = made["key"]
    assert chat(gw.url, key).status_code == 200
    errors = [chat(gw.url, key, "local-chat").text]
    admin(gw.url, "/key/block", {"key": key})
    errors.append(chat(gw.url, key).text)
    metrics = httpx.get(gw.url + "/metrics").text
    assert 'key_alias="webui"' in metrics
    log = tmp_path / "requests.jsonl"
    within(5, lambda: log.exists() and log.read_text().count('"webui"') >= 3)
    db = sqlite3.connect(tmp_path / "keys.db")
    dumped = "\n".join(db.iterdump())
    assert made["token"] in dumped
    for text in (dumped, log.read_text(), metrics, *errors):
        assert key not in text and key[3:] not in text


@pytest.fixture
def postgres():
    from tests.pg import Postgres

    pg = Postgres()
    yield pg
    pg.destroy()


def test_on_postgres_keys_keep_working_while_the_database_is_down(make_gateway, tmp_path, postgres):
    gw = make_gateway(keys_config(postgres.url, str(tmp_path / "requests.jsonl")))
    key = new_key(gw.url, key_alias="survivor", models=["cloud-chat"])["key"]
    assert chat(gw.url, key).status_code == 200
    assert postgres.query("select key_alias from lmgate_keys") == ["survivor"]
    postgres.stop()
    assert chat(gw.url, key).status_code == 200  # from the cache: no database on the request path
    assert chat(gw.url, MASTER).status_code == 200
    assert chat(gw.url, "sk-never-made-1234").status_code == 401
    down = admin(gw.url, "/key/generate", {"key_alias": "later"})
    assert down.status_code == 503 and "unreachable" in down.json()["error"]["message"]
    postgres.start()
    within(10, lambda: admin(gw.url, "/key/generate", {"key_alias": "later"}).status_code == 200)


def test_a_reload_cannot_remove_the_master_key_and_open_the_admin_api(make_gateway, tmp_path):
    """Virtual keys need the master key; a reload never turns authentication off (server/reload.py), so
    the keys and the admin API stay guarded until a restart."""
    path = tmp_path / "gate.yaml"
    text = keys_config(f"sqlite:///{tmp_path / 'keys.db'}", str(tmp_path / "requests.jsonl"))
    path.write_text(text)
    gw = make_gateway(path)
    made = new_key(gw.url)
    path.write_text(text.replace(f"  master_key: {MASTER}\n", ""))
    refused = admin(gw.url, "/config/reload", {})
    assert refused.status_code == 400 and "never turns authentication off" in refused.text
    assert httpx.get(gw.url + "/v1/models").status_code == 401  # still guarded
    assert httpx.post(gw.url + "/key/generate", json={}).status_code == 401
    assert chat(gw.url, made["key"]).status_code == 200 and new_key(gw.url)["key"]


def test_default_sqlite_file_in_the_state_dir_appears_with_the_first_key(make_gateway, tmp_path, monkeypatch):
    state = tmp_path / "state"
    monkeypatch.setenv("LMGATE_STATE_DIR", str(state))
    config = tmp_path / "gate.yaml"
    config.write_text(keys_config("x", "y").replace("  database_url: x\n", "").replace("  request_log_path: y\n", "  request_log_path: false\n"))
    gw = make_gateway(config)
    assert chat(gw.url, MASTER).status_code == 200 and chat(gw.url, "sk-nothing-yet-1").status_code == 401
    assert not (state / "lmgate.db").exists()  # no keys, no database
    made = ok_json("keys", "create", "--alias", "first", "--config", str(config))  # the CLI makes the file
    assert (state / "lmgate.db").stat().st_mode & 0o077 == 0
    within(3, lambda: chat(gw.url, made["key"]).status_code == 200)  # the running gateway finds it
    assert new_key(gw.url, key_alias="second")["key_alias"] == "second"
    assert ok_json("keys", "info", "second", "--config", str(config))["info"]["key_alias"] == "second"
