"""The durable request log: JSONL content, the database sink, and no record lost when a sink dies."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import orjson
import pytest

from tests.servers import ServerThread
from tests.wait import wait_for


def config(tmp: Path, extra: str = "") -> str:
    return f"""
model_list:
  - model_name: demo
    litellm_params: {{model: mock/echo}}
  - model_name: priced
    litellm_params: {{model: openai/gpt-4o, api_base: "http://127.0.0.1:9/v1"}}
    model_info: {{input_cost_per_token: 0.001, output_cost_per_token: 0.002}}
router_settings: {{num_retries: 0}}
general_settings:
  request_log_path: {tmp / "logs" / "requests.jsonl"}
{extra}
"""


def read_log(tmp: Path) -> list[dict]:
    path = tmp / "logs" / "requests.jsonl"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def chat(gw: ServerThread, n: int, stream: bool = False) -> None:
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0)

    def one(i: int) -> None:
        out = client.chat.completions.create(model="demo", messages=[{"role": "user", "content": f"secret prompt {i}"}], stream=stream)
        if stream:
            list(out)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(n)))


def rows(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        try:
            return [r[0] for r in conn.execute("select request_id from lmgate_request_log")]
        except sqlite3.OperationalError:  # table not created yet
            return []


def test_jsonl_records_describe_each_request(tmp_path, make_gateway):
    gw = make_gateway(config(tmp_path))
    chat(gw, 2)
    chat(gw, 1, stream=True)
    with pytest.raises(openai.APIStatusError):
        openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0).chat.completions.create(
            model="priced", messages=[{"role": "user", "content": "x"}]
        )
    gw.stop()  # shutdown flushes the queue
    records = read_log(tmp_path)
    assert len(records) == 4
    ok = [r for r in records if r["status"] == 200]
    assert len(ok) == 3 and {r["deployment"] for r in ok} == {"demo"}
    assert all(r["prompt_tokens"] == 3 and r["completion_tokens"] == 4 for r in ok)
    streamed = [r for r in ok if r["stream"]]
    assert len(streamed) == 1 and streamed[0]["ttft_s"] is not None
    failed = [r for r in records if r["status"] == 502][0]
    assert failed["requested_model"] == "priced" and failed["error_class"].startswith("Upstream")
    assert all(len(r["request_id"]) == 32 for r in records)
    assert "secret prompt" not in (tmp_path / "logs" / "requests.jsonl").read_text()


def test_content_only_when_enabled(tmp_path, make_gateway):
    gw = make_gateway(config(tmp_path, "  log_content: true"))
    chat(gw, 1)
    gw.stop()
    (record,) = read_log(tmp_path)
    assert record["content"]["messages"][0]["content"] == "secret prompt 0"
    assert record["content"]["completion"] == "echo: secret prompt 0"


def test_database_sink_survives_being_killed_mid_load(tmp_path, make_gateway):
    db = tmp_path / "lmgate.db"
    gw = make_gateway(config(tmp_path, f"  database_url: sqlite:///{db}"))
    chat(gw, 20)
    wait_for(lambda: len(rows(db)) >= 20, 'len(rows(db)) >= 20', 10)
    assert len(rows(db)) == 20

    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the database refuses every write from now on
    chat(gw, 30)
    spool = tmp_path / "logs" / "spool"
    wait_for(lambda: list(spool.glob("database-*.jsonl")), 'list(spool.glob("database-*.jsonl"))', 15)
    assert list(spool.glob("database-*.jsonl")), "a refused batch must be journaled to disk"
    ready = httpx.get(gw.url + "/health/readiness")
    assert ready.status_code == 200 and ready.json()["request_log"]["spooling"] == ["database"]
    blocker.execute("ROLLBACK")
    blocker.close()

    chat(gw, 10)
    wait_for(lambda: len(rows(db)) >= 60, 'len(rows(db)) >= 60', 15)
    ids = rows(db)
    assert len(ids) == 60 and len(set(ids)) == 60, "every record once, none lost, none doubled"
    assert not list(spool.glob("database-*.jsonl"))
    gw.stop()
    assert len(read_log(tmp_path)) == 60  # the file sink never missed one either


def test_spooled_records_are_replayed_at_next_start(tmp_path, make_gateway):
    db = tmp_path / "lmgate.db"
    cfg = config(tmp_path, f"  database_url: sqlite:///{db}")
    first = make_gateway(cfg)
    chat(first, 1)
    first.stop()
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    second = make_gateway(cfg)
    chat(second, 5)
    second.stop()  # the shutdown flush fails: the records stay in the spool
    blocker.execute("ROLLBACK")
    blocker.close()
    assert len(rows(db)) == 1
    third = make_gateway(cfg)
    wait_for(lambda: len(rows(db)) >= 6, 'len(rows(db)) >= 6', 10)
    assert len(rows(db)) == 6
    third.stop()


@pytest.fixture
def postgres():
    from tests.pg import Postgres

    pg = Postgres()
    yield pg
    pg.destroy()


def test_postgres_sink_down_mid_load_loses_nothing(tmp_path, make_gateway, postgres):
    gw = make_gateway(config(tmp_path, f"  database_url: {postgres.url}"))
    chat(gw, 15)

    def count() -> int:
        try:
            return int(postgres.query("select count(distinct request_id) from lmgate_request_log")[0])
        except RuntimeError:
            return -1

    wait_for(lambda: count() >= 15, 'count() >= 15', 10)
    assert count() == 15
    postgres.stop()  # the database dies under load
    chat(gw, 25)
    spool = tmp_path / "logs" / "spool"
    wait_for(lambda: list(spool.glob("database-*.jsonl")), 'list(spool.glob("database-*.jsonl"))', 15)
    assert list(spool.glob("database-*.jsonl"))
    postgres.start()
    chat(gw, 5)
    wait_for(lambda: count() >= 45, 'count() >= 45', 20)
    assert count() == 45
    assert postgres.query("select count(*) from lmgate_request_log") == ["45"]


def test_disk_failure_holds_records_until_the_disk_is_back(tmp_path, make_gateway):
    gw = make_gateway(config(tmp_path))
    chat(gw, 10)
    logs = tmp_path / "logs"
    wait_for(lambda: len(read_log(tmp_path)) >= 10, 'len(read_log(tmp_path)) >= 10', 10)
    assert len(read_log(tmp_path)) == 10
    logs.rename(tmp_path / "logs-away")
    logs.write_text("not a directory")  # the log file AND its spool directory are now unwritable
    chat(gw, 15)
    ready = wait_for(lambda: httpx.get(gw.url + "/health/readiness").json()["request_log"]["spooling"],
                     "the file sink's failing flushes to show in readiness")
    assert ready == ["file"]
    logs.unlink()
    (tmp_path / "logs-away").rename(logs)  # the disk is back
    chat(gw, 5)
    gw.stop()
    ids = [r["request_id"] for r in read_log(tmp_path)]
    assert len(ids) == 30 and len(set(ids)) == 30


def test_close_right_after_a_full_batch_arrives_finishes_and_writes_everything(tmp_path):
    """Shutdown hands the writer a full batch (waking it) and closes in the same loop turn; on
    Python 3.11 a cancel at that moment was swallowed by wait_for and shutdown hung forever."""
    import asyncio

    from lmgate.observability.record import RequestRecord
    from lmgate.observability.requestlog import RequestLog, Spool
    from lmgate.observability.sinks import JsonlFileSink

    async def scenario() -> None:
        log = RequestLog([JsonlFileSink(tmp_path / "logs" / "requests.jsonl")], Spool(tmp_path / "spool"), batch_size=10)
        await log.start()
        await asyncio.sleep(0.01)  # the writer is now waiting for its wake event
        log.submit([RequestRecord(inbound="openai", path="/v1/chat/completions") for _ in range(25)])
        closing = asyncio.ensure_future(log.close())
        done, _ = await asyncio.wait({closing}, timeout=5)
        hung = not done
        for task in (closing, log._task):
            if task is not None and not task.done():
                task.cancel()
        assert not hung, "RequestLog.close() never returned"
        closing.result()

    asyncio.run(scenario())
    assert len(read_log(tmp_path)) == 25


def test_a_record_whose_content_cannot_be_serialised_is_logged_without_it(tmp_path, caplog):
    """Only `content` carries caller data; if it ever cannot be written, the rest of the record still is."""
    import asyncio

    from lmgate.observability.record import RequestRecord
    from lmgate.observability.requestlog import RequestLog, Spool
    from lmgate.observability.sinks import JsonlFileSink

    async def scenario() -> None:
        log = RequestLog([JsonlFileSink(tmp_path / "logs" / "requests.jsonl")], Spool(tmp_path / "spool"))
        await log.start()
        good, bad = RequestRecord("openai", "/v1/chat/completions"), RequestRecord("ollama", "/api/chat")
        bad.content = {"messages": [object()]}
        good.finish(200)
        bad.finish(200)
        log.submit([good, bad])
        await log.close()

    asyncio.run(scenario())
    records = read_log(tmp_path)
    assert [r["inbound"] for r in records] == ["openai", "ollama"]
    assert records[1]["content"] is None and records[1]["status"] == 200
    assert "content not serialisable" in caplog.text
