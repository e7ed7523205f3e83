"""Schema migrations on real SQLite and real Postgres: fresh databases, databases made by the code
before migrations (create_all, stamped not recreated), replicas upgrading at once, and `lmgate db`."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    text,
)
from sqlalchemy.ext.asyncio import create_async_engine

from lmgate.store import migrate
from lmgate.store.engine import Store, async_url
from lmgate.store.tables import metadata
from tests.keys_kit import ok_json

# The request log table exactly as main created it with metadata.create_all before migrations.
_before = MetaData()
Table(
    "lmgate_request_log", _before,
    Column("request_id", String(64), primary_key=True), Column("time", Float, nullable=False),
    Column("key_alias", String(128), nullable=False, default=""), Column("inbound", String(16), nullable=False),
    Column("requested_model", String(256), nullable=False), Column("model_group", String(256), nullable=False),
    Column("deployment", String(256), nullable=False), Column("provider", String(64), nullable=False),
    Column("status", Integer, nullable=False), Column("stream", Boolean, nullable=False),
    Column("prompt_tokens", Integer, nullable=False), Column("completion_tokens", Integer, nullable=False),
    Column("cost", Float, nullable=False), Column("latency_s", Float, nullable=False), Column("ttft_s", Float),
    Column("error_class", String(64), nullable=False), Column("route", JSON, nullable=False),
    Column("record", Text, nullable=False), Index("ix_lmgate_request_log_time", "time"),
)
_OLD_ROW = (
    "INSERT INTO lmgate_request_log VALUES ('r1', 1.0, 'k', 'openai', 'm', 'm', 'd', 'mock', 200, false, 1, 2, 0.0,"
    " 0.1, NULL, '', '[]', '{\"request_id\": \"r1\"}')"
)
_names = itertools.count()


@pytest.fixture(scope="module")
def postgres() -> Iterator[object]:
    from tests.pg import Postgres

    pg = Postgres()
    yield pg
    pg.destroy()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path) -> str:
    """A new empty database's URL on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gate.db'}"
    pg = request.getfixturevalue("postgres")
    name = f"m{next(_names)}"
    pg.query(f"CREATE DATABASE {name}")
    return pg.url.rsplit("/", 1)[0] + "/" + name


async def _tables(url: str) -> tuple[set[str], dict[str, set[str]]]:
    engine = create_async_engine(async_url(url))
    async with engine.connect() as conn:
        names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        columns = {t: set(await conn.run_sync(lambda c, t=t: {col["name"] for col in inspect(c).get_columns(t)})) for t in names}
    await engine.dispose()
    return names, columns


def test_head_constant_is_alembics_head():
    assert migrate.head() == migrate.HEAD
    assert [r["revision"] for r in migrate.history()] == ["0001", "0002", "0003", "0004"]


async def test_fresh_database_upgrades_to_the_schema_the_queries_use(database):
    store = Store(database)
    done = await migrate.upgrade(store.engine)
    assert (done.before, done.after, done.stamped) == (None, migrate.HEAD, False)
    again = await migrate.upgrade(store.engine)  # already at head: nothing to do
    assert (again.before, again.after) == (migrate.HEAD, migrate.HEAD)
    await store.close()
    names, columns = await _tables(database)
    for table in metadata.sorted_tables:  # the migrations make exactly what tables.py queries
        assert table.name in names
        assert columns[table.name] == {c.name for c in table.columns}


async def test_database_made_before_migrations_is_stamped_and_keeps_its_rows(database):
    engine = create_async_engine(async_url(database))
    async with engine.begin() as conn:
        await conn.run_sync(_before.create_all)
        await conn.execute(text(_OLD_ROW))
    done = await migrate.upgrade(engine)
    assert (done.before, done.after, done.stamped) == (None, migrate.HEAD, True)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT request_id, team FROM lmgate_request_log"))).all() == [("r1", None)]
        assert (await conn.execute(text("SELECT revision FROM lmgate_keys_revision"))).scalar_one() == 0
    await engine.dispose()
    store = Store(database)  # and the request log keeps writing into it
    await store.insert_request_logs([{"request_id": "r2", "time": 2.0, "key_alias": "", "team": "t", "inbound": "openai",
                                      "requested_model": "m", "model_group": "m", "deployment": "d", "provider": "mock",
                                      "status": 200, "stream": False, "prompt_tokens": 1, "completion_tokens": 1,
                                      "cost": 0.0, "latency_s": 0.1, "ttft_s": None, "error_class": "", "route": []}])
    assert [r["request_id"] for r in await store.request_logs_since(0)] == ["r1", "r2"]
    await store.close()


async def test_replicas_upgrading_together_serialise_on_the_lock(database):
    engines = [create_async_engine(async_url(database)) for _ in range(4)]
    results = await asyncio.gather(*(migrate.upgrade(e) for e in engines))
    assert sorted(r.before or "" for r in results) == ["", migrate.HEAD, migrate.HEAD, migrate.HEAD]
    assert all(r.after == migrate.HEAD for r in results)
    for e in engines:
        await e.dispose()


def test_db_commands(tmp_path):
    cfg = tmp_path / "c.yaml"
    db = tmp_path / "x.db"
    cfg.write_text(f"model_list: []\ngeneral_settings:\n  database_url: sqlite:///{db}\n")

    def run(*args: str) -> Any:
        return ok_json("db", *args)

    assert run("current", "--config", str(cfg)) == {"database": f"sqlite:///{db}", "current": None, "head": "0004", "up_to_date": False}
    assert run("upgrade", "--config", str(cfg), "--revision", "0001")["after"] == "0001"
    assert run("current", "--config", str(cfg))["current"] == "0001"
    assert run("upgrade", "--config", str(cfg)) == {"database": f"sqlite:///{db}", "before": "0001", "after": "0004", "stamped": False}
    assert [r["revision"] for r in run("history")] == ["0001", "0002", "0003", "0004"]
