"""Edge replicas share one data dir: a replica that starts (a scale-up) leaves the files another is adding to vector
stores in progress; those of a replica that died are failed once its heartbeat is stale, by any replica's beat."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from services.openai_edge.stores import (
    EDGE_STALE_SECONDS,
    EdgeStore,
    VectorStoreFileBatchRecord,
    VectorStoreFileRecord,
)


def _adding(file_id: str) -> VectorStoreFileRecord:
    return VectorStoreFileRecord("vs_1", file_id, "in_progress", None, 0, int(time.time()))


async def _statuses(store: EdgeStore) -> dict[str, str]:
    return {record.file_id: record.status for record in await store.store_files("vs_1")}


async def test_a_starting_edge_leaves_a_live_edges_files_and_fails_a_dead_ones(tmp_path: Path) -> None:
    running, dying = EdgeStore(tmp_path), EdgeStore(tmp_path)
    for store in (running, dying):
        await store.beat()
    await running.put_store_file(_adding("file_running"))
    await dying.put_store_file(_adding("file_dying"))
    batch = VectorStoreFileBatchRecord("vsfb_1", "vs_1", int(time.time()), ["file_batched"])
    assert await running.add_file_batch(batch, [_adding("file_batched")])
    await dying.close()  # killed: it beats no more

    started = EdgeStore(tmp_path)  # a replica starting on the same data dir
    assert await started.beat() == 0
    assert await _statuses(started) == {
        "file_running": "in_progress",
        "file_dying": "in_progress",
        "file_batched": "in_progress",
    }
    later = time.time() + EDGE_STALE_SECONDS + 1
    assert await running.beat(now=later) == 1  # still alive then; whichever edge beats first fails the dead one's
    assert await started.beat(now=later) == 0
    assert await _statuses(started) == {
        "file_running": "in_progress",
        "file_dying": "failed",
        "file_batched": "in_progress",
    }
    failed = await started.store_file("vs_1", "file_dying")
    assert failed is not None and failed.last_error is not None and "stopped" in failed.last_error["message"]
    for store in (running, started):
        await store.close()


async def test_files_of_a_store_made_before_edges_were_named_are_failed_at_start(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / "openai_edge.db")
    old.execute(
        "CREATE TABLE vector_store_files (vector_store_id TEXT NOT NULL, file_id TEXT NOT NULL, status TEXT NOT NULL, "
        "last_error TEXT, usage_bytes INTEGER NOT NULL, created_at INTEGER NOT NULL, attributes TEXT NOT NULL, "
        "chunking TEXT NOT NULL, PRIMARY KEY (vector_store_id, file_id))"
    )
    old.execute("INSERT INTO vector_store_files VALUES ('vs_1', 'file_old', 'in_progress', NULL, 0, 1, '{}', '{}')")
    old.commit()
    old.close()
    store = EdgeStore(tmp_path)
    assert await store.beat() == 1
    await store.put_store_file(_adding("file_new"))
    assert await _statuses(store) == {"file_old": "failed", "file_new": "in_progress"}
    await store.close()
