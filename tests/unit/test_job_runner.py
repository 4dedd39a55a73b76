"""The shared job runner: every way a job ends is recorded once, with its reason, in a real SQLite job table."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from llama.common.v1 import jobs_pb2
from llama_mesh.runtime.errors import FailedPrecondition
from llama_mesh.runtime.job_messages import JobFailure
from llama_mesh.runtime.job_runner import JobFailed, JobRunner
from llama_mesh.runtime.job_table import JobTable


class Jobs(JobTable):
    table = "jobs"
    schema = """
    CREATE TABLE IF NOT EXISTS jobs (
        job_id TEXT PRIMARY KEY, status INTEGER NOT NULL, error_code INTEGER NOT NULL DEFAULT 0,
        error_reason TEXT NOT NULL DEFAULT '', error_message TEXT NOT NULL DEFAULT '', start_time REAL,
        end_time REAL, result BLOB
    );
    """
    final_columns = ("result",)

    def add(self, job_id: str) -> None:
        self._write("INSERT INTO jobs (job_id, status) VALUES (?, ?)", (job_id, jobs_pb2.JOB_STATUS_QUEUED))

    def read(self, job_id: str) -> tuple:
        with self._lock:
            return self._db.execute(
                "SELECT status, error_reason, error_message, result, end_time IS NOT NULL FROM jobs WHERE job_id = ?",
                (job_id,),
            ).fetchone()


@pytest.fixture
def table(tmp_path: Path) -> Jobs:
    return Jobs(tmp_path / "jobs.db")


async def _ended(runner: JobRunner, table: Jobs, job_id: str) -> tuple:
    """The job's row once its task is done (the task records the end before it finishes)."""
    task = runner._tasks.get(job_id)
    if task is not None:
        await asyncio.wait_for(asyncio.shield(task), 30)
    return table.read(job_id)


async def test_each_ending_is_recorded_with_its_reason(table: Jobs) -> None:
    runner = JobRunner("demo", table, 4, again="run it again")

    async def completes() -> dict[str, object]:
        return {"result": b"answer"}

    async def reports_a_failure() -> None:
        raise JobFailed(JobFailure(13, "DEMO_FAILED", "the demo failed"))

    async def raises_a_mesh_error() -> None:
        raise FailedPrecondition("the model went away", reason="MODEL_GONE")

    async def crashes() -> None:
        raise RuntimeError("/srv/secret/path exploded")

    for job_id, work in [("ok", completes), ("failed", reports_a_failure), ("mesh", raises_a_mesh_error),
                         ("crash", crashes)]:  # fmt: skip
        table.add(job_id)
        runner.start(job_id, work)

    assert await _ended(runner, table, "ok") == (jobs_pb2.JOB_STATUS_COMPLETED, "", "", b"answer", 1)
    assert await _ended(runner, table, "failed") == (jobs_pb2.JOB_STATUS_FAILED, "DEMO_FAILED", "the demo failed",
                                                     None, 1)  # fmt: skip
    assert (await _ended(runner, table, "mesh"))[:3] == (
        jobs_pb2.JOB_STATUS_FAILED,
        "MODEL_GONE",
        "the model went away",
    )
    status, reason, message, _, _ = await _ended(runner, table, "crash")
    assert (status, reason) == (jobs_pb2.JOB_STATUS_FAILED, "INTERNAL")
    assert "demo service's log" in message and "/srv" not in message


async def test_a_job_cancelled_while_queued_is_cancelled_and_cleaned_up(table: Jobs) -> None:
    runner = JobRunner("demo", table, 1, again="run it again")
    release = asyncio.Event()
    cleaned: list[str] = []

    async def blocks() -> None:
        await release.wait()

    async def never_runs() -> None:
        raise AssertionError("a cancelled queued job must not run")

    def cleanup_of(job_id: str) -> Callable[[], Awaitable[None]]:
        async def cleanup() -> None:
            cleaned.append(job_id)

        return cleanup

    table.add("running")
    table.add("queued")
    runner.start("running", blocks)
    runner.start("queued", never_runs, cleanup=cleanup_of("queued"))
    await runner.cancel("queued")  # before its task even ran once
    assert table.read("queued")[0] == jobs_pb2.JOB_STATUS_CANCELLED and cleaned == ["queued"]
    table.add("waiting")
    runner.start("waiting", never_runs, cleanup=cleanup_of("waiting"))
    await asyncio.sleep(0)  # its task runs now, up to waiting for the one slot
    await runner.cancel("waiting")
    assert table.read("waiting")[0] == jobs_pb2.JOB_STATUS_CANCELLED and cleaned == ["queued", "waiting"]
    release.set()
    assert (await _ended(runner, table, "running"))[0] == jobs_pb2.JOB_STATUS_COMPLETED


async def test_stopping_the_service_fails_running_jobs_and_a_restart_fails_what_a_dead_process_left(
    table: Jobs, tmp_path: Path
) -> None:
    runner = JobRunner("demo", table, 1, again="start the job again")
    table.add("running")
    table.add("queued")
    started = asyncio.Event()

    async def runs_forever() -> None:
        started.set()
        await asyncio.Event().wait()

    runner.start("running", runs_forever)
    runner.start("queued", runs_forever)
    async with asyncio.timeout(30):
        await started.wait()
    await runner.close()
    for job_id in ("running", "queued"):
        status, reason, message, _, ended = table.read(job_id)
        assert (status, reason, ended) == (jobs_pb2.JOB_STATUS_FAILED, "SERVICE_STOPPED", 1)
        assert message.endswith("start the job again")

    table.add("left-running")
    assert table.mark_running("left-running") and not table.mark_running("left-running")
    table.close()  # the process "dies" here; a new one opens the table
    reopened = Jobs(tmp_path / "jobs.db")
    assert await JobRunner("demo", reopened, 1, again="start the job again").recover() == ["left-running"]
    assert reopened.read("left-running")[:2] == (jobs_pb2.JOB_STATUS_FAILED, "SERVICE_RESTARTED")
    assert not reopened.finish("left-running", jobs_pb2.JOB_STATUS_COMPLETED)  # a final state sticks
    with pytest.raises(ValueError, match="cannot set"):
        reopened.finish("left-running", jobs_pb2.JOB_STATUS_FAILED, error_message="x")
