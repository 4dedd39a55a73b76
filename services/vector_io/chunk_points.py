"""What both Qdrant engines store for a chunk: a point id derived from the chunk id, a collection name Qdrant accepts,
and the payload (chunk id, searchable text, content, metadata)."""

from __future__ import annotations

import hashlib
import re
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
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,200}")


def point_id(chunk_id: str) -> str:
    return str(uuid.uuid5(CHUNK_ID_NAMESPACE, chunk_id))


def collection_name(provider_resource_id: str) -> str:
    """Qdrant allows fewer characters in names than the registry does in identifiers: others are replaced, with a
    short hash of the original keeping the names distinct ("." and ".." are refused too)."""
    if _SAFE_NAME.fullmatch(provider_resource_id) and provider_resource_id.strip("."):
        return provider_resource_id
    digest = hashlib.sha256(provider_resource_id.encode()).hexdigest()[:10]
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', provider_resource_id)[:180]}-{digest}"


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
