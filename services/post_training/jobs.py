"""Training jobs: started at once, each trained by its own process (services/post_training/training_run.py), run by
the shared `JobRunner` (at most `max_concurrent_jobs` at a time; stop, restart and cancel handling there), recorded in
SQLite.

The service reads the process's JSON lines into the store (step, epoch, losses, ETA, the checkpoint). Cancelling a
job, or stopping the service, sends its process SIGTERM (SIGKILL after `cancel_grace_s`); a training process dies
with the service even when the service is killed. A job's work directory (its rows and spec) is removed when the job
ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc

from llama_mesh.runtime.errors import status_code_number
from llama_mesh.runtime.job_messages import JobFailure
from llama_mesh.runtime.job_runner import JobFailed, JobRunner
from services.post_training.config import HuggingFacePostTrainingConfig
from services.post_training.job_store import JobStore

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[2]


def _failed(message: str) -> JobFailure:
    return JobFailure(status_code_number(grpc.StatusCode.INTERNAL), "TRAINING_FAILED", message)


class TrainingJobs:
    def __init__(self, config: HuggingFacePostTrainingConfig, store: JobStore, work_root: Path) -> None:
        self._config = config
        self._store = store
        self._work_root = work_root
        self._runner = JobRunner("post-training", store, config.max_concurrent_jobs, again="start the job again")

    async def _db(self, call: Callable[..., T], *args: object) -> T:
        return await asyncio.to_thread(call, *args)

    def work_dir(self, job_id: str) -> Path:
        return self._work_root / job_id

    async def recover(self) -> None:
        """At start-up: jobs the store holds as QUEUED or RUNNING belong to a process that is gone."""
        await self._runner.recover()
        if self._work_root.is_dir():
            await self._db(shutil.rmtree, self._work_root, True)

    def start(self, job_id: str, spec_path: Path) -> None:
        async def remove_work_dir() -> None:
            await self._db(shutil.rmtree, self.work_dir(job_id), True)

        self._runner.start(job_id, lambda: self._train(job_id, spec_path), cleanup=remove_work_dir)

    async def _train(self, job_id: str, spec_path: Path) -> None:
        """Runs the job's training process to its end; its process is stopped if the job is cancelled or fails."""
        process: asyncio.subprocess.Process | None = None
        try:
            process = await self._spawn(job_id, spec_path)
            failure = await self._follow(job_id, process)
            code = await process.wait()
        except BaseException:
            if process is not None:
                await self._stop(process)
            raise
        if code != 0 or failure is not None:
            raise JobFailed(
                failure
                or _failed(
                    f"the training process exited with code {code}; the post-training service's log has its output"
                )
            )

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
        await self._runner.cancel(job_id)

    async def close(self) -> None:
        """Stop every job still running; they are recorded as FAILED (SERVICE_STOPPED)."""
        await self._runner.close()
