"""Two `lmgate serve` replicas sharing one database: a key made on one works on the other at once, and a
blocked key is refused on both (every worker) within a second — SQLite with polling, Postgres with
Redis pub/sub."""

from __future__ import annotations

import time
from pathlib import Path

from tests.keys_kit import admin, chat, keys_config, new_key, within
from tests.processes import serving
from tests.redis_server import RedisServer, redis_server_fixture, redis_session_fixture  # noqa: F401


def _all_refused(url: str, key: str, times: int = 8) -> bool:
    return all(chat(url, key).status_code == 401 for _ in range(times))


def _replicas_share_keys(config: Path) -> None:
    with serving("--config", str(config), "--workers", "2") as a, serving("--config", str(config)) as b:
        key = new_key(a, key_alias="shared")["key"]
        assert chat(b, key).status_code == 200  # made on A, works on B at once
        assert all(chat(a, key).status_code == 200 for _ in range(6))  # on each of A's workers
        assert admin(a, "/key/block", {"key": key}).status_code == 200
        blocked = time.monotonic()
        for url in (b, a):  # every worker of both; the revision is polled every 0.5 s, so 1 s with room
            within(1.0 - (time.monotonic() - blocked), lambda url=url: _all_refused(url, key))
        assert admin(b, "/key/unblock", {"key": key}).status_code == 200
        within(1.0, lambda: all(chat(u, key).status_code == 200 for u in (a, b) for _ in range(6)))


def test_replicas_on_one_sqlite_file(tmp_path):
    config = tmp_path / "gate.yaml"
    config.write_text(keys_config(f"sqlite:///{tmp_path / 'keys.db'}", str(tmp_path / "requests.jsonl")))
    _replicas_share_keys(config)


def test_replicas_on_postgres_with_redis(tmp_path, postgres, redis_server: RedisServer):
    config = tmp_path / "gate.yaml"
    config.write_text(keys_config(postgres.url, str(tmp_path / "requests.jsonl"), router=redis_server.router_settings))
    _replicas_share_keys(config)
    assert postgres.query("select count(*) from lmgate_keys") == ["1"]


def test_when_redis_goes_away_changes_still_arrive_by_polling(make_gateway, tmp_path, redis_server: RedisServer):
    config = keys_config(f"sqlite:///{tmp_path / 'keys.db'}", str(tmp_path / "requests.jsonl"), router=redis_server.router_settings)
    a, b = make_gateway(config), make_gateway(config)
    key = new_key(a.url, key_alias="k")["key"]
    assert chat(b.url, key).status_code == 200
    assert admin(a.url, "/key/block", {"key": key}).status_code == 200
    within(1.0, lambda: chat(b.url, key).status_code == 401)  # published on Redis
    redis_server.kill()
    assert admin(a.url, "/key/unblock", {"key": key}).status_code == 200
    # Redis's 5 s safety-net poll would be too slow here: without Redis the revision is polled every 0.5 s
    within(2.5, lambda: chat(b.url, key).status_code == 200)
