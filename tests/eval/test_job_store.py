"""The SQLite job store: jobs persist, a final state sticks, and jobs left unfinished by a dead process fail."""

from __future__ import annotations

import time
from pathlib import Path

from llama.common.v1 import jobs_pb2
from services.eval.job_store import JobFailure, JobRecord, JobStore
from services.eval.jobs import job_message

RESTARTED = JobFailure(10, "SERVICE_RESTARTED", "the eval service stopped")


def _record(job_id: str, benchmark_id: str = "bench", created: float | None = None) -> JobRecord:
    return JobRecord(
        job_id=job_id,
        benchmark_id=benchmark_id,
        provider_id="p",
        status=jobs_pb2.JOB_STATUS_QUEUED,
        done=0,
        total=0,
        failure=None,
        create_time=created or time.time(),
        start_time=None,
        end_time=None,
        candidate="model:m",
        request=b"\x0a\x01x",
    )


def test_jobs_survive_reopening_and_unfinished_ones_fail_with_a_reason(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.db")
    store.insert(_record("running"))
    store.insert(_record("queued"))
    store.insert(_record("done"))
    store.mark_running("running")
    store.set_progress("running", 2, 5)
    store.mark_running("done")
    store.finish("done", jobs_pb2.JOB_STATUS_COMPLETED, result=b"result")
    store.close()

    reopened = JobStore(tmp_path / "jobs.db")
    assert sorted(reopened.fail_unfinished(RESTARTED)) == ["queued", "running"]
    running = reopened.get("running")
    assert running is not None and running.status == jobs_pb2.JOB_STATUS_FAILED
    assert (running.done, running.total) == (2, 5)
    assert running.failure == RESTARTED and running.end_time is not None
    job = job_message(running)
    assert job.error.reason == "SERVICE_RESTARTED" and job.progress.unit == "rows"
    assert job.metadata["benchmark_id"] == "bench"
    assert reopened.get("queued").status == jobs_pb2.JOB_STATUS_FAILED  # type: ignore[union-attr]
    assert reopened.get("done").status == jobs_pb2.JOB_STATUS_COMPLETED  # type: ignore[union-attr]
    assert reopened.result("done") == b"result"
    assert reopened.get("done").request == b"\x0a\x01x"  # type: ignore[union-attr]


def test_a_final_state_is_not_overwritten(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.db")
    store.insert(_record("job"))
    store.finish("job", jobs_pb2.JOB_STATUS_CANCELLED)
    store.finish("job", jobs_pb2.JOB_STATUS_FAILED, failure=JobFailure(10, "LATE", "too late"))
    record = store.get("job")
    assert record is not None and record.status == jobs_pb2.JOB_STATUS_CANCELLED and record.failure is None
    assert not job_message(record).HasField("error")


def test_pages_are_newest_first_per_benchmark(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.db")
    for index in range(5):
        store.insert(_record(f"job-{index}", created=1000.0 + index))
    store.insert(_record("other", benchmark_id="other-bench"))
    first, second = store.page("bench", 0, 3), store.page("bench", 3, 3)
    assert [r.job_id for r in first + second] == ["job-4", "job-3", "job-2", "job-1", "job-0"]
    assert store.get("missing") is None
