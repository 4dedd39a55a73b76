"""Training jobs: started at once, each trained by its own process (services/post_training/training_run.py), at most
`max_concurrent_jobs` at a time (the rest wait QUEUED), recorded in SQLite.

The service reads the process's JSON lines into the store (step, epoch, losses, ETA, the checkpoint). Cancelling a
job sends its process SIGTERM (SIGKILL after `cancel_grace_s`) and records CANCELLED. When the service stops, its
running jobs are stopped and recorded FAILED (SERVICE_STOPPED); a training process dies with the service even when
the service is killed, and on the next start any job the store still holds as QUEUED or RUNNING is marked FAILED
(SERVICE_RESTARTED). A job's work directory (its rows and spec) is removed when the job ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc

from llama.common.v1 import jobs_pb2
from llama_mesh.runtime.errors import status_code_number
from services.post_training.config import HuggingFacePostTrainingConfig
from services.post_training.job_store import JobFailure, JobStore

log = logging.getLogger(__name__)
T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[2]

RESTARTED = JobFailure(
    status_code_number(grpc.StatusCode.ABORTED),
    "SERVICE_RESTARTED",
    "the post-training service stopped while this job was queued or running (it was not shut down cleanly); "
    "start the job again",
)
STOPPED = JobFailure(
    status_code_number(grpc.StatusCode.ABORTED),
    "SERVICE_STOPPED",
    "the post-training service was shut down while this job was queued or running; start the job again",
)


def _failed(message: str) -> JobFailure:
    return JobFailure(status_code_number(grpc.StatusCode.INTERNAL), "TRAINING_FAILED", message)


class TrainingJobs:
    def __init__(self, config: HuggingFacePostTrainingConfig, store: JobStore, work_root: Path) -> None:
        self._config = config
        self._store = store
        self._work_root = work_root
        self._slots = asyncio.Semaphore(config.max_concurrent_jobs)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    async def _db(self, call: Callable[..., T], *args: object) -> T:
        return await asyncio.to_thread(call, *args)

    def work_dir(self, job_id: str) -> Path:
        return self._work_root / job_id

    async def recover(self) -> None:
        """At start-up: jobs the store holds as QUEUED or RUNNING belong to a process that is gone."""
        lost = await self._db(self._store.fail_unfinished, RESTARTED)
        if lost:
            log.warning("marked %d training job(s) of a previous run FAILED (SERVICE_RESTARTED)", len(lost))
        if self._work_root.is_dir():
            await self._db(shutil.rmtree, self._work_root, True)

    def start(self, job_id: str, spec_path: Path) -> None:
        task = asyncio.create_task(self._run(job_id, spec_path), name=job_id)
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job_id, None))

    async def _run(self, job_id: str, spec_path: Path) -> None:
        process: asyncio.subprocess.Process | None = None
        try:
            async with self._slots:
                await self._db(self._store.mark_running, job_id)
                process = await self._spawn(job_id, spec_path)
                failure = await self._follow(job_id, process)
                code = await process.wait()
            if code == 0 and failure is None:
                await self._db(self._store.finish, job_id, jobs_pb2.JOB_STATUS_COMPLETED)
            else:
                failure = failure or _failed(
                    f"the training process exited with code {code}; the post-training service's log of job "
                    f"{job_id} has the details"
                )
                log.info("training job %s failed: %s", job_id, failure.message)
                await self._db(self._store.finish, job_id, jobs_pb2.JOB_STATUS_FAILED, failure)
        except asyncio.CancelledError:
            if process is not None:
                await self._stop(process)
            if self._stopping:
                await self._db(self._store.finish, job_id, jobs_pb2.JOB_STATUS_FAILED, STOPPED)
            else:
                await self._db(self._store.finish, job_id, jobs_pb2.JOB_STATUS_CANCELLED)
        except Exception:
            log.exception("training job %s failed", job_id)
            if process is not None:
                await self._stop(process)
            failure = _failed("the training job failed on an internal error; see the post-training service's log")
            await self._db(self._store.finish, job_id, jobs_pb2.JOB_STATUS_FAILED, failure)
        finally:
            await self._db(shutil.rmtree, self.work_dir(job_id), True)

    def _log(self, job_id: str) -> Path:
        return self._work_root.parent / "logs" / f"{job_id}.log"

    async def _spawn(self, job_id: str, spec_path: Path) -> asyncio.subprocess.Process:
        log_path = self._log(job_id)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        if self._config.threads:
            env["OMP_NUM_THREADS"] = str(self._config.threads)
        with log_path.open("ab") as stderr:
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "services.post_training.training_run",
                str(spec_path),
                str(os.getpid()),
                cwd=REPO_ROOT,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                limit=1 << 20,
            )

    async def _follow(self, job_id: str, process: asyncio.subprocess.Process) -> JobFailure | None:
        """Reads the process's reports into the store until it closes stdout; the failure it reported, if any."""
        assert process.stdout is not None
        details: dict[str, Any] = {}
        failure: JobFailure | None = None
        async for line in process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a library printed to stdout
            if not isinstance(event, dict):
                continue
            kind = event.pop("event", None)
            if kind == "started":
                details.update(event)
                await self._db(self._store.set_progress, job_id, 0, 0, details)
            elif kind == "progress":
                done, total = int(event.pop("step")), int(event.pop("total"))
                details.update({key: value for key, value in event.items() if value is not None})
                await self._db(self._store.set_progress, job_id, done, total, details)
            elif kind == "checkpoint":
                await self._db(self._store.add_checkpoint, job_id, event)
            elif kind == "error":
                failure = _failed(f"training failed: {event.get('message', 'unknown error')}")
        return failure

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        if process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), self._config.cancel_grace_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def cancel(self, job_id: str) -> None:
        """Stops the job and waits until its process has exited."""
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()
            await asyncio.wait([task])

    async def close(self) -> None:
        """Stop every job still running; they are recorded as FAILED (SERVICE_STOPPED)."""
        self._stopping = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
