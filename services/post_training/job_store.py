"""Training jobs in SQLite (<data_dir>/post_training/<provider>-jobs.db): what was asked, where the job is, its
checkpoints. The state transitions are the shared `JobTable`'s; blocking, called off the event loop."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from llama.common.v1 import jobs_pb2
from llama_mesh.runtime.job_messages import FINAL_STATES, JobFailure
from llama_mesh.runtime.job_table import JobTable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS training_jobs (
    job_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    kind INTEGER NOT NULL,
    model TEXT NOT NULL,
    status INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    details TEXT NOT NULL DEFAULT '{}',
    error_code INTEGER NOT NULL DEFAULT 0,
    error_reason TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '',
    checkpoints TEXT NOT NULL DEFAULT '[]',
    create_time REAL NOT NULL,
    start_time REAL,
    end_time REAL
);
CREATE INDEX IF NOT EXISTS training_jobs_by_owner ON training_jobs (owner, create_time);
"""
_COLUMNS = (
    "job_id, owner, kind, model, status, done, total, details, error_code, error_reason, error_message, checkpoints, "
    "create_time, start_time, end_time"
)


@dataclass
class JobRecord:
    job_id: str
    owner: str
    kind: int  # post_training_pb2.TrainingJobType
    model: str
    status: int = jobs_pb2.JOB_STATUS_QUEUED
    done: int = 0
    total: int = 0
    details: dict[str, Any] = field(default_factory=dict)  # epoch, losses, ETA, device, dtype
    failure: JobFailure | None = None
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    create_time: float = field(default_factory=time.time)
    start_time: float | None = None
    end_time: float | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATES


def _record(row: tuple) -> JobRecord:
    (job_id, owner, kind, model, status, done, total, details, code, reason, message, saved, created, started,
     ended) = row  # fmt: skip
    return JobRecord(
        job_id, owner, kind, model, status, done, total, json.loads(details),
        JobFailure(code, reason, message) if reason else None, json.loads(saved), created, started, ended,
    )  # fmt: skip


class JobStore(JobTable):
    table = "training_jobs"
    schema = _SCHEMA

    def insert(self, record: JobRecord) -> bool:
        """False when the job id is taken."""
        try:
            self._write(
                f"INSERT INTO training_jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, 0, 0, '{{}}', 0, '', '', '[]', ?, "
                "NULL, NULL)",
                (record.job_id, record.owner, record.kind, record.model, record.status, record.create_time),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def exists(self, job_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM training_jobs WHERE job_id = ?", (job_id,)).fetchone() is not None

    def get(self, job_id: str, owner: str | None) -> JobRecord | None:
        """The job, if it exists and (unless `owner` is None: an admin, or auth off) belongs to `owner`."""
        mine, args = (" AND owner = ?", (owner,)) if owner is not None else ("", ())
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM training_jobs WHERE job_id = ?{mine}", (job_id, *args)
            ).fetchone()
        return _record(row) if row else None

    def page(self, owner: str | None, offset: int, limit: int) -> list[JobRecord]:
        """The owner's jobs (every job for None), newest first."""
        where, args = ("WHERE owner = ? ", (owner,)) if owner is not None else ("", ())
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM training_jobs {where}ORDER BY create_time DESC, job_id LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
        return [_record(row) for row in rows]

    def set_progress(self, job_id: str, done: int, total: int, details: dict[str, Any]) -> None:
        self._write(
            "UPDATE training_jobs SET done = ?, total = ?, details = ? WHERE job_id = ?",
            (done, total, json.dumps(details), job_id),
        )

    def add_checkpoint(self, job_id: str, checkpoint: dict[str, Any]) -> None:
        with self._lock:
            row = self._db.execute("SELECT checkpoints FROM training_jobs WHERE job_id = ?", (job_id,)).fetchone()
            saved = [*json.loads(row[0]), checkpoint] if row else [checkpoint]
            self._db.execute("UPDATE training_jobs SET checkpoints = ? WHERE job_id = ?", (json.dumps(saved), job_id))
