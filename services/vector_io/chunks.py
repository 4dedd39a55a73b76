"""Between the protobuf messages of llama.vector_io.v1 and the store's plain objects, with request validation."""

from __future__ import annotations

import json
import math
import re
import uuid

from google.protobuf import json_format, struct_pb2

from llama.common.v1 import content_pb2, retrieval_pb2
from llama.vector_io.v1 import vector_io_pb2 as pb
from llama_mesh.runtime.errors import InvalidArgument
from llama_mesh.runtime.struct_values import struct_dict
from services.vector_io.provider import ChunkHit, MetadataFilter, SearchMode, StoredChunk

MAX_CHUNKS_PER_INSERT = 10_000
MAX_CHUNK_IDS_PER_DELETE = 10_000
# Keys of a metadata filter (query or delete): each is a condition every candidate chunk is checked against.
MAX_FILTER_KEYS = 64
DEFAULT_MAX_CHUNKS = 10
MAX_MAX_CHUNKS = 1000
# Values in a QueryChunksRequest.query_vector: Qdrant's largest dense vector.
MAX_QUERY_VECTOR = 65_536
# Namespace of the chunk ids the service assigns (from document_id and content).
ASSIGNED_ID_NAMESPACE = uuid.UUID("0d5c7a51-2f0e-4d8e-b6a4-74c1c3f1e9a2")
_FILTER_KEY = re.compile(r"[A-Za-z0-9_\-]{1,128}")

SEARCH_MODES = {
    retrieval_pb2.SEARCH_MODE_UNSPECIFIED: SearchMode.VECTOR,
    retrieval_pb2.SEARCH_MODE_VECTOR: SearchMode.VECTOR,
    retrieval_pb2.SEARCH_MODE_KEYWORD: SearchMode.KEYWORD,
    retrieval_pb2.SEARCH_MODE_HYBRID: SearchMode.HYBRID,
}


def content_text(content: content_pb2.Content) -> tuple[str, bool]:
    """The text of a content (text items joined with spaces) and whether it also holds images."""
    if content.WhichOneof("value") == "text":
        return content.text, False
    texts = [item.text for item in content.items.items if item.WhichOneof("item") == "text"]
    has_images = any(item.WhichOneof("item") == "image" for item in content.items.items)
    return " ".join(texts), has_images


def metadata_filter(struct: struct_pb2.Struct, field: str) -> MetadataFilter:
    """Equality filters: top-level keys with string, number or boolean values."""
    if len(struct.fields) > MAX_FILTER_KEYS:
        raise InvalidArgument(field, f"at most {MAX_FILTER_KEYS} keys, got {len(struct.fields)}")
    result: MetadataFilter = {}
    for key, value in struct.fields.items():
        kind = value.WhichOneof("kind")
        if not _FILTER_KEY.fullmatch(key):
            raise InvalidArgument(f"{field}.{key}", "filter keys are letters, digits, '_' and '-'")
        if kind == "string_value":
            result[key] = value.string_value
        elif kind == "bool_value":
            result[key] = value.bool_value
        elif kind == "number_value":
            result[key] = value.number_value
        else:
            raise InvalidArgument(f"{field}.{key}", "only strings, numbers and booleans can be matched")
    return result


def chunk_ids_to_delete(request: pb.DeleteChunksRequest) -> list[str]:
    if len(request.chunk_ids) > MAX_CHUNK_IDS_PER_DELETE:
        raise InvalidArgument("chunk_ids", f"at most {MAX_CHUNK_IDS_PER_DELETE} per call, got {len(request.chunk_ids)}")
    return list(request.chunk_ids)


def assigned_chunk_id(chunk: pb.Chunk) -> str:
    """Same document and content: same id, so inserting a chunk twice replaces it."""
    document_id = chunk.metadata.fields.get("document_id")
    key = json.dumps(
        [
            json_format.MessageToDict(document_id) if document_id is not None else None,
            json_format.MessageToDict(chunk.content),
        ],
        sort_keys=True,
    )
    return str(uuid.uuid5(ASSIGNED_ID_NAMESPACE, key))


def stored_chunks(request: pb.InsertChunksRequest, dimension: int) -> tuple[list[StoredChunk], list[int]]:
    """The chunks to store, and the indexes of those that need an embedding computed. Checks everything before
    anything is embedded or written, so a refused request changes nothing."""
    if not request.chunks:
        raise InvalidArgument("chunks", "at least one chunk is required")
    if len(request.chunks) > MAX_CHUNKS_PER_INSERT:
        raise InvalidArgument("chunks", f"at most {MAX_CHUNKS_PER_INSERT} per call, got {len(request.chunks)}")
    chunks: list[StoredChunk] = []
    to_embed: list[int] = []
    for index, chunk in enumerate(request.chunks):
        field = f"chunks[{index}]"
        text, has_images = content_text(chunk.content)
        if not text.strip() and not has_images:
            raise InvalidArgument(f"{field}.content", "is required")
        if chunk.embedding and len(chunk.embedding) != dimension:
            raise InvalidArgument(
                f"{field}.embedding",
                f"has {len(chunk.embedding)} values; vector DB {request.vector_db_id!r} stores {dimension}-d vectors",
            )
        for position, value in enumerate(chunk.embedding):
            if not math.isfinite(value):
                raise InvalidArgument(f"{field}.embedding[{position}]", f"must be a finite number, got {value}")
        metadata = struct_dict(chunk.metadata, f"{field}.metadata")  # before its document_id makes the chunk id
        if not chunk.embedding:
            if has_images or not text.strip():
                raise InvalidArgument(
                    f"{field}.embedding", "is required for content with images (the embedding model takes text)"
                )
            to_embed.append(index)
        chunks.append(
            StoredChunk(
                chunk_id=chunk.chunk_id or assigned_chunk_id(chunk),
                text=text,
                content=json_format.MessageToDict(chunk.content),
                metadata=metadata,
                embedding=list(chunk.embedding),
            )
        )
    return chunks, to_embed


def query_vector(request: pb.QueryChunksRequest, dimension: int) -> list[float] | None:
    """The caller's precomputed query embedding, checked against the vector DB; None when it gave none."""
    values = request.query_vector
    if not values:
        return None
    if len(values) > MAX_QUERY_VECTOR:
        raise InvalidArgument("query_vector", f"has {len(values)} values; at most {MAX_QUERY_VECTOR}")
    if len(values) != dimension:
        raise InvalidArgument(
            "query_vector",
            f"has {len(values)} values; vector DB {request.vector_db_id!r} stores {dimension}-d vectors",
        )
    vector = list(values)
    for index, value in enumerate(vector):
        if not math.isfinite(value):
            raise InvalidArgument(f"query_vector[{index}]", f"must be a finite number, got {value}")
    if not any(vector):
        raise InvalidArgument("query_vector", "is all zeros; cosine similarity needs a direction")
    return vector


def query_text(request: pb.QueryChunksRequest, mode: SearchMode, has_vector: bool) -> str:
    """The query's text; "" for a vector search by query_vector. Which of query and query_vector each mode takes is
    in the proto's QueryChunksRequest comment."""
    text, has_images = content_text(request.query)
    given = bool(text.strip()) or has_images
    if has_vector and mode is SearchMode.KEYWORD:
        raise InvalidArgument("query_vector", "keyword search scores text only: drop query_vector, or use vector mode")
    if has_vector and mode is SearchMode.VECTOR:
        if given:
            raise InvalidArgument("query_vector", "vector search takes the query text or query_vector, not both")
        return ""
    if has_images:
        raise InvalidArgument("query", "images cannot be searched: the embedding model takes text")
    if not text.strip():
        if has_vector:
            raise InvalidArgument(
                "query", "is required by hybrid search for its keyword side (query_vector serves only the vector side)"
            )
        raise InvalidArgument("query", "is required")
    return text


def max_chunks(params: pb.QueryParams) -> int:
    if params.max_chunks < 0 or params.max_chunks > MAX_MAX_CHUNKS:
        raise InvalidArgument("params.max_chunks", f"must be in 0..{MAX_MAX_CHUNKS} (0: {DEFAULT_MAX_CHUNKS})")
    return params.max_chunks or DEFAULT_MAX_CHUNKS


def search_mode(params: pb.QueryParams) -> SearchMode:
    mode = SEARCH_MODES.get(params.mode)
    if mode is None:
        raise InvalidArgument("params.mode", f"unknown search mode {params.mode}")
    return mode


def chunk_message(hit: ChunkHit) -> pb.Chunk:
    chunk = pb.Chunk(chunk_id=hit.chunk.chunk_id)
    json_format.ParseDict(hit.chunk.content, chunk.content, ignore_unknown_fields=True)
    chunk.metadata.update(hit.chunk.metadata)
    return chunk
