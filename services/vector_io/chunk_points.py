"""What both Qdrant engines store for a chunk: a point id derived from the chunk id and the payload (chunk id,
searchable text, content, metadata). The collection a vector DB is kept in is llama_mesh.resources.collection_name: the
registry compares registrations by it."""

from __future__ import annotations

import uuid
from typing import Any

from services.vector_io.provider import StoredChunk

# Point ids must be UUIDs or integers: a chunk id maps to a UUIDv5 in this namespace; the id itself is in the payload.
CHUNK_ID_NAMESPACE = uuid.UUID("6f0c3c8e-5b7a-4e43-9a53-3b1f6a0c2d11")
# The payload field holding the chunk's text, with a BM25-scored full-text index on it.
TEXT_FIELD = "text"
# Each side of a hybrid search fetches this many times the final limit before fusion.
HYBRID_OVERFETCH = 3
# The rank constant of reciprocal rank fusion: Qdrant's default (server and qdrant-client local mode), so the edge
# engine fuses to the same scores.
RRF_K = 2


def point_id(chunk_id: str) -> str:
    return str(uuid.uuid5(CHUNK_ID_NAMESPACE, chunk_id))


def chunk_payload(chunk: StoredChunk) -> dict[str, Any]:
    return {"chunk_id": chunk.chunk_id, TEXT_FIELD: chunk.text, "content": chunk.content, "metadata": chunk.metadata}


def stored_chunk(payload: dict[str, Any] | None) -> StoredChunk:
    payload = payload or {}
    return StoredChunk(
        chunk_id=str(payload.get("chunk_id", "")),
        text=str(payload.get(TEXT_FIELD, "")),
        content=payload.get("content") or {},
        metadata=payload.get("metadata") or {},
    )


def metadata_path(key: str) -> str:
    """Where a metadata filter key lives in the payload."""
    return f"metadata.{key}"
