"""The common part of a long-running job's message (`llama.common.v1.Job`), read from the record a service stores:
one place for status, progress, times and the failure, whatever the job (an eval run, a training run)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from google.protobuf import timestamp_pb2

from llama.common.v1 import jobs_pb2, stream_error_pb2

FINAL_STATES = frozenset({jobs_pb2.JOB_STATUS_COMPLETED, jobs_pb2.JOB_STATUS_FAILED, jobs_pb2.JOB_STATUS_CANCELLED})


@dataclass(frozen=True)
class JobFailure:
    """Why a job FAILED, as its `Job.error` reads."""

    code: int  # google.rpc.Code number
    reason: str
    message: str


class JobRecord(Protocol):
    job_id: str
    status: int
    done: int
    total: int
    create_time: float
    start_time: float | None
    end_time: float | None
    failure: JobFailure | None


def timestamp(seconds: float | None) -> timestamp_pb2.Timestamp | None:
    """A protobuf Timestamp of a time in seconds since the epoch; None stays None (the field is left unset)."""
    if seconds is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def job_message(record: JobRecord, unit: str) -> jobs_pb2.Job:
    """The Job of `record`, its progress counted in `unit`; the error only on a FAILED job."""
    job = jobs_pb2.Job(
        job_id=record.job_id,
        status=record.status,  # type: ignore[arg-type]
        progress=jobs_pb2.JobProgress(done=record.done, total=record.total, unit=unit),
        create_time=timestamp(record.create_time),
        start_time=timestamp(record.start_time),
        end_time=timestamp(record.end_time),
    )
    if record.failure is not None and record.status == jobs_pb2.JOB_STATUS_FAILED:
        failure = record.failure
        job.error.CopyFrom(
            stream_error_pb2.StreamError(code=failure.code, reason=failure.reason, message=failure.message)
        )
    return job
