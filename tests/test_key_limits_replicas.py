"""Two `lmgate serve` replicas (one with two workers) sharing Redis and a database: a key's rpm_limit and
money budget are exact across all of them, a zero-cost model keeps serving once the budget is gone,
and with Redis killed mid-run nothing answers 5xx, paid tiers are refused and free tiers served.
Postgres + Redis, and SQLite + Redis on one host."""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
from pathlib import Path

from tests.keys_kit import admin, new_key, within
from tests.limits_kit import COST, ask, limits_config
from tests.processes import serving
from tests.redis_server import RedisServer, redis_server_fixture, redis_session_fixture  # noqa: F401
from tests.servers import Behaviour


def _spread(urls: list[str], key: str, model: str, n: int) -> list[int]:
    """`n` concurrent requests, alternating between the replicas."""
    targets = list(itertools.islice(itertools.cycle(urls), n))
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda u: ask(u, key, model)[0], targets))


def _exact_across_replicas(config: Path, upstream, redis: RedisServer) -> None:
    upstream.default = Behaviour(delay=0.3)  # every request is still in flight when the last is admitted
    with serving("--config", str(config), "--workers", "2") as a, serving("--config", str(config)) as b:
        urls = [a, b]
        limited = new_key(a, key_alias="ten", rpm_limit=10)["key"]
        statuses = _spread(urls, limited, "free", 30)
        assert statuses.count(200) == 10 and statuses.count(429) == 20

        wallet = new_key(b, key_alias="wallet", max_budget=5 * COST)["key"]
        statuses = _spread(urls, wallet, "paid", 50)
        assert statuses.count(200) == 5 and statuses.count(402) == 45
        # the spend log settles the real cost: never more than one reservation past the budget
        within(10, lambda: admin(a, "/key/info", key=wallet).json()["info"]["spend"] >= 5 * COST - 1e-9)
        assert admin(a, "/key/info", key=wallet).json()["info"]["spend"] <= 6 * COST + 1e-9
        assert upstream.chats == 5  # the refused 45 never reached the paid upstream
        assert set(_spread(urls, wallet, "free", 6)) == {200}  # zero-cost: never blocked by the budget
        assert set(_spread(urls, wallet, "tiered", 6)) == {200}  # the chain's free tier serves it

        rich = new_key(a, key_alias="rich", max_budget=100.0)["key"]
        upstream.default = Behaviour(delay=0.05)
        seen: list[tuple[str, int]] = []
        stop = threading.Event()

        def traffic() -> None:
            for i in itertools.count():
                if stop.is_set():
                    return
                model = "paid" if i % 2 else "free"
                seen.append((model, ask(urls[i % 2], rich, model)[0]))

        workers = [threading.Thread(target=traffic) for _ in range(4)]
        for w in workers:
            w.start()
        within(10, lambda: sum(1 for m, s in seen if m == "paid" and s == 200) >= 4)
        redis.kill()
        # requests in flight at the kill (at most one per thread) may have been admitted before it
        settled = len(seen) + 8
        within(10, lambda: sum(1 for m, s in seen[settled:] if m == "paid" and s == 429) >= 4)
        stop.set()
        for w in workers:
            w.join(30)
        assert all(s < 500 for _, s in seen), sorted({s for _, s in seen})
        after = seen[settled:]
        assert {s for m, s in after if m == "free"} == {200}
        assert {s for m, s in after if m == "paid"} == {429}  # budget_unavailable: fail closed


def test_replicas_on_postgres_and_redis(tmp_path, postgres, redis_server: RedisServer, upstream):
    config = tmp_path / "gate.yaml"
    config.write_text(limits_config(upstream.base, postgres.url, str(tmp_path / "requests.jsonl"), redis_server.router_settings))
    _exact_across_replicas(config, upstream, redis_server)


def test_replicas_on_one_sqlite_file_and_redis(tmp_path, redis_server: RedisServer, upstream):
    config = tmp_path / "gate.yaml"
    db = tmp_path / "keys.db"
    config.write_text(limits_config(upstream.base, f"sqlite:///{db}", str(tmp_path / "requests.jsonl"), redis_server.router_settings))
    _exact_across_replicas(config, upstream, redis_server)
