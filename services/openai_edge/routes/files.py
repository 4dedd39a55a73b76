"""/v1/files: uploads kept by the edge under its data directory (settings.max_file_bytes each, max_total_file_bytes
in all), listed, read back and deleted by the token that uploaded them; the gateway authenticates that token first."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from services.openai_edge.calls import Mesh, MeshCalls, authenticated
from services.openai_edge.errors import OpenAIError, bad_request, not_found
from services.openai_edge.json_body import JSONBodyRoute
from services.openai_edge.listing import list_page
from services.openai_edge.stores import EdgeStore, FileRecord, StorageFull, owner_of

router = APIRouter(route_class=JSONBodyRoute, dependencies=[Depends(authenticated)])

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
MAX_FILENAME = 255


def file_object(record: FileRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "object": "file",
        "bytes": record.bytes,
        "created_at": record.created_at,
        "filename": record.filename,
        "purpose": record.purpose,
        "status": "processed",
        "expires_at": None,
    }


def edge_store(request: Request) -> EdgeStore:
    return request.app.state.store


Store = Annotated[EdgeStore, Depends(edge_store)]


async def owned_file(store: EdgeStore, mesh: MeshCalls, file_id: str, param: str = "file_id") -> FileRecord:
    record = await store.file(owner_of(mesh.metadata), file_id)
    if record is None:
        raise not_found(f"no file {file_id!r}", param)
    return record


@router.post("/files")
async def upload_file(
    request: Request,
    file: Annotated[UploadFile, File()],
    purpose: Annotated[str, Form()],
    mesh: Mesh,
    store: Store,
) -> dict[str, Any]:
    settings = request.app.state.settings
    if purpose not in PURPOSES:
        raise bad_request("purpose", f"must be one of {', '.join(PURPOSES)}, got {purpose!r}")
    filename = (file.filename or "upload").rsplit("/", 1)[-1][:MAX_FILENAME]
    data = await file.read(settings.max_file_bytes + 1)
    if len(data) > settings.max_file_bytes:
        raise OpenAIError(
            413, f"file: at most {settings.max_file_bytes} bytes per file", param="file", code="too_large"
        )
    if not data:
        raise bad_request("file", "is empty")
    try:
        record = await store.save_file(owner_of(mesh.metadata), filename, purpose, data, settings.max_total_file_bytes)
    except StorageFull as exc:
        raise OpenAIError(429, str(exc), code="storage_full") from exc
    return file_object(record)


@router.get("/files")
async def list_files(
    mesh: Mesh,
    store: Store,
    purpose: str | None = None,
    limit: int = 100,
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
) -> dict[str, Any]:
    records = await store.files(owner_of(mesh.metadata), purpose)
    return list_page(records, file_object, limit=limit, order=order, after=after)


@router.get("/files/{file_id}")
async def get_file(file_id: str, mesh: Mesh, store: Store) -> dict[str, Any]:
    return file_object(await owned_file(store, mesh, file_id))


@router.get("/files/{file_id}/content")
async def file_content(file_id: str, mesh: Mesh, store: Store) -> Response:
    record = await owned_file(store, mesh, file_id)
    return Response(await store.file_content(record), media_type="application/octet-stream")


@router.delete("/files/{file_id}")
async def delete_file(file_id: str, mesh: Mesh, store: Store) -> dict[str, Any]:
    record = await owned_file(store, mesh, file_id)
    await store.delete_file(record)
    return {"id": record.id, "object": "file", "deleted": True}
