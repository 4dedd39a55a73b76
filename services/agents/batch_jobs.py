"""Batch agents: one agent over many independent inputs, each a turn in a new session, run as a job.

The job record and each item's result are stored as they finish; a job a stopped service left QUEUED or RUNNING is
marked FAILED when the service starts again. Cancelling stops items not yet started; running turns finish.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from google.protobuf import struct_pb2

from llama.agents.v1 import agents_pb2 as pb
from llama.common.v1 import jobs_pb2, stream_error_pb2
from llama_mesh.runtime import paging
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument, MeshError, NotFound
from services.agents.agent_book import AgentBook
from services.agents.agent_store import AgentStore
from services.agents.turn_loop import stream_error
from services.agents.turn_results import final_turn

MAX_ITEMS = 100_000
MAX_CONCURRENCY = 64
FINAL_STATES = (jobs_pb2.JOB_STATUS_COMPLETED, jobs_pb2.JOB_STATUS_FAILED, jobs_pb2.JOB_STATUS_CANCELLED)
INTERRUPTED = stream_error_pb2.StreamError(
    code=14, reason="JOB_INTERRUPTED", message="the agents service stopped while this job ran; start it again"
)
log = logging.getLogger(__name__)


class BatchJobs:
    def __init__(self, book: AgentBook, store: AgentStore) -> None:
        self._book = book
        self._store = store
        self._tasks: dict[str, asyncio.Task[None]] = {}  # the running jobs, by id
        self._agent_of: dict[str, str] = {}  # their agents
        self._cancelled: set[str] = set()

    async def create(self, request: pb.CreateAgentBatchJobRequest) -> jobs_pb2.Job:
        agent = await self._book.agent(request.agent_id)
        if not request.items:
            raise InvalidArgument("items", "at least one item is required")
        if len(request.items) > MAX_ITEMS:
            raise InvalidArgument("items", f"at most {MAX_ITEMS} items per job, got {len(request.items)}")
        for index, item in enumerate(request.items):
            if not item.messages:
                raise InvalidArgument(f"items[{index}].messages", "at least one message is required")
        concurrency = request.max_concurrency if request.HasField("max_concurrency") else 0
        if not 0 <= concurrency <= MAX_CONCURRENCY:
            raise InvalidArgument("max_concurrency", f"must be in 0..{MAX_CONCURRENCY}, got {concurrency}")
        job = jobs_pb2.Job(
            job_id=uuid.uuid4().hex,
            status=jobs_pb2.JOB_STATUS_QUEUED,
            progress=jobs_pb2.JobProgress(done=0, total=len(request.items), unit="items"),
            metadata=struct_pb2.Struct(fields={"agent_id": struct_pb2.Value(string_value=agent.agent_id)}),
        )
        job.create_time.GetCurrentTime()
        await asyncio.to_thread(self._store.put_job, agent.agent_id, job)
        limit = concurrency or self._book.settings.batch_max_concurrency
        self._agent_of[job.job_id] = agent.agent_id
        self._tasks[job.job_id] = asyncio.create_task(self._run(agent.agent_id, job, list(request.items), limit))
        return job

    async def get(self, job_id: str) -> jobs_pb2.Job:
        if not job_id:
            raise InvalidArgument("job_id", "is required")
        job = await asyncio.to_thread(self._store.get_job, job_id)
        if job is None or not await self._book.visible(job.metadata["agent_id"]):  # the job is its agent's owner's
            raise NotFound(f"batch job {job_id!r} does not exist", reason="JOB_NOT_FOUND", job_id=job_id)
        return job

    async def list(self, agent_id: str, size: int, token: str) -> tuple[list[jobs_pb2.Job], str]:
        await self._book.agent(agent_id)
        return await asyncio.to_thread(self._store.list_jobs, agent_id, paging.page_size(size), token)

    async def cancel(self, job_id: str) -> jobs_pb2.Job:
        job = await self.get(job_id)
        if job.status in FINAL_STATES:
            return job
        self._cancelled.add(job_id)
        if job.status == jobs_pb2.JOB_STATUS_QUEUED:
            task = self._tasks.get(job_id)
            if task is not None and not task.done():
                task.cancel()
        return job

    def cancel_all_of(self, agent_id: str) -> None:
        self._cancelled.update(job_id for job_id in self._tasks if self._agent_of.get(job_id) == agent_id)

    async def results(self, job_id: str, size: int, token: str) -> tuple[list[pb.AgentBatchItemResult], str]:
        job = await self.get(job_id)
        if job.status != jobs_pb2.JOB_STATUS_COMPLETED:
            raise FailedPrecondition(
                f"batch job {job_id!r} is {jobs_pb2.JobStatus.Name(job.status)}; results are read once it is COMPLETED",
                reason="JOB_NOT_COMPLETED",
                job_id=job_id,
            )
        listing = f"batch_results:{job_id}"
        start = paging.read_offset(token, listing)
        limit = paging.page_size(size)
        results = await asyncio.to_thread(self._store.results, job_id, start, limit)
        return results[:limit], paging.make_token(listing, start + limit) if len(results) > limit else ""

    async def _run(self, agent_id: str, job: jobs_pb2.Job, items: list[pb.AgentBatchItem], limit: int) -> None:
        gate = asyncio.Semaphore(limit)
        job.status = jobs_pb2.JOB_STATUS_RUNNING
        job.start_time.GetCurrentTime()
        await asyncio.to_thread(self._store.put_job, agent_id, job)

        async def one(index: int, item: pb.AgentBatchItem) -> None:
            async with gate:
                if job.job_id in self._cancelled:
                    return
                result = await self._item(agent_id, index, item)
                await asyncio.to_thread(self._store.put_result, job.job_id, result)
                job.progress.done += 1
                await asyncio.to_thread(self._store.put_job, agent_id, job)

        try:
            await asyncio.gather(*(one(index, item) for index, item in enumerate(items)))
            job.status = (
                jobs_pb2.JOB_STATUS_CANCELLED if job.job_id in self._cancelled else jobs_pb2.JOB_STATUS_COMPLETED
            )
        except asyncio.CancelledError:
            if job.job_id in self._cancelled:
                job.status = jobs_pb2.JOB_STATUS_CANCELLED
            else:  # the service is stopping
                job.status = jobs_pb2.JOB_STATUS_FAILED
                job.error.CopyFrom(INTERRUPTED)
        except Exception as exc:
            log.exception("batch job %s failed", job.job_id)
            job.status = jobs_pb2.JOB_STATUS_FAILED
            # a mesh error's message is written for callers; any other exception's text (a path, an address) is not
            message = (
                exc.message
                if isinstance(exc, MeshError)
                else f"the batch job failed on an internal error ({type(exc).__name__}); the agents service's log "
                "has the details"
            )
            job.error.CopyFrom(stream_error_pb2.StreamError(code=13, reason="JOB_FAILED", message=message))
        finally:
            job.end_time.GetCurrentTime()
            self._store.put_job(agent_id, job)
            self._tasks.pop(job.job_id, None)
            self._agent_of.pop(job.job_id, None)
            self._cancelled.discard(job.job_id)

    async def _item(self, agent_id: str, index: int, item: pb.AgentBatchItem) -> pb.AgentBatchItemResult:
        """One item: a new session and one turn. Its failure is its result, not the job's."""
        result = pb.AgentBatchItemResult(index=index)
        deadline = time.monotonic() + self._book.settings.batch_turn_timeout_seconds
        try:
            session = await self._book.create_session(agent_id, f"batch item {index}")
            result.session_id = session.session_id
            request = pb.CreateTurnRequest(
                agent_id=agent_id, session_id=session.session_id, messages=item.messages, documents=item.documents
            )
            loop = await self._book.start_turn(request, lambda: max(deadline - time.monotonic(), 0.0))
            with self._book.running(session.session_id):
                result.turn.CopyFrom(await final_turn(loop.run_new()))
        except MeshError as error:
            result.error.CopyFrom(stream_error(error))
        return result

    def mark_interrupted(self) -> int:
        """At start-up: jobs a stopped service left QUEUED or RUNNING become FAILED (their finished items stay)."""
        jobs = self._store.active_jobs()
        for job in jobs:
            job.status = jobs_pb2.JOB_STATUS_FAILED
            job.error.CopyFrom(INTERRUPTED)
            job.end_time.GetCurrentTime()
            self._store.put_job(job.metadata.fields["agent_id"].string_value, job)
        return len(jobs)

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
