"""Changes to a vector store (`name`, `metadata`; `expires_after` is refused) and to a file in one (`attributes`). A
file's attributes are also in its chunks, which search filters on, so new ones are written by chunking and embedding
the file again (in the background, as when it was added): its status is in_progress until then, and a file still
in_progress cannot be changed (409).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field, model_validator

from services.openai_edge.calls import Mesh, authenticated
from services.openai_edge.errors import OpenAIError, bad_request
from services.openai_edge.json_body import JSONBodyRoute
from services.openai_edge.metadata import FileAttributes, Metadata
from services.openai_edge.routes.chat import MAX_NAME
from services.openai_edge.routes.files import Store, owned_file
from services.openai_edge.routes.vector_stores import (
    StrictBody,
    delete_chunks,
    in_background,
    ingest,
    owned_store,
    owned_store_file,
    store_file_object,
    store_object,
)

router = APIRouter(route_class=JSONBodyRoute, dependencies=[Depends(authenticated)])


class UpdateVectorStore(StrictBody):
    """What changes (a parameter left out or null stays as it is)."""

    name: str | None = Field(default=None, max_length=MAX_NAME)
    metadata: Metadata | None = None
    expires_after: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _supported(self) -> UpdateVectorStore:
        if self.expires_after is not None:
            raise bad_request("expires_after", "is not supported; delete the vector store instead")
        return self


class UpdateFileAttributes(StrictBody):
    attributes: FileAttributes | None


@router.post("/vector_stores/{store_id}")
async def update_vector_store(store_id: str, body: UpdateVectorStore, mesh: Mesh, store: Store) -> dict[str, Any]:
    record = await owned_store(store, mesh, store_id)
    record.name = body.name if body.name is not None else record.name
    record.metadata = body.metadata if body.metadata is not None else record.metadata
    await store.update_vector_store(record)
    return await store_object(store, record)


@router.post("/vector_stores/{store_id}/files/{file_id}")
async def update_vector_store_file(
    store_id: str, file_id: str, body: UpdateFileAttributes, request: Request, mesh: Mesh, store: Store
) -> dict[str, Any]:
    """New attributes are in the file's chunks (which search filters), so the file is chunked and embedded again:
    its status is in_progress until then."""
    record = await owned_store_file(store, mesh, store_id, file_id)
    if record.status == "in_progress":
        raise _still_adding(store_id, file_id)
    file = await owned_file(store, mesh, file_id)
    data = await store.file_content(file)
    record.attributes = dict(body.attributes or {})
    record.status, record.last_error, record.usage_bytes = "in_progress", None, 0
    await delete_chunks(mesh, store_id, file_id)
    if not await store.restart_store_file(record):  # being added again, or removed, since it was read
        raise _still_adding(store_id, file_id)
    in_background(request, ingest(store, mesh, record, file.filename, data))
    return store_file_object(record)


def _still_adding(store_id: str, file_id: str) -> OpenAIError:
    message = (
        f"file {file_id!r} is being added to vector store {store_id!r}; update it once its status is not in_progress"
    )
    return OpenAIError(409, message, param="file_id", code="file_in_progress", headers={"x-should-retry": "false"})
