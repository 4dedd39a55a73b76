"""/v1/vector_stores on the mesh's vector DBs: a vector store is a registered VectorDB (its id is the store's id),
its files are uploaded files chunked and embedded by tool_runtime's InsertDocuments (in the background: the file's
status goes in_progress -> completed or failed), and search is vector_io's QueryChunks. New attributes of a file are
written into its chunks by adding it again (vector_store_updates.py). Several files at once:
vector_store_file_batches.py.

Caps: at most MAX_FILE_IDS file_ids at creation, max_num_results 1..50, chunk sizes 100..4096 tokens, filters of
at most MAX_FILTERS `eq` comparisons (alone or under one `and`), a store's metadata and a file's attributes as OpenAI
caps them (metadata.py); a file's attributes may not use the names `ingest` and tool_runtime write into its chunks
(llama_mesh/openai_caps.py, RESERVED_ATTRIBUTES).
Extensions: `embedding_model` at creation (default: settings.vector_store_embedding_model) and `search_mode`
(vector, keyword or hybrid) in search.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import mimetypes
import time
import uuid
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, Field, model_validator

from llama.common.v1 import content_pb2, resources_pb2, retrieval_pb2
from llama.registry.v1 import registry_pb2
from llama.tool_runtime.v1 import tool_runtime_pb2
from llama.vector_io.v1 import vector_io_pb2
from services.openai_edge.calls import Mesh, MeshCalls, authenticated
from services.openai_edge.convert import struct
from services.openai_edge.errors import OpenAIError, bad_request, not_found
from services.openai_edge.json_body import JSONBodyRoute
from services.openai_edge.listing import list_page
from services.openai_edge.metadata import FileAttributes, Metadata
from services.openai_edge.routes.chat import MAX_NAME
from services.openai_edge.routes.files import Store, owned_file
from services.openai_edge.stores import EdgeStore, FileRecord, VectorStoreFileRecord, VectorStoreRecord, owner_of

log = logging.getLogger(__name__)
router = APIRouter(route_class=JSONBodyRoute, dependencies=[Depends(authenticated)])

MAX_FILE_IDS = 500
MAX_FILTERS = 16
MAX_QUERIES = 16
STORE_FIELDS = {"vector_db.embedding_model": "embedding_model", "vector_db.identifier": "vector_store_id"}
SEARCH_MODES = {
    "vector": retrieval_pb2.SEARCH_MODE_VECTOR,
    "keyword": retrieval_pb2.SEARCH_MODE_KEYWORD,
    "hybrid": retrieval_pb2.SEARCH_MODE_HYBRID,
}
# Document types tool_runtime reads; other files are read as plain text.
_DOCUMENT_TYPES = {"application/pdf", "text/html", "text/markdown", "text/plain"}


class StrictBody(BaseModel):
    """A request body that refuses parameters it does not know."""

    model_config = ConfigDict(extra="forbid")


class StaticChunking(StrictBody):
    max_chunk_size_tokens: int = Field(ge=100, le=4096)
    chunk_overlap_tokens: int = Field(ge=0)

    @model_validator(mode="after")
    def _overlap(self) -> StaticChunking:
        if self.chunk_overlap_tokens > self.max_chunk_size_tokens // 2:
            raise ValueError("chunk_overlap_tokens must be at most half of max_chunk_size_tokens")
        return self


class ChunkingStrategy(StrictBody):
    type: Literal["auto", "static"]
    static: StaticChunking | None = None

    @model_validator(mode="after")
    def _static_given(self) -> ChunkingStrategy:
        if self.type == "static" and self.static is None:
            raise ValueError("type static needs static.max_chunk_size_tokens and static.chunk_overlap_tokens")
        return self


class CreateVectorStore(StrictBody):
    name: str | None = Field(default=None, max_length=MAX_NAME)
    file_ids: list[str] | None = Field(default=None, max_length=MAX_FILE_IDS)
    metadata: Metadata | None = None
    chunking_strategy: ChunkingStrategy | None = None
    expires_after: dict[str, Any] | None = None
    embedding_model: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)

    @model_validator(mode="after")
    def _supported(self) -> CreateVectorStore:
        if self.expires_after is not None:
            raise bad_request("expires_after", "is not supported; delete the vector store instead")
        repeated = [file_id for file_id, count in Counter(self.file_ids or ()).items() if count > 1]
        if repeated:
            raise bad_request("file_ids", f"{repeated[0]!r} is given more than once")
        return self


class AddFile(StrictBody):
    file_id: str = Field(min_length=1, max_length=MAX_NAME)
    attributes: FileAttributes | None = None
    chunking_strategy: ChunkingStrategy | None = None


class Comparison(StrictBody):
    type: Literal["eq", "ne", "gt", "gte", "lt", "lte"]
    key: str = Field(min_length=1, max_length=MAX_NAME)
    value: str | float | bool


class Compound(StrictBody):
    type: Literal["and", "or"]
    filters: list[Comparison] = Field(min_length=1, max_length=MAX_FILTERS)


class RankingOptions(StrictBody):
    ranker: str | None = None
    score_threshold: float | None = None


class SearchRequest(StrictBody):
    query: str | list[str]
    max_num_results: int = Field(default=10, ge=1, le=50)
    filters: Comparison | Compound | None = None
    ranking_options: RankingOptions | None = None
    rewrite_query: bool = False
    search_mode: Literal["vector", "keyword", "hybrid"] | None = None

    @model_validator(mode="after")
    def _supported(self) -> SearchRequest:
        queries = [self.query] if isinstance(self.query, str) else self.query
        if not queries or not all(query.strip() for query in queries) or len(queries) > MAX_QUERIES:
            raise bad_request("query", f"give 1 to {MAX_QUERIES} non-empty queries")
        if self.rewrite_query:
            raise bad_request("rewrite_query", "is not supported")
        return self


def equality_filter(filters: Comparison | Compound | None, param: str = "filters") -> dict[str, Any]:
    """Only equality is supported by the mesh's metadata filters: one `eq`, or an `and` of them. `param` names the
    parameter in a refusal."""
    comparisons = [filters] if isinstance(filters, Comparison) else (filters.filters if filters else [])
    if isinstance(filters, Compound) and filters.type != "and":
        raise bad_request(f"{param}.type", "only 'and' of 'eq' comparisons is supported")
    if any(comparison.type != "eq" for comparison in comparisons):
        raise bad_request(param, "only 'eq' comparisons (alone or under one 'and') are supported")
    return {comparison.key: comparison.value for comparison in comparisons}


def _chunking(strategy: ChunkingStrategy | None, request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    if strategy is not None and strategy.static is not None:
        return {"type": "static", "static": strategy.static.model_dump()}
    static = {
        "max_chunk_size_tokens": settings.chunk_size_tokens,
        "chunk_overlap_tokens": settings.chunk_overlap_tokens,
    }
    return {"type": "static", "static": static}


def store_file_object(record: VectorStoreFileRecord) -> dict[str, Any]:
    return {
        "id": record.file_id,
        "object": "vector_store.file",
        "usage_bytes": record.usage_bytes,
        "created_at": record.created_at,
        "vector_store_id": record.vector_store_id,
        "status": record.status,
        "last_error": record.last_error,
        "attributes": record.attributes,
        "chunking_strategy": record.chunking,
    }


def file_counts(files: list[VectorStoreFileRecord]) -> dict[str, int]:
    """OpenAI's `file_counts` of a store or a batch: its files by status, and their total."""
    counts = {status: 0 for status in ("in_progress", "completed", "failed", "cancelled")}
    for item in files:
        counts[item.status] = counts.get(item.status, 0) + 1
    return {**counts, "total": len(files)}


@dataclass
class StoreFilesPage:
    """The query of a list of a store's files: OpenAI's page parameters and a status `filter`."""

    limit: int = 20
    order: Literal["asc", "desc"] = "desc"
    after: str | None = None
    before: str | None = None
    filter: Literal["in_progress", "completed", "failed", "cancelled"] | None = None

    def of(self, records: list[VectorStoreFileRecord]) -> dict[str, Any]:
        return list_page(
            records, store_file_object, limit=self.limit, order=self.order, after=self.after, before=self.before
        )


FilesPage = Annotated[StoreFilesPage, Depends()]


async def store_object(store: EdgeStore, record: VectorStoreRecord) -> dict[str, Any]:
    files = await store.store_files(record.id)
    counts = file_counts(files)
    return {
        "id": record.id,
        "object": "vector_store",
        "created_at": record.created_at,
        "name": record.name,
        "usage_bytes": sum(item.usage_bytes for item in files if item.status == "completed"),
        "file_counts": counts,
        "status": "in_progress" if counts["in_progress"] else "completed",
        "expires_after": None,
        "expires_at": None,
        "last_active_at": record.created_at,
        "metadata": record.metadata,
        "embedding_model": record.embedding_model,
    }


async def owned_store(store: EdgeStore, mesh: MeshCalls, store_id: str) -> VectorStoreRecord:
    record = await store.vector_store(owner_of(mesh.metadata), store_id)
    if record is None:
        raise not_found(f"no vector store {store_id!r}", "vector_store_id")
    return record


def _document_type(filename: str) -> str:
    guessed = mimetypes.guess_type(filename)[0] or "text/plain"
    return guessed if guessed in _DOCUMENT_TYPES else "text/plain"


async def ingest(store: EdgeStore, mesh: MeshCalls, record: VectorStoreFileRecord, filename: str, data: bytes) -> None:
    """Chunks and embeds one file into the store's vector DB, then records the outcome."""
    mime = _document_type(filename)
    static = record.chunking["static"]
    metadata = {**record.attributes, "file_id": record.file_id, "filename": filename}
    document = tool_runtime_pb2.RAGDocument(
        document_id=record.file_id,
        uri=f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}",
        mime_type=mime,
        metadata=struct(metadata),
    )
    request = tool_runtime_pb2.InsertDocumentsRequest(
        vector_db_id=record.vector_store_id,
        documents=[document],
        chunk_size_in_tokens=static["max_chunk_size_tokens"],
        chunk_overlap_in_tokens=static["chunk_overlap_tokens"],
    )
    try:
        await mesh.call(mesh.client.tool_runtime.InsertDocuments, request)
        record.status, record.usage_bytes = "completed", len(data)
    except OpenAIError as error:
        record.status, record.last_error = "failed", {"code": error.code or "server_error", "message": error.message}
    except Exception:
        log.exception("adding %s to %s failed", record.file_id, record.vector_store_id)
        record.status, record.last_error = "failed", {"code": "server_error", "message": "internal error"}
    if not await store.finish_store_file(record) and record.status == "completed":
        # Removed from the store while it was being added: its removal's DeleteChunks may have run before these
        # chunks landed, so they go now.
        try:
            await delete_chunks(mesh, record.vector_store_id, record.file_id)
        except OpenAIError as error:
            log.warning("removing the chunks of %s from %s failed: %s", record.file_id, record.vector_store_id, error)


async def delete_chunks(mesh: MeshCalls, store_id: str, file_id: str) -> None:
    request = vector_io_pb2.DeleteChunksRequest(vector_db_id=store_id, metadata_filter=struct({"document_id": file_id}))
    await mesh.call(mesh.client.vector_io.DeleteChunks, request)


async def addable_file(store: EdgeStore, mesh: MeshCalls, store_id: str, file_id: str, param: str) -> FileRecord:
    """The caller's file `file_id`, which is not yet in the store (404 / 409 naming `param` otherwise)."""
    file = await owned_file(store, mesh, file_id, param)
    if await store.store_file(store_id, file.id) is not None:
        raise already_in_store(store_id, param, file.id)
    return file


def already_in_store(store_id: str, param: str, file_id: str) -> OpenAIError:
    return OpenAIError(
        409,
        f"file {file_id!r} is already in vector store {store_id!r}",
        param=param,
        code="already_exists",
        headers={"x-should-retry": "false"},
    )


def new_store_file(request: Request, store_id: str, body: AddFile) -> VectorStoreFileRecord:
    """The record of a file being added to a store, with its attributes and chunking."""
    attributes = dict(body.attributes or {})
    chunking = _chunking(body.chunking_strategy, request)
    return VectorStoreFileRecord(store_id, body.file_id, "in_progress", None, 0, int(time.time()), attributes, chunking)


def in_background(request: Request, work: Coroutine[Any, Any, None]) -> None:
    """Runs `work` after the answer, as a task the edge waits for when it stops."""
    task = asyncio.create_task(work)
    tasks: set[asyncio.Task[None]] = request.app.state.tasks
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _add_file(
    request: Request, store: EdgeStore, mesh: MeshCalls, store_id: str, body: AddFile
) -> VectorStoreFileRecord:
    file = await addable_file(store, mesh, store_id, body.file_id, "file_id")
    record = new_store_file(request, store_id, body)
    await store.put_store_file(record)
    data = await store.file_content(file)
    in_background(request, ingest(store, mesh, record, file.filename, data))
    return record


@router.post("/vector_stores")
async def create_vector_store(
    body: CreateVectorStore,
    request: Request,
    mesh: Mesh,
    store: Store,
) -> dict[str, Any]:
    model = body.embedding_model or request.app.state.settings.vector_store_embedding_model
    if not model:
        raise bad_request("embedding_model", "is required: this edge has no default vector_store_embedding_model")
    for file_id in body.file_ids or ():
        await owned_file(store, mesh, file_id, "file_ids")
    store_id = f"vs_{uuid.uuid4().hex}"
    vector_db = resources_pb2.VectorDB(
        identifier=store_id, embedding_model=model, metadata=struct({"name": body.name or ""})
    )
    await mesh.call(
        mesh.client.registry.RegisterVectorDB, registry_pb2.RegisterVectorDBRequest(vector_db=vector_db), STORE_FIELDS
    )
    record = VectorStoreRecord(
        store_id, owner_of(mesh.metadata), body.name or "", int(time.time()), body.metadata or {}, model
    )
    await store.add_vector_store(record)
    for file_id in body.file_ids or ():
        await _add_file(
            request, store, mesh, store_id, AddFile(file_id=file_id, chunking_strategy=body.chunking_strategy)
        )
    return await store_object(store, record)


@router.get("/vector_stores")
async def list_vector_stores(
    mesh: Mesh,
    store: Store,
    limit: int = 20,
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    records = await store.vector_stores(owner_of(mesh.metadata))
    objects = {record.id: await store_object(store, record) for record in records}
    return list_page(records, lambda record: objects[record.id], limit=limit, order=order, after=after, before=before)


@router.get("/vector_stores/{store_id}")
async def get_vector_store(store_id: str, mesh: Mesh, store: Store) -> dict[str, Any]:
    return await store_object(store, await owned_store(store, mesh, store_id))


@router.delete("/vector_stores/{store_id}")
async def delete_vector_store(store_id: str, mesh: Mesh, store: Store) -> dict[str, Any]:
    record = await owned_store(store, mesh, store_id)
    try:
        await mesh.call(
            mesh.client.registry.UnregisterVectorDB, registry_pb2.UnregisterVectorDBRequest(vector_db_id=record.id)
        )
    except OpenAIError as error:
        if error.status != 404:  # already gone from the registry: forget the record all the same
            raise
    await store.delete_vector_store(record.id)
    return {"id": record.id, "object": "vector_store.deleted", "deleted": True}


@router.post("/vector_stores/{store_id}/files")
async def add_vector_store_file(
    store_id: str,
    body: AddFile,
    request: Request,
    mesh: Mesh,
    store: Store,
) -> dict[str, Any]:
    await owned_store(store, mesh, store_id)
    return store_file_object(await _add_file(request, store, mesh, store_id, body))


@router.get("/vector_stores/{store_id}/files")
async def list_vector_store_files(store_id: str, page: FilesPage, mesh: Mesh, store: Store) -> dict[str, Any]:
    await owned_store(store, mesh, store_id)
    return page.of(await store.store_files(store_id, page.filter))


async def owned_store_file(store: EdgeStore, mesh: MeshCalls, store_id: str, file_id: str) -> VectorStoreFileRecord:
    await owned_store(store, mesh, store_id)
    record = await store.store_file(store_id, file_id)
    if record is None:
        raise not_found(f"no file {file_id!r} in vector store {store_id!r}", "file_id")
    return record


@router.get("/vector_stores/{store_id}/files/{file_id}")
async def get_vector_store_file(store_id: str, file_id: str, mesh: Mesh, store: Store) -> dict[str, Any]:
    return store_file_object(await owned_store_file(store, mesh, store_id, file_id))


@router.delete("/vector_stores/{store_id}/files/{file_id}")
async def delete_vector_store_file(store_id: str, file_id: str, mesh: Mesh, store: Store) -> dict[str, Any]:
    record = await owned_store_file(store, mesh, store_id, file_id)
    await store.delete_store_file(store_id, file_id)
    await delete_chunks(mesh, store_id, record.file_id)
    return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}


@router.post("/vector_stores/{store_id}/search")
async def search_vector_store(store_id: str, body: SearchRequest, mesh: Mesh, store: Store) -> dict[str, Any]:
    await owned_store(store, mesh, store_id)
    query = body.query if isinstance(body.query, str) else " ".join(body.query)
    params = vector_io_pb2.QueryParams(
        max_chunks=body.max_num_results, metadata_filter=struct(equality_filter(body.filters))
    )
    if body.search_mode:
        params.mode = SEARCH_MODES[body.search_mode]
    if body.ranking_options is not None and body.ranking_options.score_threshold is not None:
        params.score_threshold = body.ranking_options.score_threshold
    reply = await mesh.call(
        mesh.client.vector_io.QueryChunks,
        vector_io_pb2.QueryChunksRequest(vector_db_id=store_id, query=content_pb2.Content(text=query), params=params),
        {"params.metadata_filter": "filters", "params": "ranking_options", "query": "query"},
    )
    attributes = {record.file_id: record.attributes for record in await store.store_files(store_id)}
    results = []
    for chunk, score in zip(reply.chunks, reply.scores, strict=False):
        metadata = json_format.MessageToDict(chunk.metadata)
        file_id = str(metadata.get("file_id", metadata.get("document_id", "")))
        text = (
            chunk.content.text
            if chunk.content.WhichOneof("value") == "text"
            else "".join(item.text for item in chunk.content.items.items)
        )
        results.append(
            {
                "file_id": file_id,
                "filename": str(metadata.get("filename", "")),
                "score": score,
                "attributes": attributes.get(file_id, {}),
                "content": [{"type": "text", "text": text}],
            }
        )
    return {
        "object": "vector_store.search_results.page",
        "search_query": query,
        "data": results,
        "has_more": False,
        "next_page": None,
    }
