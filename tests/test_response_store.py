"""The response store on a real SQLite file: chains, owners, retention, and group commit."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event

from lmgate.store.responses import ResponseStore


def response(rid: str, previous: str | None = None) -> dict[str, Any]:
    return {"id": rid, "object": "response", "previous_response_id": previous, "output": [{"type": "message", "id": "m" + rid}]}


async def test_chain_owner_delete_and_expiry(tmp_path: Path) -> None:
    store = ResponseStore.open(f"sqlite:///{tmp_path / 'r.db'}", retention_s=3600)
    try:
        await store.save("alice", ["one"], response("resp_1"))
        await store.save("alice", ["two"], response("resp_2", "resp_1"))
        chain = await store.chain("resp_2", "alice")
        assert chain is not None and [(t.id, t.input) for t in chain] == [("resp_1", ["one"]), ("resp_2", ["two"])]
        assert await store.chain("resp_2", "bob") is None  # someone else's
        assert await store.get("resp_1", None) is not None  # the master key reads all
        assert not await store.delete("resp_1", "bob") and await store.delete("resp_1", "alice")
        assert await store.get("resp_1", "alice") is None
        store.retention_s = -1  # everything saved from now on is already expired
        await store.save("alice", ["three"], response("resp_3"))
        assert await store.get("resp_3", "alice") is None and await store.purge() == 1
    finally:
        await store.close()


async def test_concurrent_saves_share_commits(tmp_path: Path) -> None:
    store = ResponseStore.open(f"sqlite:///{tmp_path / 'r.db'}", retention_s=3600)
    commits = []
    event.listen(store.store.engine.sync_engine, "commit", lambda conn: commits.append(1))
    try:
        await store.save("o", [], response("resp_warm"))  # creates the table
        commits.clear()
        await asyncio.gather(*(store.save("o", [n], response(f"resp_{n}")) for n in range(20)))
        assert all([await store.get(f"resp_{n}", "o") for n in range(20)])
        assert 1 <= len(commits) < 20
    finally:
        await store.close()
