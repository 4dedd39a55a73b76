"""`client.vector_io`: insert chunks into a registered vector DB, search it, delete chunks; sync and async.

    ids = client.vector_io.insert_chunks("docs", ["Paris is in France.", {"content": "Rome", "metadata": {"k": 1}}])
    reply = client.vector_io.query_chunks("docs", "Where is Paris?", max_chunks=3, mode="hybrid")
    print(reply.chunks[0].content.text, reply.scores[0])
    [vector] = client.inference.embeddings("all-MiniLM-L6-v2", ["Where is Paris?"], task_type="query")
    reply = client.vector_io.query_chunks("docs", query_vector=vector)  # no embedding call in vector_io
    client.vector_io.delete_chunks("docs", ids.chunk_ids)

A chunk is a string (its text), a Chunk proto, or a dict with "content" (see conversions.to_content) and optionally
"metadata", "embedding" and "chunk_id". Search modes: "vector" (the default), "keyword", "hybrid".
"""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from google.protobuf import struct_pb2

from llama.common.v1 import retrieval_pb2
from llama.vector_io.v1 import vector_io_pb2 as pb
from llama.vector_io.v1 import vector_io_pb2_grpc
from llama_mesh.client.conversions import ContentLike, copied, enum_value, to_content, to_struct
from llama_mesh.client.transport import AsyncTransport, Transport

ChunkLike = str | pb.Chunk | Mapping[str, Any]
FilterLike = Mapping[str, Any] | struct_pb2.Struct
_CHUNK_KEYS = frozenset({"content", "metadata", "embedding", "chunk_id"})


def search_mode(mode: str | int | None) -> int:
    """A SearchMode number from "vector", "keyword", "hybrid" or a number; None: unspecified (vector search)."""
    return (
        retrieval_pb2.SEARCH_MODE_UNSPECIFIED
        if mode is None
        else enum_value(retrieval_pb2.SearchMode, mode, "SEARCH_MODE_")
    )


def to_chunk(chunk: ChunkLike) -> pb.Chunk:
    if isinstance(chunk, pb.Chunk):
        return copied(chunk)
    if isinstance(chunk, str):
        return pb.Chunk(content=to_content(chunk))
    unknown = set(chunk) - _CHUNK_KEYS
    if unknown or "content" not in chunk:
        raise ValueError(
            f"a chunk dict needs 'content' and may have {sorted(_CHUNK_KEYS - {'content'})}; got keys {sorted(chunk)}"
        )
    proto = pb.Chunk(
        content=to_content(chunk["content"]),
        embedding=list(chunk.get("embedding", ())),
        chunk_id=str(chunk.get("chunk_id", "")),
    )
    if chunk.get("metadata") is not None:
        proto.metadata.CopyFrom(to_struct(chunk["metadata"]))
    return proto


def query_chunks_request(
    vector_db_id: str,
    query: ContentLike | None,
    max_chunks: int,
    score_threshold: float | None,
    mode: str | int | None,
    metadata_filter: FilterLike | None,
    query_vector: Sequence[float] | None = None,
) -> pb.QueryChunksRequest:
    """A query by text, by a precomputed query vector, or (hybrid mode) both; the service checks which it needs."""
    if query is None and query_vector is None:
        raise ValueError("give a query text or a query_vector")
    params = pb.QueryParams(max_chunks=max_chunks, mode=search_mode(mode))
    if score_threshold is not None:
        params.score_threshold = score_threshold
    if metadata_filter is not None:
        params.metadata_filter.CopyFrom(to_struct(metadata_filter))
    request = pb.QueryChunksRequest(vector_db_id=vector_db_id, params=params)
    if query is not None:
        request.query.CopyFrom(to_content(query))
    if query_vector is not None:
        request.query_vector.extend(float(value) for value in query_vector)  # numpy arrays too
    return request


def delete_chunks_request(
    vector_db_id: str, chunk_ids: Iterable[str], metadata_filter: FilterLike | None
) -> pb.DeleteChunksRequest:
    request = pb.DeleteChunksRequest(vector_db_id=vector_db_id, chunk_ids=list(chunk_ids))
    if metadata_filter is not None:
        request.metadata_filter.CopyFrom(to_struct(metadata_filter))
    return request


class VectorIO:
    """VectorIOService calls through the gateway (blocking)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._stub = vector_io_pb2_grpc.VectorIOServiceStub(transport.channel)

    def insert_chunks(
        self, vector_db_id: str, chunks: Iterable[ChunkLike], *, timeout: float | None = None
    ) -> pb.InsertChunksResponse:
        """Embed (unless a chunk has its embedding) and store the chunks; chunk_ids in request order."""
        request = pb.InsertChunksRequest(vector_db_id=vector_db_id, chunks=[to_chunk(chunk) for chunk in chunks])
        return self._transport.unary(self._stub.InsertChunks, request, timeout)

    def query_chunks(
        self,
        vector_db_id: str,
        query: ContentLike | None = None,
        *,
        max_chunks: int = 0,
        score_threshold: float | None = None,
        mode: str | int | None = None,
        metadata_filter: FilterLike | None = None,
        query_vector: Sequence[float] | None = None,
        timeout: float | None = None,
    ) -> pb.QueryChunksResponse:
        """The best chunks for the query (max_chunks 0: 10), with their scores. `query_vector`: an embedding of the
        query made with the vector DB's embedding model, searched instead of embedding `query` (vector mode: give one
        of the two; hybrid: it serves the vector side and `query` the keyword side)."""
        request = query_chunks_request(
            vector_db_id, query, max_chunks, score_threshold, mode, metadata_filter, query_vector
        )
        return self._transport.unary(self._stub.QueryChunks, request, timeout)

    def delete_chunks(
        self,
        vector_db_id: str,
        chunk_ids: Iterable[str] = (),
        *,
        metadata_filter: FilterLike | None = None,
        timeout: float | None = None,
    ) -> pb.DeleteChunksResponse:
        """Delete chunks by id, or every chunk matching metadata_filter (exactly one of the two)."""
        request = delete_chunks_request(vector_db_id, chunk_ids, metadata_filter)
        return self._transport.unary(self._stub.DeleteChunks, request, timeout)


class AsyncVectorIO:
    """The async flavour of `VectorIO`."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport
        self._stub = vector_io_pb2_grpc.VectorIOServiceStub(transport.channel)

    async def insert_chunks(
        self, vector_db_id: str, chunks: Iterable[ChunkLike], *, timeout: float | None = None
    ) -> pb.InsertChunksResponse:
        request = pb.InsertChunksRequest(vector_db_id=vector_db_id, chunks=[to_chunk(chunk) for chunk in chunks])
        return await self._transport.unary(self._stub.InsertChunks, request, timeout)

    async def query_chunks(
        self,
        vector_db_id: str,
        query: ContentLike | None = None,
        *,
        max_chunks: int = 0,
        score_threshold: float | None = None,
        mode: str | int | None = None,
        metadata_filter: FilterLike | None = None,
        query_vector: Sequence[float] | None = None,
        timeout: float | None = None,
    ) -> pb.QueryChunksResponse:
        request = query_chunks_request(
            vector_db_id, query, max_chunks, score_threshold, mode, metadata_filter, query_vector
        )
        return await self._transport.unary(self._stub.QueryChunks, request, timeout)

    async def delete_chunks(
        self,
        vector_db_id: str,
        chunk_ids: Iterable[str] = (),
        *,
        metadata_filter: FilterLike | None = None,
        timeout: float | None = None,
    ) -> pb.DeleteChunksResponse:
        request = delete_chunks_request(vector_db_id, chunk_ids, metadata_filter)
        return await self._transport.unary(self._stub.DeleteChunks, request, timeout)
