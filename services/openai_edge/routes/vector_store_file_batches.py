"""/v1/vector_stores/{id}/file_batches: several files added to a vector store at once (what the SDK's
`file_batches.create_and_poll` and `upload_and_poll` call). A batch is its list of files; its status and
`file_counts` are read from their records: in_progress while any file is, then cancelled if any was cancelled, failed
if every file failed, else completed. Its files are added one at a time in the background, as vector_stores.py adds
one file; cancel cancels those not yet added (one being added has its chunks removed when its insert ends).

Caps: at most MAX_FILE_IDS files per batch, each the caller's and given once; a batch that names a file of another
token, an unknown file, a file twice or a file already in the store is refused before anything is created.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field, model_validator

from services.openai_edge.calls import Mesh, MeshCalls, authenticated
from services.openai_edge.errors import bad_request, not_found
from services.openai_edge.json_body import JSONBodyRoute
from services.openai_edge.metadata import FileAttributes
from services.openai_edge.routes.chat import MAX_NAME
from services.openai_edge.routes.files import Store
from services.openai_edge.routes.vector_stores import (
    MAX_FILE_IDS,
    AddFile,
    ChunkingStrategy,
    FilesPage,
    StrictBody,
    addable_file,
    already_in_store,
    file_counts,
    in_background,
    ingest,
    new_store_file,
    owned_store,
)
from services.openai_edge.stores import EdgeStore, FileRecord, VectorStoreFileBatchRecord, VectorStoreFileRecord

router = APIRouter(route_class=JSONBodyRoute, dependencies=[Depends(authenticated)])

FileId = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]


class CreateFileBatch(StrictBody):
    file_ids: list[FileId] | None = Field(default=None, min_length=1, max_length=MAX_FILE_IDS)
    files: list[AddFile] | None = Field(default=None, min_length=1, max_length=MAX_FILE_IDS)
    attributes: FileAttributes | None = None
    chunking_strategy: ChunkingStrategy | None = None

    @model_validator(mode="after")
    def _one_list(self) -> CreateFileBatch:
        if (self.file_ids is None) == (self.files is None):
            raise bad_request("file_ids", "give either file_ids or files (each file with its own attributes)")
        if self.files is not None and (self.attributes is not None or self.chunking_strategy is not None):
            param = "attributes" if self.attributes is not None else "chunking_strategy"
            raise bad_request(param, "with files, give it for each file in files")
        param = "file_ids" if self.file_ids is not None else "files"
        repeated = [file_id for file_id, count in Counter(item.file_id for item in self.entries()).items() if count > 1]
        if repeated:
            raise bad_request(param, f"{repeated[0]!r} is given more than once")
        return self

    def entries(self) -> list[AddFile]:
        """The files to add, each with its attributes and chunking."""
        if self.files is not None:
            return self.files
        shared = {"attributes": self.attributes, "chunking_strategy": self.chunking_strategy}
        return [AddFile(file_id=file_id, **shared) for file_id in self.file_ids or ()]


def batch_object(batch: VectorStoreFileBatchRecord, files: list[VectorStoreFileRecord]) -> dict[str, Any]:
    counts = file_counts(files)
    if counts["in_progress"]:
        status = "in_progress"
    elif counts["cancelled"]:
        status = "cancelled"
    elif counts["failed"] and counts["failed"] == counts["total"]:
        status = "failed"
    else:
        status = "completed"
    return {
        "id": batch.id,
        "object": "vector_store.files_batch",
        "created_at": batch.created_at,
        "vector_store_id": batch.vector_store_id,
        "status": status,
        "file_counts": counts,
    }


async def _batch_files(
    store: EdgeStore, batch: VectorStoreFileBatchRecord, status: str | None = None
) -> list[VectorStoreFileRecord]:
    """The records of the batch's files still in the store (a file removed from it leaves its batches too)."""
    members = set(batch.file_ids)
    return [record for record in await store.store_files(batch.vector_store_id, status) if record.file_id in members]


async def _owned_batch(store: EdgeStore, mesh: MeshCalls, store_id: str, batch_id: str) -> VectorStoreFileBatchRecord:
    await owned_store(store, mesh, store_id)
    batch = await store.file_batch(store_id, batch_id)
    if batch is None:
        raise not_found(f"no file batch {batch_id!r} in vector store {store_id!r}", "batch_id")
    return batch


async def _add_one_at_a_time(
    store: EdgeStore, mesh: MeshCalls, batch_id: str, added: list[tuple[VectorStoreFileRecord, FileRecord]]
) -> None:
    for record, file in added:
        batch = await store.file_batch(record.vector_store_id, batch_id)
        if batch is None or batch.cancelled:
            return  # cancelled, or its store deleted
        current = await store.store_file(record.vector_store_id, record.file_id)
        if record.file_id not in batch.file_ids or current is None or current.status != "in_progress":
            continue  # removed from the store (and maybe added again on its own) before its turn
        try:
            data = await store.file_content(file)
        except FileNotFoundError:
            record.status = "failed"
            record.last_error = {
                "code": "file_not_found",
                "message": f"file {file.id!r} was deleted before it was added",
            }
            await store.finish_store_file(record)
            continue
        await ingest(store, mesh, record, file.filename, data)


@router.post("/vector_stores/{store_id}/file_batches")
async def create_file_batch(
    store_id: str, body: CreateFileBatch, request: Request, mesh: Mesh, store: Store
) -> dict[str, Any]:
    await owned_store(store, mesh, store_id)
    param = "file_ids" if body.file_ids is not None else "files"
    entries = body.entries()
    files = [await addable_file(store, mesh, store_id, entry.file_id, param) for entry in entries]
    records = [new_store_file(request, store_id, entry) for entry in entries]
    batch = VectorStoreFileBatchRecord(
        f"vsfb_{uuid.uuid4().hex}", store_id, int(time.time()), [entry.file_id for entry in entries]
    )
    if not await store.add_file_batch(batch, records):  # a file was added to the store since it was checked
        in_store = {record.file_id for record in await store.store_files(store_id)}
        taken = [entry.file_id for entry in entries if entry.file_id in in_store]
        raise already_in_store(store_id, param, taken[0] if taken else entries[0].file_id)
    in_background(request, _add_one_at_a_time(store, mesh, batch.id, list(zip(records, files, strict=True))))
    return batch_object(batch, records)


@router.get("/vector_stores/{store_id}/file_batches/{batch_id}")
async def get_file_batch(store_id: str, batch_id: str, mesh: Mesh, store: Store) -> dict[str, Any]:
    batch = await _owned_batch(store, mesh, store_id, batch_id)
    return batch_object(batch, await _batch_files(store, batch))


@router.post("/vector_stores/{store_id}/file_batches/{batch_id}/cancel")
async def cancel_file_batch(store_id: str, batch_id: str, mesh: Mesh, store: Store) -> dict[str, Any]:
    """Cancels the batch's files still being added; a batch with none is answered as it is."""
    batch = await _owned_batch(store, mesh, store_id, batch_id)
    await store.cancel_file_batch(batch)
    return batch_object(batch, await _batch_files(store, batch))


@router.get("/vector_stores/{store_id}/file_batches/{batch_id}/files")
async def list_file_batch_files(
    store_id: str, batch_id: str, page: FilesPage, mesh: Mesh, store: Store
) -> dict[str, Any]:
    batch = await _owned_batch(store, mesh, store_id, batch_id)
    return page.of(await _batch_files(store, batch, page.filter))
