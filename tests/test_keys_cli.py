"""`lmgate keys|teams` on the database directly and through a running gateway (--url), `keys import`
from a LiteLLM Postgres database, and `lmgate usage --by key|team`."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.keys_kit import MASTER, chat, keys_config, lmgate, ok_json, within


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "gate.yaml"
    path.write_text(keys_config(f"sqlite:///{tmp_path / 'keys.db'}", str(tmp_path / "requests.jsonl")))
    return str(path)


def test_keys_and_teams_on_the_database_and_through_the_gateway(config, make_gateway, tmp_path):
    from pathlib import Path

    gw = make_gateway(Path(config))
    team = ok_json("teams", "create", "--alias", "agents", "--id", "agents", "--models", "cloud-*", "--config", config)
    assert team["team_id"] == "agents"
    made = ok_json("keys", "create", "--alias", "coder", "--team", "agents", "--duration", "7d", "--config", config)
    key = made["key"]
    assert chat(gw.url, key, "cloud-coder").status_code == 200  # made in the database, used on the gateway
    assert chat(gw.url, key, "local-chat").status_code == 403
    remote = ("--url", gw.url, "--master-key", MASTER)
    listed = ok_json("keys", "list", *remote)
    assert [k["key_alias"] for k in listed] == ["coder"] and key not in json.dumps(listed)
    assert ok_json("keys", "info", "coder", *remote)["info"]["team_id"] == "agents"
    assert ok_json("keys", "block", "coder", *remote)["blocked"] is True
    assert chat(gw.url, key, "cloud-coder").status_code == 401
    ok_json("keys", "unblock", "coder", "--config", config)  # directly: the gateway polls the revision
    within(3, lambda: chat(gw.url, key, "cloud-coder").status_code == 200)
    assert ok_json("keys", "update", "coder", "--models", "cloud-chat", *remote)["models"] == ["cloud-chat"]
    assert chat(gw.url, key, "cloud-coder").status_code == 403
    fresh = ok_json("keys", "regenerate", "coder", *remote)["key"]
    assert chat(gw.url, fresh, "cloud-chat").status_code == 200 and chat(gw.url, key, "cloud-chat").status_code == 401
    assert [t["team_alias"] for t in ok_json("teams", "list", *remote)] == ["agents"]
    assert ok_json("teams", "update", "agents", "--blocked", "--config", config)["data"]["blocked"] is True
    refused = lmgate("teams", "delete", "agents", "--config", config)
    assert refused.returncode == 1 and "still has 1 key" in refused.stderr
    assert ok_json("keys", "revoke", "coder", *remote) == {"deleted_keys": [hashlib.sha256(fresh.encode()).hexdigest()]}
    assert ok_json("teams", "delete", "agents", "--config", config) == {"deleted_teams": ["agents"]}
    table = lmgate("keys", "list", "--config", config)
    assert table.returncode == 0 and "0 key(s)" in table.stdout


def test_usage_by_key_and_team(config, make_gateway, tmp_path):
    from pathlib import Path

    gw = make_gateway(Path(config))
    ok_json("teams", "create", "--id", "docs", "--config", config)
    a = ok_json("keys", "create", "--alias", "paperless", "--team", "docs", "--config", config)["key"]
    b = ok_json("keys", "create", "--alias", "webui", "--config", config)["key"]
    for key, n in ((a, 3), (b, 2)):
        for _ in range(n):
            assert chat(gw.url, key).status_code == 200
    log = tmp_path / "requests.jsonl"
    within(5, lambda: log.exists() and len(log.read_text().splitlines()) >= 5)
    gw.stop()
    by_key = {r["group"]: r["requests"] for r in ok_json("usage", "--by", "key", "--config", config)["rows"]}
    assert by_key == {"paperless": 3, "webui": 2}
    by_team = {r["group"]: r["requests"] for r in ok_json("usage", "--by", "team", "--config", config)["rows"]}
    assert by_team == {"docs": 3, "(none)": 2}


LITELLM_SCHEMA = """
CREATE TABLE "LiteLLM_TeamTable" (team_id text PRIMARY KEY, team_alias text, models text[], blocked boolean,
  metadata jsonb, tpm_limit bigint, rpm_limit bigint, max_budget double precision, budget_duration text,
  spend double precision, created_at timestamp, updated_at timestamp, members_with_roles jsonb);
CREATE TABLE "LiteLLM_VerificationToken" (token text PRIMARY KEY, key_name text, key_alias text,
  spend double precision, expires timestamp, models text[], aliases jsonb, config jsonb, user_id text, team_id text,
  permissions jsonb, max_parallel_requests integer, metadata jsonb, blocked boolean, tpm_limit bigint,
  rpm_limit bigint, max_budget double precision, budget_duration text, created_at timestamp, updated_at timestamp);
"""


@pytest.fixture
def postgres():
    from tests.pg import Postgres

    pg = Postgres()
    yield pg
    pg.destroy()


def test_import_from_a_litellm_database_keeps_keys_working(config, make_gateway, postgres):
    from pathlib import Path

    value, blocked_value = "sk-litellm-imported-1", "sk-litellm-blocked-2"
    sha = lambda v: hashlib.sha256(v.encode()).hexdigest()  # noqa: E731
    postgres.query(LITELLM_SCHEMA)
    postgres.query(
        """INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, models, blocked, metadata, spend, created_at, updated_at)
           VALUES ('t1', 'agents', '{cloud-chat,cloud-coder}', false, '{}', 0, now(), now());"""
        f"""INSERT INTO "LiteLLM_VerificationToken" (token, key_name, key_alias, spend, models, team_id, metadata,
           blocked, rpm_limit, created_at, updated_at) VALUES
           ('{sha(value)}', 'sk-...ed-1', 'n8n', 1.5, '{{cloud-chat}}', 't1', '{{"model_rpm_limit": {{"cloud-chat": 5}}}}',
            null, 30, now(), now()),
           ('{sha(blocked_value)}', 'sk-...ed-2', NULL, 0, '{{}}', NULL, NULL, true, NULL, NULL, NULL);"""
    )
    done = ok_json("keys", "import", "--from", postgres.url, "--config", config)
    assert done == {"teams": 1, "keys": 2, "skipped": []}
    assert ok_json("keys", "import", "--from", postgres.url, "--config", config) == {"teams": 0, "keys": 0, "skipped": []}
    gw = make_gateway(Path(config))
    assert chat(gw.url, value, "cloud-chat").status_code == 200
    assert chat(gw.url, value, "cloud-coder").status_code == 403  # the key's own list is narrower than its team's
    assert chat(gw.url, blocked_value).status_code == 401
    info = ok_json("keys", "info", "n8n", "--config", config)["info"]
    assert (info["team_id"], info["rpm_limit"], info["model_rpm_limit"], info["spend"]) == ("t1", 30, {"cloud-chat": 5}, 1.5)
    bad = lmgate("keys", "import", "--from", f"sqlite:///{config}.nosuch.db", "--config", config)
    assert bad.returncode == 1 and "LiteLLM" in bad.stderr and "Traceback" not in bad.stderr


def test_privacy_through_the_cli(config, make_gateway):
    from pathlib import Path

    gw = make_gateway(Path(config))
    remote = ("--url", gw.url, "--master-key", MASTER)
    team = ok_json("teams", "create", "--id", "private", "--privacy", "strict", "--config", config)
    assert team["privacy"] == "strict"
    ok_json("keys", "create", "--alias", "careful", "--privacy", "strict", *remote)
    assert ok_json("keys", "info", "careful", *remote)["info"]["privacy"] == "strict"
    assert ok_json("keys", "update", "careful", "--privacy", "default", "--config", config)["privacy"] is None
    assert ok_json("teams", "update", "private", "--privacy", "default", *remote)["data"]["privacy"] is None
    for where in (remote, ("--config", config)):
        refused = lmgate("keys", "create", "--alias", "loose", "--privacy", "lax", *where)
        assert refused.returncode == 1 and "privacy" in refused.stderr
    assert [k["key_alias"] for k in ok_json("keys", "list", *remote)] == ["careful"]
