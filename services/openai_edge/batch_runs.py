"""The batches this edge process runs (OpenAI's Batch API).

A batch's requests go through the same code as the endpoint's HTTP route, `batch_concurrency` at a time, on behalf of
the token that created the batch: it is held in memory by the run only, never written down, so a batch does not
outlive its edge (one that stops fails its batches; one that is killed leaves them to be read as failed once their
heartbeat is BATCH_STALE_SECONDS old). Each answer is appended as it comes to the output file (2xx) or the error file
(the rest, with OpenAI's error object and status), kept as the batch's files when it ends. A cancelled or expired
batch ends with the answers it has; its requests that did not run are in the error file (`batch_cancelled`,
`batch_expired`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from llama_mesh.runtime.errors import MeshError
from services.openai_edge.batch_input import BatchLine, line_body
from services.openai_edge.calls import MeshCalls
from services.openai_edge.errors import OpenAIError, from_mesh_error, from_validation_error
from services.openai_edge.routes import chat, completions, embeddings
from services.openai_edge.settings import EdgeSettings
from services.openai_edge.stores import BATCH_HEARTBEAT_SECONDS, EdgeStore, StorageFull, lost_batch

log = logging.getLogger(__name__)

Handler = Callable[[Any, MeshCalls], Awaitable[Any]]
# The endpoints a batch may call: the request model and the handler of each one's route.
ENDPOINTS: dict[str, tuple[type[BaseModel], Handler]] = {
    "/v1/chat/completions": (chat.ChatCompletionRequest, chat.chat_completions),
    "/v1/completions": (completions.CompletionRequest, completions.completions),
    "/v1/embeddings": (embeddings.EmbeddingsRequest, embeddings.embeddings),
}


class _ResultFile:
    """A JSONL file written a line at a time, off the event loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self.bytes = 0
        self._lock = threading.Lock()

    def _append(self, data: bytes) -> None:
        with self._lock, self.path.open("ab") as handle:
            handle.write(data)

    async def append(self, entry: dict[str, Any]) -> None:
        data = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        self.lines += 1
        self.bytes += len(data)
        await asyncio.shield(asyncio.to_thread(self._append, data))  # a line is written whole, even if cancelled


def _entry(line: BatchLine, status: int, body: dict[str, Any]) -> dict[str, Any]:
    response = {"status_code": status, "request_id": f"req_{uuid.uuid4().hex}", "body": body}
    return {"id": f"batch_req_{uuid.uuid4().hex}", "custom_id": line.custom_id, "response": response, "error": None}


def _not_run(line: BatchLine, code: str, message: str) -> dict[str, Any]:
    error = {"code": code, "message": message}
    return {"id": f"batch_req_{uuid.uuid4().hex}", "custom_id": line.custom_id, "response": None, "error": error}


def _errors(*problems: dict[str, Any]) -> dict[str, Any]:
    return {"errors": {"object": "list", "data": [{"param": None, "line": None} | problem for problem in problems]}}


class BatchRun:
    def __init__(
        self,
        store: EdgeStore,
        settings: EdgeSettings,
        batch: dict[str, Any],
        owner: str,
        lines: list[BatchLine],
        mesh: MeshCalls,
    ) -> None:
        self.batch_id = batch["id"]
        self.endpoint = batch["endpoint"]
        self.expires_at = batch["expires_at"]
        self.owner = owner
        self.lines = lines
        self.mesh = mesh
        self.settings = settings
        self.store = store
        self.output = _ResultFile(store.scratch_path(self.batch_id))
        self.errors = _ResultFile(store.scratch_path(self.batch_id))
        self.usage = {"input_tokens": 0, "output_tokens": 0}
        self.cancelled = asyncio.Event()
        self.full = False  # its results outgrew the edge's file storage
        self._requests: set[asyncio.Task[None]] = set()
        self._answered: set[int] = set()

    def cancel(self) -> None:
        self.cancelled.set()
        for task in self._requests:
            task.cancel()

    def _progress(self) -> dict[str, Any]:
        counts = {"total": len(self.lines), "completed": self.output.lines, "failed": self.errors.lines}
        tokens = self.usage["input_tokens"] + self.usage["output_tokens"]
        usage = {
            **self.usage,
            "total_tokens": tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }
        return {"request_counts": counts, "usage": usage}

    async def run(self) -> None:
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            ending = await self._run_requests()
            heartbeat.cancel()
            await self._finish(ending)
        except asyncio.CancelledError:  # the edge is stopping
            await asyncio.shield(self.store.update_batch(self.batch_id, lost_batch({}, int(time.time()))))
            raise
        except Exception:
            log.exception("batch %s failed", self.batch_id)
            problem = {"code": "internal_error", "message": "internal error in the OpenAI edge; see its log"}
            failure = {
                "status": "failed",
                "failed_at": int(time.time()),
                "errors": {"object": "list", "data": [problem]},
            }
            try:
                await self.store.update_batch(self.batch_id, failure)
            except sqlite3.Error:  # it will read as lost once its heartbeat is stale
                log.exception("batch %s: its failure could not be written", self.batch_id)
        finally:
            heartbeat.cancel()
            for result in (self.output, self.errors):
                result.path.unlink(missing_ok=True)

    async def _heartbeat(self) -> None:
        """Writes the progress every BATCH_HEARTBEAT_SECONDS, and notices a cancel made through another edge. A write
        that fails (the database locked by another edge past its busy timeout, a full disk) is tried again at the
        next beat: the run goes on, and is read as lost only if no beat gets through for BATCH_STALE_SECONDS."""
        while True:
            await asyncio.sleep(BATCH_HEARTBEAT_SECONDS)
            try:
                batch = await self.store.update_batch(self.batch_id, self._progress())
            except sqlite3.Error as exc:
                log.warning("batch %s: its progress could not be written (%s); trying again", self.batch_id, exc)
                continue
            if batch is None or batch["status"] == "cancelling":
                self.cancel()

    def _stopping(self) -> str | None:
        if self.full:
            return "failed"
        if self.cancelled.is_set():
            return "cancelled"
        return "expired" if time.time() >= self.expires_at else None

    async def _run_requests(self) -> str:
        """Runs the requests; how the batch ends: completed, cancelled or expired."""
        gate = asyncio.Semaphore(self.settings.batch_concurrency)
        async with asyncio.TaskGroup() as group:
            for line in self.lines:
                await gate.acquire()
                if self._stopping():
                    gate.release()
                    break
                task = group.create_task(self._request(line))
                self._requests.add(task)
                task.add_done_callback(self._requests.discard)
                task.add_done_callback(lambda _: gate.release())  # also for a task cancelled before it started
        ending = self._stopping() or "completed"
        if ending in ("cancelled", "expired"):
            message = f"the batch was {ending} before this request ran"
            for line in self.lines:
                if line.number not in self._answered:
                    await self.errors.append(_not_run(line, f"batch_{ending}", message))
        return ending

    async def _request(self, line: BatchLine) -> None:
        status, body = await self._answer(line)
        self._answered.add(line.number)
        usage = body.get("usage") or {}
        self.usage["input_tokens"] += usage.get("prompt_tokens", 0)
        self.usage["output_tokens"] += usage.get("completion_tokens", 0)
        await (self.output if status == 200 else self.errors).append(_entry(line, status, body))
        if self.output.bytes + self.errors.bytes > self.settings.max_total_file_bytes and not self.full:
            self.full = True  # stop here: these results could never be kept
            self.cancel()

    async def _answer(self, line: BatchLine) -> tuple[int, dict[str, Any]]:
        model, handler = ENDPOINTS[self.endpoint]
        try:
            reply = await handler(model.model_validate(line_body(line)), self.mesh)
        except ValidationError as exc:
            error = from_validation_error(RequestValidationError(exc.errors()))
        except OpenAIError as exc:
            error = exc
        except MeshError as exc:
            error = from_mesh_error(exc)
        except Exception:  # a defect of the edge: this request fails, the batch goes on
            log.exception("unexpected error in request %r of batch %s", line.custom_id, self.batch_id)
            error = OpenAIError(500, "internal error in the OpenAI edge; see its log", code="internal_error")
        else:
            return 200, reply
        return error.status, error.body()

    async def _finish(self, ending: str) -> None:
        now = int(time.time())
        finalizing = {"status": "finalizing", "finalizing_at": now}
        if await self.store.update_batch(self.batch_id, finalizing, if_status=("in_progress",)) is None:
            # cancelled after its last request ended, but before this: it ends cancelled, as its caller was told
            if await self.store.update_batch(self.batch_id, finalizing, if_status=("cancelling",)) is None:
                return  # failed as lost meanwhile
            if ending != "failed":
                ending = "cancelled"
        final: dict[str, Any] = {"status": ending, f"{ending}_at": int(time.time()), **self._progress()}
        if ending == "failed":
            limit = self.settings.max_total_file_bytes
            problem = {
                "code": "storage_full",
                "message": f"the batch's results outgrew the edge's {limit} bytes of files",
            }
            await self.store.update_batch(self.batch_id, final | _errors(problem), if_status=("finalizing",))
            return
        try:
            for result, field, kind in (
                (self.output, "output_file_id", "output"),
                (self.errors, "error_file_id", "error"),
            ):
                if result.lines:
                    name = f"{self.batch_id}_{kind}.jsonl"
                    limit = self.settings.max_total_file_bytes
                    kept = await self.store.keep_file(self.owner, name, "batch_output", result.path, limit)
                    final[field] = kept.id
        except StorageFull as exc:
            problem = {"code": "storage_full", "message": f"the batch's results could not be kept: {exc}"}
            final = {"status": "failed", "failed_at": now} | _errors(problem)
        await self.store.update_batch(self.batch_id, final, if_status=("finalizing",))


class BatchRuns:
    """The runs of this edge process, by batch id; their tasks are in `tasks` (waited for on shutdown)."""

    def __init__(self, store: EdgeStore, settings: EdgeSettings, tasks: set[asyncio.Task[Any]]) -> None:
        self.store = store
        self.settings = settings
        self.tasks = tasks
        self._runs: dict[str, BatchRun] = {}

    @property
    def running(self) -> int:
        return len(self._runs)

    def start(self, batch: dict[str, Any], owner: str, lines: list[BatchLine], mesh: MeshCalls) -> None:
        run = BatchRun(self.store, self.settings, batch, owner, lines, mesh)
        self._runs[run.batch_id] = run
        task = asyncio.create_task(run.run())
        self.tasks.add(task)

        def ended(task: asyncio.Task[None]) -> None:
            self.tasks.discard(task)
            self._runs.pop(run.batch_id, None)

        task.add_done_callback(ended)

    def cancel(self, batch_id: str) -> None:
        """Cancels the run of a batch if this process runs it (another edge notices at its next heartbeat)."""
        run = self._runs.get(batch_id)
        if run is not None:
            run.cancel()
