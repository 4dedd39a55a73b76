"""/v1/batches: OpenAI's Batch API on the edge. A batch runs the requests of an uploaded JSONL file (purpose `batch`)
against one endpoint (chat completions, completions or embeddings) in the background, and keeps their answers as
an output file and an error file (purpose `batch_output`) of the token that created it; that token alone sees the
batch. Caps: settings.max_batch_requests requests per file, each line at most settings.max_request_bytes,
settings.batch_concurrency at a time, metadata as OpenAI caps it (metadata.py). How a batch runs and ends:
batch_runs.py; the input file: batch_input.py.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from services.openai_edge.batch_input import read_lines
from services.openai_edge.batch_runs import ENDPOINTS, BatchRuns
from services.openai_edge.calls import Mesh, MeshCalls, authenticated
from services.openai_edge.errors import OpenAIError, bad_request, not_found
from services.openai_edge.json_body import JSONBodyRoute
from services.openai_edge.listing import list_page
from services.openai_edge.metadata import Metadata
from services.openai_edge.routes.chat import MAX_NAME
from services.openai_edge.routes.files import Store, owned_file
from services.openai_edge.stores import EdgeStore, owner_of

router = APIRouter(route_class=JSONBodyRoute, dependencies=[Depends(authenticated)])

COMPLETION_WINDOW_SECONDS = 24 * 3600
CANCELLABLE = ("validating", "in_progress")


class CreateBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_file_id: str = Field(min_length=1, max_length=MAX_NAME)
    endpoint: str = Field(min_length=1, max_length=MAX_NAME)
    completion_window: Literal["24h"]
    metadata: Metadata | None = None


def _new_batch(body: CreateBatch, problems: list[dict[str, Any]], total: int, model: str | None) -> dict[str, Any]:
    now = int(time.time())
    batch: dict[str, Any] = {
        "id": f"batch_{uuid.uuid4().hex}",
        "object": "batch",
        "endpoint": body.endpoint,
        "model": model,
        "errors": None,
        "input_file_id": body.input_file_id,
        "completion_window": body.completion_window,
        "status": "in_progress",
        "output_file_id": None,
        "error_file_id": None,
        "created_at": now,
        "in_progress_at": now,
        "expires_at": now + COMPLETION_WINDOW_SECONDS,
        "finalizing_at": None,
        "completed_at": None,
        "failed_at": None,
        "expired_at": None,
        "cancelling_at": None,
        "cancelled_at": None,
        "request_counts": {"total": total, "completed": 0, "failed": 0},
        "usage": None,
        "metadata": body.metadata,
    }
    if problems:
        batch |= {"status": "failed", "in_progress_at": None, "failed_at": now}
        batch["errors"] = {"object": "list", "data": problems}
    return batch


def batch_runs(request: Request) -> BatchRuns:
    return request.app.state.batch_runs


Runs = Annotated[BatchRuns, Depends(batch_runs)]


async def _owned_batch(store: EdgeStore, mesh: MeshCalls, batch_id: str) -> dict[str, Any]:
    batch = await store.batch(owner_of(mesh.metadata), batch_id)
    if batch is None:
        raise not_found(f"no batch {batch_id!r}", "batch_id")
    return batch


@router.post("/batches")
async def create_batch(body: CreateBatch, request: Request, mesh: Mesh, store: Store, runs: Runs) -> dict[str, Any]:
    if body.endpoint not in ENDPOINTS:
        raise bad_request("endpoint", f"must be one of {', '.join(ENDPOINTS)}, got {body.endpoint!r}")
    settings = request.app.state.settings
    if runs.running >= settings.max_running_batches:
        message = f"this edge runs {runs.running} batches, its most (max_running_batches); wait for one to end"
        raise OpenAIError(429, message, code="too_many_batches")
    owner = owner_of(mesh.metadata)
    file = await owned_file(store, mesh, body.input_file_id, "input_file_id")
    if file.purpose != "batch":
        raise bad_request(
            "input_file_id", f"file {file.id!r} has purpose {file.purpose!r}; upload the batch's input with 'batch'"
        )
    data = await store.file_content(file)
    lines, problems = await asyncio.to_thread(
        read_lines, data, body.endpoint, settings.max_batch_requests, settings.max_request_bytes
    )
    models = {line.model for line in lines} if not problems else set()
    batch = _new_batch(body, problems, 0 if problems else len(lines), models.pop() if len(models) == 1 else None)
    await store.add_batch(owner, batch, keep=settings.max_kept_batches)
    if not problems:
        runs.start(batch, owner, lines, mesh)
    return batch


@router.get("/batches")
async def list_batches(mesh: Mesh, store: Store, limit: int = 20, after: str | None = None) -> dict[str, Any]:
    batches = await store.batches(owner_of(mesh.metadata))
    return list_page(batches, dict, limit=limit, order="desc", after=after)


@router.get("/batches/{batch_id}")
async def get_batch(batch_id: str, mesh: Mesh, store: Store) -> dict[str, Any]:
    return await _owned_batch(store, mesh, batch_id)


@router.post("/batches/{batch_id}/cancel")
async def cancel_batch(batch_id: str, mesh: Mesh, store: Store, runs: Runs) -> dict[str, Any]:
    batch = await _owned_batch(store, mesh, batch_id)
    cancelling = {"status": "cancelling", "cancelling_at": int(time.time())}
    updated = await store.update_batch(batch_id, cancelling, if_status=CANCELLABLE)
    if updated is None:
        batch = await _owned_batch(store, mesh, batch_id)
        message = f"batch {batch_id!r} is {batch['status']}; only a batch in progress can be cancelled"
        raise OpenAIError(409, message, code="batch_not_cancellable", headers={"x-should-retry": "false"})
    runs.cancel(batch_id)
    return updated
