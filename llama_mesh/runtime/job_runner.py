"""Running a service's long jobs (eval runs, training runs): each in its own task, at most `max_concurrent` at a time
(the rest wait QUEUED), every end recorded once in the service's `JobTable`.

A job's work is a coroutine: what it returns is stored with COMPLETED (extra final columns, such as eval's result);
it raises `JobFailed` (or a MeshError) to end FAILED with its reason. Cancelling a job cancels its task, and with it
whatever call or process the work has in flight (CANCELLED). When the service stops, the jobs still running are
recorded FAILED SERVICE_STOPPED; when it starts again, jobs a killed process left QUEUED or RUNNING are recorded
FAILED SERVICE_RESTARTED. A job is never silently lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import grpc

from llama.common.v1 import jobs_pb2
from llama_mesh.runtime.errors import MeshError, status_code_number
from llama_mesh.runtime.job_messages import JobFailure
from llama_mesh.runtime.job_table import JobTable

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable["dict[str, object] | None"]]


class JobFailed(Exception):
    """Raised by a job's work: the job ends FAILED with this failure."""

    def __init__(self, failure: JobFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class JobRunner:
    def __init__(self, service: str, table: JobTable, max_concurrent: int, *, again: str) -> None:
        """`service` names the service in failures and logs ("eval", "post-training"); `again` tells the caller what
        to do about a job the service's stop ended ("run it again")."""
        self._service = service
        self._table = table
        self._slots = asyncio.Semaphore(max_concurrent)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cleanups: dict[str, Callable[[], Awaitable[None]]] = {}
        self._stopping = False
        aborted = status_code_number(grpc.StatusCode.ABORTED)
        self.restarted = JobFailure(
            aborted,
            "SERVICE_RESTARTED",
            f"the {service} service stopped while this job was queued or running (it was not shut down cleanly); "
            f"{again}",
        )
        self.stopped = JobFailure(
            aborted,
            "SERVICE_STOPPED",
            f"the {service} service was shut down while this job was queued or running; {again}",
        )

    async def recover(self) -> list[str]:
        """At start-up: the jobs the table holds as QUEUED or RUNNING belong to a process that is gone."""
        lost = await asyncio.to_thread(self._table.fail_unfinished, self.restarted)
        if lost:
            log.warning("marked %d %s job(s) of a previous run FAILED (SERVICE_RESTARTED)", len(lost), self._service)
        return lost

    def start(self, job_id: str, work: Work, *, cleanup: Callable[[], Awaitable[None]] | None = None) -> None:
        """Runs `work` for the QUEUED job `job_id` when a slot is free; `cleanup` runs however the job ends (also when
        it is cancelled while still queued)."""
        if cleanup is not None:
            self._cleanups[job_id] = cleanup
        task = asyncio.create_task(self._run(job_id, work), name=job_id)
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job_id, None))

    async def _finish(self, job_id: str, status: int, failure: JobFailure | None = None, **columns: object) -> None:
        await asyncio.to_thread(self._table.finish, job_id, status, failure, **columns)

    async def _clean_up(self, job_id: str) -> None:
        cleanup = self._cleanups.pop(job_id, None)
        if cleanup is not None:
            await cleanup()

    async def _cancelled(self, job_id: str) -> None:
        """Records the end of a job whose task was cancelled (a no-op when the job is final already)."""
        if self._stopping:
            await self._finish(job_id, jobs_pb2.JOB_STATUS_FAILED, self.stopped)
        else:
            await self._finish(job_id, jobs_pb2.JOB_STATUS_CANCELLED)

    async def _run(self, job_id: str, work: Work) -> None:
        try:
            async with self._slots:
                await asyncio.to_thread(self._table.mark_running, job_id)
                columns = await work() or {}
            await self._finish(job_id, jobs_pb2.JOB_STATUS_COMPLETED, **columns)
        except asyncio.CancelledError:
            await self._cancelled(job_id)
        except JobFailed as failed:
            log.info("%s job %s failed: %s", self._service, job_id, failed.failure.message)
            await self._finish(job_id, jobs_pb2.JOB_STATUS_FAILED, failed.failure)
        except MeshError as error:
            log.info("%s job %s failed: %s", self._service, job_id, error.message)
            failure = JobFailure(status_code_number(error.code), error.reason, error.message)
            await self._finish(job_id, jobs_pb2.JOB_STATUS_FAILED, failure)
        except Exception:
            log.exception("%s job %s failed", self._service, job_id)
            failure = JobFailure(
                status_code_number(grpc.StatusCode.INTERNAL),
                "INTERNAL",
                f"the {self._service} job failed on an internal error; see the {self._service} service's log",
            )
            await self._finish(job_id, jobs_pb2.JOB_STATUS_FAILED, failure)
        finally:
            await self._clean_up(job_id)

    async def _stop(self, job_id: str, task: asyncio.Task[None]) -> None:
        """Cancels a job's task and waits for it. A task cancelled before it ever ran recorded nothing: its end and its
        clean-up are done here."""
        task.cancel()
        await asyncio.wait([task])
        await self._cancelled(job_id)
        await self._clean_up(job_id)

    async def cancel(self, job_id: str) -> None:
        """Stops the job, if it is still queued or running here, and waits until it has."""
        task = self._tasks.get(job_id)
        if task is not None:
            await self._stop(job_id, task)

    async def close(self) -> None:
        """Stops every job still queued or running; they are recorded FAILED (SERVICE_STOPPED)."""
        self._stopping = True
        await asyncio.gather(*(self._stop(job_id, task) for job_id, task in list(self._tasks.items())))
