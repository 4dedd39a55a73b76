"""Eval jobs: started at once, run in the background up to `max_concurrent_jobs` at a time, persisted in SQLite.

Cancelling a job cancels its task, and with it the inference (or agent) call in flight. When the service stops, the
jobs still running are marked FAILED (SERVICE_STOPPED); when it starts, any job the store still holds as QUEUED or
RUNNING (the process was killed) is marked FAILED (SERVICE_RESTARTED). A job is never silently lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import grpc

from llama.common.v1 import jobs_pb2
from llama.eval.v1 import eval_pb2
from llama_mesh.runtime.caller import may_see, owner_filter, record_owner
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument, MeshError, NotFound, status_code_number
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.job_messages import job_message as common_job_message
from services.eval.candidates import open_candidate
from services.eval.config import EvalProviderConfig
from services.eval.evaluation import EvalPlan, Row, generate, generation_structs, read_rows, score
from services.eval.job_store import JobFailure, JobRecord, JobStore

log = logging.getLogger(__name__)
T = TypeVar("T")

RESTARTED = JobFailure(
    status_code_number(grpc.StatusCode.ABORTED),
    "SERVICE_RESTARTED",
    "the eval service stopped while this job was queued or running (it was not shut down cleanly); run it again",
)
STOPPED = JobFailure(
    status_code_number(grpc.StatusCode.ABORTED),
    "SERVICE_STOPPED",
    "the eval service was shut down while this job was queued or running; run it again",
)


def job_message(record: JobRecord) -> jobs_pb2.Job:
    job = common_job_message(record, "rows")
    job.metadata.update({"benchmark_id": record.benchmark_id, "candidate": record.candidate})
    return job


class EvalJobs:
    def __init__(self, provider_id: str, config: EvalProviderConfig, gateway: GatewayClient, store: JobStore) -> None:
        self._provider_id = provider_id
        self._config = config
        self._gateway = gateway
        self._store = store
        self._slots = asyncio.Semaphore(config.max_concurrent_jobs)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    async def _db(self, call: Callable[..., T], *args: object, **kwargs: object) -> T:
        return await asyncio.to_thread(call, *args, **kwargs)

    async def recover(self) -> None:
        """At start-up: jobs the store holds as QUEUED or RUNNING belong to a process that is gone."""
        lost = await self._db(self._store.fail_unfinished, RESTARTED)
        if lost:
            log.warning("marked %d eval job(s) of a previous run FAILED (SERVICE_RESTARTED)", lost)

    async def submit(self, request: eval_pb2.RunEvalRequest, plan: EvalPlan, candidate: str) -> JobRecord:
        record = JobRecord(
            job_id=f"eval-{uuid.uuid4().hex[:16]}",
            benchmark_id=request.benchmark_id,
            provider_id=self._provider_id,
            status=jobs_pb2.JOB_STATUS_QUEUED,
            done=0,
            total=0,
            failure=None,
            create_time=time.time(),
            start_time=None,
            end_time=None,
            candidate=candidate,
            request=request.SerializeToString(),
            owner=record_owner(),
        )
        await self._db(self._store.insert, record)
        task = asyncio.create_task(self._run(record.job_id, request, plan), name=record.job_id)
        self._tasks[record.job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(record.job_id, None))
        return record

    async def _run(self, job_id: str, request: eval_pb2.RunEvalRequest, plan: EvalPlan) -> None:
        try:
            async with self._slots:
                await self._db(self._store.mark_running, job_id)
                result = await self._evaluate(job_id, request, plan)
            await self._db(self._store.finish, job_id, jobs_pb2.JOB_STATUS_COMPLETED, result=result.SerializeToString())
        except asyncio.CancelledError:
            if self._stopping:
                await self._db(self._store.finish, job_id, jobs_pb2.JOB_STATUS_FAILED, failure=STOPPED)
            else:
                await self._db(self._store.finish, job_id, jobs_pb2.JOB_STATUS_CANCELLED)
        except MeshError as error:
            log.info("eval job %s failed: %s", job_id, error.message)
            failure = JobFailure(status_code_number(error.code), error.reason, error.message)
            await self._db(self._store.finish, job_id, jobs_pb2.JOB_STATUS_FAILED, failure=failure)
        except Exception:
            log.exception("eval job %s failed", job_id)
            failure = JobFailure(
                status_code_number(grpc.StatusCode.INTERNAL),
                "INTERNAL",
                "the eval job failed on an internal error; see the eval service's log",
            )
            await self._db(self._store.finish, job_id, jobs_pb2.JOB_STATUS_FAILED, failure=failure)

    async def _evaluate(
        self, job_id: str, request: eval_pb2.RunEvalRequest, plan: EvalPlan
    ) -> eval_pb2.GetEvalJobResultResponse:
        gateway = self._gateway
        rows: list[Row] = await read_rows(
            gateway,
            plan.benchmark.dataset_id,
            plan.num_examples,
            self._config.page_size,
            self._config.generation_timeout_s,
        )
        await self._db(self._store.set_progress, job_id, 0, len(rows))

        async def progress(done: int, total: int) -> None:
            await self._db(self._store.set_progress, job_id, done, total)

        candidate = open_candidate(gateway, request.benchmark_config.eval_candidate)
        try:
            generations = await generate(
                candidate, rows, plan.prompt_format, self._config.generation_timeout_s, progress
            )
        finally:
            await candidate.close()
        scores = await score(gateway, rows, generations, plan.scoring, self._config.scoring_timeout_s) if rows else {}
        return eval_pb2.GetEvalJobResultResponse(generations=generation_structs(generations), scores=scores)

    async def job(self, benchmark_id: str, job_id: str) -> JobRecord:
        """The job, which must belong to the benchmark (NOT_FOUND otherwise)."""
        if not job_id:
            raise InvalidArgument("job_id", "is required")
        record = await self._db(self._store.get, job_id)
        if record is None or record.benchmark_id != benchmark_id or not may_see(record.owner):
            raise NotFound(
                f"eval job {job_id!r} of benchmark {benchmark_id!r} does not exist (list them with "
                f"`llama-mesh eval jobs {benchmark_id}`)",
                reason="JOB_NOT_FOUND",
                job_id=job_id,
                benchmark_id=benchmark_id,
            )
        return record

    async def cancel(self, benchmark_id: str, job_id: str) -> JobRecord:
        """Stops the job and waits until it has (its in-flight call is cancelled with it)."""
        record = await self.job(benchmark_id, job_id)
        task = self._tasks.get(job_id)
        if task is not None and not record.final:
            task.cancel()
            await asyncio.wait([task])
        return await self.job(benchmark_id, job_id)

    async def result(self, benchmark_id: str, job_id: str) -> eval_pb2.GetEvalJobResultResponse:
        record = await self.job(benchmark_id, job_id)
        if record.status != jobs_pb2.JOB_STATUS_COMPLETED:
            state = jobs_pb2.JobStatus.Name(record.status).removeprefix("JOB_STATUS_")
            raise FailedPrecondition(
                f"eval job {job_id!r} is {state}; its result can be read once it is COMPLETED",
                reason="JOB_NOT_COMPLETED",
                job_id=job_id,
                status=state,
            )
        data = await self._db(self._store.result, job_id)
        return eval_pb2.GetEvalJobResultResponse.FromString(data or b"")

    async def page(self, benchmark_id: str, offset: int, size: int) -> list[JobRecord]:
        return await self._db(self._store.page, benchmark_id, offset, size, owner_filter())

    async def close(self) -> None:
        """Stop every job still running; they are recorded as FAILED (SERVICE_STOPPED)."""
        self._stopping = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
