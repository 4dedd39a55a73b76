"""The edge's batch input check (batch_input.read_lines) and batch records (stores.EdgeStore): caps, the lines named
in errors, and a batch whose edge stopped writing it read as failed."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from services.openai_edge import batch_runs
from services.openai_edge.batch_input import MAX_LISTED_ERRORS, read_lines
from services.openai_edge.batch_runs import BatchRun
from services.openai_edge.calls import MeshCalls
from services.openai_edge.routes.batches import CANCELLABLE
from services.openai_edge.settings import EdgeSettings
from services.openai_edge.stores import BATCH_STALE_SECONDS, EdgeStore, StorageFull

ENDPOINT = "/v1/embeddings"
LINE_BYTES = 4096
KEEP = 10


def _line(custom_id: str, **changes: object) -> bytes:
    line = {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": {"model": "m", "input": "x"}}
    return json.dumps(line | changes).encode()


def test_good_lines_are_read_with_their_numbers_and_blank_lines_skipped() -> None:
    data = b"\n".join([_line("a"), b"", b"  ", _line("b", body={"model": "other", "input": "y"})]) + b"\n"
    lines, problems = read_lines(data, ENDPOINT, max_requests=10, max_line_bytes=LINE_BYTES)
    assert problems == []
    assert [(line.number, line.custom_id, line.model) for line in lines] == [(1, "a", "m"), (4, "b", "other")]


@pytest.mark.parametrize(
    ("line", "code", "param"),
    [
        (b"[1]", "invalid_request", None),
        (b'{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {"x": NaN}}', "invalid_json", None),
        (_line("a", extra=1), "invalid_request", "extra"),
        (_line(""), "invalid_custom_id", "custom_id"),
        (_line("x" * 513), "invalid_custom_id", "custom_id"),
        (_line("a", method="GET"), "invalid_method", "method"),
        (_line("a", url="/v1/chat/completions"), "mismatched_url", "url"),
        (_line("a", body=[]), "invalid_request", "body"),
        (_line("a", body={"stream": True}), "invalid_request", "body"),
    ],
)
def test_a_bad_line_is_named_with_its_code(line: bytes, code: str, param: str | None) -> None:
    lines, problems = read_lines(_line("first") + b"\n" + line, ENDPOINT, max_requests=10, max_line_bytes=LINE_BYTES)
    assert [line.custom_id for line in lines] == ["first"]
    assert [(problem["line"], problem["code"], problem["param"]) for problem in problems] == [(2, code, param)]


def test_caps_on_requests_and_on_listed_errors() -> None:
    three = b"\n".join(_line(str(i)) for i in range(3))
    _, problems = read_lines(three, ENDPOINT, max_requests=2, max_line_bytes=LINE_BYTES)
    assert [(problem["line"], problem["code"]) for problem in problems] == [(3, "too_many_requests")]
    many_bad = b"\n".join(b"{" for _ in range(MAX_LISTED_ERRORS + 50))
    _, problems = read_lines(many_bad, ENDPOINT, max_requests=1000, max_line_bytes=LINE_BYTES)
    assert len(problems) == MAX_LISTED_ERRORS
    assert read_lines(b"\n\n", ENDPOINT, max_requests=10, max_line_bytes=LINE_BYTES)[1][0]["code"] == "empty_file"


def test_a_line_is_at_most_a_request_body_and_errors_quote_little_of_it() -> None:
    # a line longer than an HTTP request body may be would pass max_request_bytes by way of a batch
    data = b"\n".join([_line("a", body={"model": "m", "input": "x" * LINE_BYTES}), _line("b")])
    lines, problems = read_lines(data, ENDPOINT, max_requests=10, max_line_bytes=LINE_BYTES)
    assert [line.custom_id for line in lines] == ["b"]
    assert [(problem["line"], problem["code"]) for problem in problems] == [(1, "line_too_large")]
    assert "max_request_bytes" in problems[0]["message"]
    # a batch keeps its errors: each quotes at most a little of what the line held, however long that was
    long = "\0" * (LINE_BYTES // 8)
    bad = [
        _line("c", url=long),
        _line("d", method=long),
        _line("e", **{long: 1}),
        _line("f", url=[[[[[[[[1]]]]]]]] * 99),
    ]
    _, problems = read_lines(b"\n".join(bad), ENDPOINT, max_requests=10, max_line_bytes=LINE_BYTES)
    assert [problem["code"] for problem in problems] == ["mismatched_url", "invalid_method", "invalid_request"] * 1 + [
        "mismatched_url"
    ]
    assert all(len(json.dumps(problem)) < 500 for problem in problems)


def _batch(batch_id: str, status: str = "in_progress") -> dict[str, object]:
    return {"id": batch_id, "status": status, "created_at": int(time.time()), "errors": None}


async def test_a_batch_its_edge_stopped_writing_reads_as_failed(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path)
    await store.add_batch("owner", _batch("batch_running"), keep=KEEP)
    await store.add_batch("owner", _batch("batch_done", "completed"), keep=KEEP)
    later = time.time() + BATCH_STALE_SECONDS + 1
    assert (await store.batch("owner", "batch_running"))["status"] == "in_progress"  # type: ignore[index]
    assert await store.batch("someone else", "batch_running") is None
    found = {batch["id"]: batch for batch in await store.batches("owner", now=later)}
    assert found["batch_done"]["status"] == "completed"
    lost = found["batch_running"]
    assert lost["status"] == "failed" and lost["errors"]["data"][0]["code"] == "edge_stopped"
    assert await store.update_batch("batch_running", {"request_counts": {}}) is None  # its run can not revive it
    assert (await store.batch("owner", "batch_running"))["status"] == "failed"  # type: ignore[index]
    await store.close()


async def test_a_token_keeps_its_newest_ended_batches_and_every_running_one(tmp_path: Path) -> None:
    # a batch whose input file fails its check is kept too: without a cap, creating batches again and again from one
    # bad file grows the edge's database without end, and each list reads every one of them
    store = EdgeStore(tmp_path)
    await store.add_batch("owner", _batch("batch_running"), keep=2)
    for index in range(5):
        await store.add_batch("owner", _batch(f"batch_failed_{index}", "failed"), keep=2)
        await store.add_batch("someone else", _batch(f"batch_theirs_{index}", "failed"), keep=100)
    assert [batch["id"] for batch in await store.batches("owner")] == [
        "batch_running",
        "batch_failed_3",
        "batch_failed_4",
    ]
    assert len(await store.batches("someone else")) == 5
    assert await store.update_batch("batch_running", {"status": "completed"}) is not None
    await store.add_batch("owner", _batch("batch_new", "failed"), keep=2)
    assert [batch["id"] for batch in await store.batches("owner")] == ["batch_failed_4", "batch_new"]
    await store.close()


async def test_a_written_batch_stays_alive_and_a_status_guard_holds(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path)
    await store.add_batch("owner", _batch("batch_a"), keep=KEEP)
    await store.run("UPDATE batches SET heartbeat_at = ?", time.time() - BATCH_STALE_SECONDS + 5)
    assert await store.update_batch("batch_a", {"status": "cancelling"}, if_status=("in_progress",)) is not None
    assert await store.update_batch("batch_a", {"status": "cancelling"}, if_status=("in_progress",)) is None
    later = time.time() + BATCH_STALE_SECONDS - 5  # within the stale time of the update, not of the creation
    assert (await store.batch("owner", "batch_a", now=later))["status"] == "cancelling"  # type: ignore[index]
    await store.close()


async def test_a_cancel_through_another_edge_is_not_lost_to_a_heartbeat(tmp_path: Path) -> None:
    # two edges share a data dir: one cancels a batch (in_progress -> cancelling) between the other's read of the
    # batch and its write of the progress; that write must not put in_progress back (the run would never stop)
    running, other = EdgeStore(tmp_path), EdgeStore(tmp_path)
    await running.add_batch("owner", _batch("batch_raced"), keep=KEEP)
    await other.run("PRAGMA busy_timeout = 0")  # a write that would wait for the running edge fails at once instead
    outcomes: list[str] = []

    async def cancel_elsewhere() -> str:
        cancelled = await other.update_batch("batch_raced", {"status": "cancelling"}, if_status=("in_progress",))
        return "refused" if cancelled is None else "cancelled"

    def intrude(statement: str) -> None:
        if statement.startswith("UPDATE batches") and not outcomes:
            try:
                outcomes.append(asyncio.run(cancel_elsewhere()))
            except sqlite3.OperationalError:
                outcomes.append("waited")  # it would have waited for the write in progress (busy timeout), then run

    await running.run("SELECT 1")
    running._connection().set_trace_callback(intrude)
    assert await running.update_batch("batch_raced", {"request_counts": {"completed": 1}}) is not None
    running._connection().set_trace_callback(None)
    if outcomes == ["waited"]:
        outcomes.append(await cancel_elsewhere())
    assert outcomes[-1] == "cancelled"
    batch = await running.batch("owner", "batch_raced")
    assert batch is not None and batch["status"] == "cancelling" and batch["request_counts"] == {"completed": 1}
    for store in (running, other):
        await store.close()


async def test_results_beyond_the_storage_limit_are_not_kept(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path)
    scratch = store.scratch_path("batch_x")
    scratch.write_bytes(b"x" * 100)
    with pytest.raises(StorageFull):
        await store.keep_file("owner", "out.jsonl", "batch_output", scratch, max_total=99)
    assert not scratch.exists() and await store.files("owner") == []
    scratch = store.scratch_path("batch_x")
    scratch.write_bytes(b"x" * 100)
    kept = await store.keep_file("owner", "out.jsonl", "batch_output", scratch, max_total=100)
    assert (kept.bytes, kept.purpose) == (100, "batch_output") and not scratch.exists()
    assert await store.file_content(kept) == b"x" * 100
    await store.close()


async def test_a_batch_whose_results_outgrow_the_file_storage_fails_and_keeps_nothing(tmp_path: Path) -> None:
    # Bodies without `input` fail in the edge's own check, before any call: no gateway is needed to run them.
    data = b"\n".join(_line(str(i), body={"model": "m"}) for i in range(20))
    lines, problems = read_lines(data, ENDPOINT, max_requests=100, max_line_bytes=LINE_BYTES)
    assert not problems
    store = EdgeStore(tmp_path)
    batch = _batch("batch_big") | {"endpoint": ENDPOINT, "expires_at": time.time() + 3600}
    await store.add_batch("owner", batch, keep=KEEP)
    settings = EdgeSettings(max_total_file_bytes=1000, batch_concurrency=1)
    await BatchRun(store, settings, batch, "owner", lines, MeshCalls(None, (), 1.0)).run()  # type: ignore[arg-type]
    ended = await store.batch("owner", "batch_big")
    assert ended is not None and ended["status"] == "failed" and ended["failed_at"] is not None
    assert [error["code"] for error in ended["errors"]["data"]] == ["storage_full"]
    assert 0 < ended["request_counts"]["failed"] < 20  # it stopped once past the limit
    assert await store.files("owner") == [] and list(store.files_dir.iterdir()) == []
    await store.close()


async def _answered_run(store: EdgeStore, batch_id: str, count: int) -> tuple[BatchRun, str]:
    """A run whose `count` requests have all been answered (bodies without `input` fail in the edge's own check, no
    gateway needed), not yet finished; and how it ends."""
    lines, _ = read_lines(b"\n".join(_line(str(i), body={"model": "m"}) for i in range(count)), ENDPOINT, 100, 4096)
    batch = _batch(batch_id) | {"endpoint": ENDPOINT, "expires_at": time.time() + 3600}
    await store.add_batch("owner", batch, keep=KEEP)
    run = BatchRun(store, EdgeSettings(), batch, "owner", lines, MeshCalls(None, (), 1.0))  # type: ignore[arg-type]
    return run, await run._run_requests()


async def test_a_cancel_after_the_last_answer_ends_the_batch_cancelled_with_its_answers(tmp_path: Path) -> None:
    # the caller was told "cancelling": the batch must not then read "completed"
    store = EdgeStore(tmp_path)
    run, ending = await _answered_run(store, "batch_late", 3)
    assert ending == "completed"
    assert await store.update_batch("batch_late", {"status": "cancelling"}, if_status=CANCELLABLE) is not None
    await run._finish(ending)
    ended = await store.batch("owner", "batch_late")
    assert ended is not None and ended["status"] == "cancelled" and ended["cancelled_at"] is not None
    assert ended["request_counts"] == {"total": 3, "completed": 0, "failed": 3}
    kept = await store.file("owner", ended["error_file_id"])
    assert kept is not None and len((await store.file_content(kept)).splitlines()) == 3
    await store.close()


async def test_a_heartbeat_outlives_a_database_locked_by_another_edge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_runs, "BATCH_HEARTBEAT_SECONDS", 0.01)
    store = EdgeStore(tmp_path)
    run, _ = await _answered_run(store, "batch_beating", 1)
    await store.run("PRAGMA busy_timeout = 0")  # a locked write fails at once instead of after 5 s
    other = sqlite3.connect(tmp_path / "openai_edge.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another edge sharing the data dir holds the write lock
    failed_write = asyncio.Event()
    handler = logging.Handler()
    handler.emit = lambda record: failed_write.set()  # type: ignore[method-assign]  # logged on the event loop
    logging.getLogger(batch_runs.__name__).addHandler(handler)
    heartbeat = asyncio.create_task(run._heartbeat())
    try:
        await asyncio.wait(
            [heartbeat, asyncio.create_task(failed_write.wait())], timeout=30, return_when="FIRST_COMPLETED"
        )
    finally:
        logging.getLogger(batch_runs.__name__).removeHandler(handler)
    assert failed_write.is_set() and not heartbeat.done(), heartbeat
    other.execute("COMMIT")
    released = time.time()
    async with asyncio.timeout(30):
        while (await store.run("SELECT heartbeat_at FROM batches"))[0][0] <= released:
            assert not heartbeat.done(), heartbeat
            await asyncio.sleep(0.01)
    heartbeat.cancel()
    other.close()
    await store.close()


async def test_closing_the_store_waits_for_the_write_in_progress(tmp_path: Path) -> None:
    # the edge closes its store on shutdown while a batch's last heartbeat may still be writing in a worker thread
    store = EdgeStore(tmp_path)
    await store.add_batch("owner", _batch("batch_closing"), keep=KEEP)
    writing, release = threading.Event(), threading.Event()

    def pause(statement: str) -> None:
        if statement.startswith("UPDATE batches"):
            writing.set()
            release.wait(30)

    store._connection().set_trace_callback(pause)
    update = asyncio.create_task(store.update_batch("batch_closing", {"request_counts": {"completed": 1}}))
    assert await asyncio.to_thread(writing.wait, 30)
    closing = asyncio.create_task(store.close())
    await asyncio.to_thread(release.set)
    assert await update is not None
    await closing
    reopened = EdgeStore(tmp_path)
    batch = await reopened.batch("owner", "batch_closing")
    assert batch is not None and batch["request_counts"] == {"completed": 1}
    await reopened.close()


async def test_scratch_files_of_batches_no_edge_runs_are_swept(tmp_path: Path) -> None:
    # an edge killed while running a batch leaves its answers' scratch files; one sharing the data dir still writes its
    store = EdgeStore(tmp_path)
    await store.add_batch("owner", _batch("batch_running"), keep=KEEP)
    await store.add_batch("owner", _batch("batch_lost"), keep=KEEP)
    await store.add_batch("owner", _batch("batch_ended", "completed"), keep=KEEP)
    await store.run(
        "UPDATE batches SET heartbeat_at = ? WHERE id = 'batch_lost'", time.time() - BATCH_STALE_SECONDS - 1
    )
    paths = {name: store.scratch_path(name) for name in ("batch_running", "batch_lost", "batch_ended", "batch_gone")}
    for path in paths.values():
        path.write_bytes(b"{}\n")
    uploaded = await store.save_file("owner", "input.jsonl", "batch", b"{}\n", max_total=100)
    assert await store.sweep_scratch() == 3
    assert [name for name, path in paths.items() if path.exists()] == ["batch_running"]
    assert await store.file_content(uploaded) == b"{}\n"
    await store.close()
