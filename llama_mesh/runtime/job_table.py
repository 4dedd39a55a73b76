"""A service's jobs table in SQLite: the state transitions every long-running job goes through, in one place.

A job is QUEUED, then RUNNING, then final (COMPLETED, FAILED or CANCELLED) once and for all. A job a dead process
left QUEUED or RUNNING is marked FAILED when the table opens again (`fail_unfinished`), so that no job is ever
silently lost. The service's own store (eval's, post-training's) subclasses `JobTable` with its table's schema and
the columns only it has (a result, checkpoints). Blocking: call it off the event loop.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import ClassVar

from llama.common.v1 import jobs_pb2
from llama_mesh.runtime.job_messages import FINAL_STATES, JobFailure

_NO_FAILURE = JobFailure(0, "", "")


class JobTable:
    table: ClassVar[str]  # the table's name; it has job_id, status, error_code/_reason/_message, start/end_time
    schema: ClassVar[str]  # CREATE TABLE IF NOT EXISTS ... for it
    final_columns: ClassVar[tuple[str, ...]] = ()  # columns `finish` may also set (eval: the result)

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(self.schema)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, values: tuple) -> int:
        """Runs one statement; how many rows it changed."""
        with self._lock:
            return self._db.execute(sql, values).rowcount

    def mark_running(self, job_id: str) -> bool:
        """QUEUED → RUNNING; False when the job was not QUEUED (cancelled meanwhile, or unknown)."""
        return bool(
            self._write(
                f"UPDATE {self.table} SET status = ?, start_time = ? WHERE job_id = ? AND status = ?",
                (jobs_pb2.JOB_STATUS_RUNNING, time.time(), job_id, jobs_pb2.JOB_STATUS_QUEUED),
            )
        )

    def finish(self, job_id: str, status: int, failure: JobFailure | None = None, **columns: object) -> bool:
        """Puts a job in a final state, once: a job already final keeps its state (False then). `columns` are
        among the table's `final_columns`."""
        unknown = set(columns) - set(self.final_columns)
        if unknown:
            raise ValueError(f"{self.table}: finish cannot set {sorted(unknown)}")
        failure = failure or _NO_FAILURE
        names = "".join(f", {name} = ?" for name in columns)
        return bool(
            self._write(
                f"UPDATE {self.table} SET status = ?, error_code = ?, error_reason = ?, error_message = ?, "
                f"end_time = ?{names} WHERE job_id = ? AND status NOT IN (?, ?, ?)",
                (
                    status,
                    failure.code,
                    failure.reason,
                    failure.message,
                    time.time(),
                    *columns.values(),
                    job_id,
                    *sorted(FINAL_STATES),
                ),
            )
        )

    def fail_unfinished(self, failure: JobFailure) -> list[str]:
        """Marks every QUEUED or RUNNING job FAILED (at start-up: nothing runs them any more); their ids."""
        unfinished = (jobs_pb2.JOB_STATUS_QUEUED, jobs_pb2.JOB_STATUS_RUNNING)
        with self._lock:
            ids = [
                row[0]
                for row in self._db.execute(f"SELECT job_id FROM {self.table} WHERE status IN (?, ?)", unfinished)
            ]
        for job_id in ids:
            self.finish(job_id, jobs_pb2.JOB_STATUS_FAILED, failure)
        return ids
