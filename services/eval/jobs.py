"""Eval jobs: started at once, run in the background by the shared `JobRunner` (up to `max_concurrent_jobs` at a
time; stop, restart and cancel handling there), persisted in SQLite. Cancelling a job cancels the inference (or
agent) call in flight."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from llama.common.v1 import jobs_pb2
from llama.eval.v1 import eval_pb2
from llama_mesh.runtime.caller import may_see, owner_filter, record_owner
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.job_messages import job_message as common_job_message
from llama_mesh.runtime.job_runner import JobRunner
from services.eval.candidates import open_candidate
from services.eval.config import EvalProviderConfig
from services.eval.evaluation import (
    EvalPlan,
    Row,
    check_row_count,
    generate,
    generation_structs,
    read_rows,
    score,
)
from services.eval.job_store import JobRecord, JobStore

T = TypeVar("T")


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
        self._runner = JobRunner("eval", store, config.max_concurrent_jobs, again="run it again")

    async def _db(self, call: Callable[..., T], *args: object, **kwargs: object) -> T:
        return await asyncio.to_thread(call, *args, **kwargs)

    async def recover(self) -> None:
        """At start-up: jobs the store holds as QUEUED or RUNNING belong to a process that is gone."""
        await self._runner.recover()

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

        async def work() -> dict[str, object]:
            result = await self._evaluate(record.job_id, request, plan)
            return {"result": result.SerializeToString()}

        self._runner.start(record.job_id, work)
        return record

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
        check_row_count(len(rows), "benchmark_config.num_examples", f"dataset {plan.benchmark.dataset_id!r} now has")
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
        if not record.final:
            await self._runner.cancel(job_id)
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
        await self._runner.close()
