"""Eval jobs in SQLite (<data_dir>/eval/<provider>-jobs.db): what was asked, where the job is, and its result once
done. The state transitions are the shared `JobTable`'s; blocking, called off the event loop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llama_mesh.runtime.job_messages import FINAL_STATES, JobFailure
from llama_mesh.runtime.job_table import JobTable
from llama_mesh.runtime.owners import ensure_owner_column

_SCHEMA = """
CREATE TABLE IF NOT EXISTS eval_jobs (
    job_id TEXT PRIMARY KEY,
    benchmark_id TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    error_code INTEGER NOT NULL DEFAULT 0,
    error_reason TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '',
    create_time REAL NOT NULL,
    start_time REAL,
    end_time REAL,
    candidate TEXT NOT NULL DEFAULT '',
    request BLOB NOT NULL,
    result BLOB
);
CREATE INDEX IF NOT EXISTS eval_jobs_by_benchmark ON eval_jobs (benchmark_id, create_time);
"""


@dataclass
class JobRecord:
    job_id: str
    benchmark_id: str
    provider_id: str
    status: int
    done: int
    total: int
    failure: JobFailure | None
    create_time: float
    start_time: float | None
    end_time: float | None
    candidate: str
    request: bytes  # a serialized RunEvalRequest
    owner: str = ""  # the principal that started it (see llama_mesh/runtime/caller.py)

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATES


_COLUMNS = (
    "job_id, benchmark_id, provider_id, status, done, total, error_code, error_reason, error_message, create_time, "
    "start_time, end_time, candidate, request, owner"
)


def _record(row: tuple) -> JobRecord:
    (
        job_id,
        benchmark_id,
        provider_id,
        status,
        done,
        total,
        code,
        reason,
        message,
        created,
        started,
        ended,
        candidate,
        request,
        owner,
    ) = row
    failure = JobFailure(code, reason, message) if reason else None
    return JobRecord(
        job_id,
        benchmark_id,
        provider_id,
        status,
        done,
        total,
        failure,
        created,
        started,
        ended,
        candidate,
        bytes(request),
        owner,
    )


class JobStore(JobTable):
    table = "eval_jobs"
    schema = _SCHEMA
    final_columns = ("result",)

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        ensure_owner_column(self._db, "eval_jobs")

    def insert(self, record: JobRecord) -> None:
        with self._lock:
            self._db.execute(
                f"INSERT INTO eval_jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, '', '', ?, NULL, NULL, ?, ?, ?)",
                (
                    record.job_id,
                    record.benchmark_id,
                    record.provider_id,
                    record.status,
                    record.done,
                    record.total,
                    record.create_time,
                    record.candidate,
                    record.request,
                    record.owner,
                ),
            )

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM eval_jobs WHERE job_id = ?", (job_id,)).fetchone()
        return _record(row) if row else None

    def page(self, benchmark_id: str, offset: int, limit: int, owner: str | None = None) -> list[JobRecord]:
        """The benchmark's jobs (only `owner`'s unless None), newest first."""
        mine, args = ("AND owner = ?", (owner,)) if owner is not None else ("", ())
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM eval_jobs WHERE benchmark_id = ? {mine} ORDER BY create_time DESC, job_id "
                "LIMIT ? OFFSET ?",
                (benchmark_id, *args, limit, offset),
            ).fetchall()
        return [_record(row) for row in rows]

    def set_progress(self, job_id: str, done: int, total: int) -> None:
        with self._lock:
            self._db.execute("UPDATE eval_jobs SET done = ?, total = ? WHERE job_id = ?", (done, total, job_id))

    def result(self, job_id: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT result FROM eval_jobs WHERE job_id = ?", (job_id,)).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None
