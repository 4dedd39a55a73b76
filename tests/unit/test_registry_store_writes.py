"""The SQLite registry store keeps memory and disk as one: a write whose caller is cancelled (its deadline passed) while
the row is being written still lands in both, and closing the store waits for it."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from gateway.registry_store import SqliteRegistryStore
from llama.common.v1 import resources_pb2 as res

SCORING = res.RESOURCE_KIND_SCORING_FUNCTION


def _function(name: str) -> res.ScoringFunction:
    return res.ScoringFunction(identifier=name, provider_id="basic", provider_resource_id="basic::equality")


async def _cancelled_while_writing(store: SqliteRegistryStore, write: asyncio.Future[object]) -> threading.Event:
    """Cancels `write` once its row is being written in the worker thread; the event lets the write go on."""
    writing, release = threading.Event(), threading.Event()
    execute = store._execute

    def paused(sql: str, params: tuple[object, ...]) -> None:
        writing.set()
        release.wait(30)
        execute(sql, params)

    store._execute = paused  # type: ignore[method-assign]
    task = asyncio.ensure_future(write)
    assert await asyncio.to_thread(writing.wait, 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    store._execute = execute  # type: ignore[method-assign]
    return release


async def test_a_cancelled_insert_is_in_memory_and_on_disk_alike(tmp_path: Path) -> None:
    store = SqliteRegistryStore(tmp_path / "registry.db")
    await store.open()
    release = await _cancelled_while_writing(store, store.insert(SCORING, _function("fn-a"), "alice"))
    release.set()
    assert await store.insert(SCORING, _function("fn-a"), "alice") is False  # written, not an IntegrityError
    assert await store.get(SCORING, "fn-a") == _function("fn-a")
    await store.close()
    reopened = SqliteRegistryStore(tmp_path / "registry.db")
    await reopened.open()
    assert [item.identifier for item in await reopened.list(SCORING)] == ["fn-a"]
    await reopened.close()


async def test_a_cancelled_delete_is_gone_from_memory_and_disk_alike(tmp_path: Path) -> None:
    store = SqliteRegistryStore(tmp_path / "registry.db")
    await store.open()
    assert await store.insert(SCORING, _function("fn-b"), "alice")
    release = await _cancelled_while_writing(store, store.delete(SCORING, "fn-b"))
    closing = asyncio.create_task(store.close())  # waits for the delete in progress
    release.set()
    await closing
    reopened = SqliteRegistryStore(tmp_path / "registry.db")
    await reopened.open()
    assert await reopened.list(SCORING) == []
    await reopened.close()
