"""`VectorStore` on qdrant-client: its embedded local mode (`engine: local`) under the distribution's data dir, or a
Qdrant server (REST or gRPC) when the provider config names a `url`. Same code either way; only the client differs.

Each collection has one dense vector (cosine) and a full-text index with BM25 scoring on the chunk's text, so keyword
search is Qdrant's own BM25 (`TextQuery`) and hybrid search is Qdrant's reciprocal rank fusion of both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from qdrant_client import AsyncQdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException

from llama_mesh.resources import collection_name
from llama_mesh.runtime.errors import FailedPrecondition, Unavailable
from services.vector_io.chunk_points import (
    HYBRID_OVERFETCH,
    TEXT_FIELD,
    chunk_payload,
    metadata_path,
    point_id,
    stored_chunk,
)
from services.vector_io.provider import (
    ChunkHit,
    MetadataFilter,
    SearchMode,
    SearchQuery,
    StoredChunk,
    VectorStore,
    refuse_if_dropped,
)
from services.vector_io.providers.qdrant_config import QdrantConfig
from services.vector_io.providers.qdrant_local import LocalQdrantClient

log = logging.getLogger(__name__)


def _match(key: str, value: str | float | bool) -> models.FieldCondition:
    path = metadata_path(key)
    if isinstance(value, bool | str):
        return models.FieldCondition(key=path, match=models.MatchValue(value=value))
    # JSON numbers come back as floats: an equal-bounds range matches 3 and 3.0 alike.
    return models.FieldCondition(key=path, range=models.Range(gte=value, lte=value))


def _filter(metadata_filter: MetadataFilter) -> models.Filter | None:
    if not metadata_filter:
        return None
    return models.Filter(must=[_match(key, value) for key, value in metadata_filter.items()])


@contextmanager
def _server_errors() -> Iterator[None]:
    """A Qdrant server that cannot be reached is UNAVAILABLE (the caller may retry), not INTERNAL."""
    try:
        yield
    except ResponseHandlingException as exc:  # its text names the server's address: the log only
        log.warning("the Qdrant server is not reachable: %s", exc.source)
        raise Unavailable(
            f"the Qdrant server is not reachable ({type(exc.source).__name__}); try again later",
            reason="VECTOR_STORE_UNAVAILABLE",
        ) from exc
    except grpc.RpcError as exc:
        code = exc.code()  # type: ignore[attr-defined]
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            log.warning("the Qdrant server is not reachable: %s", exc.details())  # type: ignore[attr-defined]
            raise Unavailable(
                f"the Qdrant server is not reachable ({code.name}); try again later",
                reason="VECTOR_STORE_UNAVAILABLE",
            ) from exc
        raise


class QdrantVectorStore(VectorStore):
    def __init__(self, config: QdrantConfig, default_path: Path) -> None:
        self._config = config
        self._default_path = default_path
        self._client: AsyncQdrantClient | LocalQdrantClient | None = None
        # Collections known to exist, with their dimension; filled on first use.
        self._known: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._dropped: set[str] = set()  # collections unregistered since this process started

    @property
    def client(self) -> AsyncQdrantClient | LocalQdrantClient:
        if self._client is None:
            raise RuntimeError("QdrantVectorStore used before start()")
        return self._client

    async def start(self) -> None:
        if self._config.url:
            self._client = AsyncQdrantClient(
                url=self._config.url,
                prefer_grpc=self._config.prefer_grpc,
                api_key=self._config.api_key,
                timeout=self._config.timeout_s,
            )
            log.info("qdrant: server at %s (grpc: %s)", self._config.url, self._config.prefer_grpc)
        else:
            path = self._local_path()
            local = LocalQdrantClient(path)
            await local.open()
            self._client = local
            log.info("qdrant: embedded local mode in %s", path)

    def _local_path(self) -> Path:
        return Path(self._config.path).expanduser() if self._config.path else self._default_path

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def _stored_dimension(self, name: str) -> int | None:
        if not await self.client.collection_exists(name):
            return None
        info = await self.client.get_collection(name)
        vectors = info.config.params.vectors
        if isinstance(vectors, models.VectorParams):
            return vectors.size
        return None

    async def _create(self, name: str, dimension: int) -> None:
        await self.client.create_collection(
            name, vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE)
        )
        await self.client.create_payload_index(
            name,
            TEXT_FIELD,
            field_schema=models.TextIndexParams(
                type=models.TextIndexType.TEXT,
                scoring=models.TextScoringParams(type=models.TextScoringType.BM25),
            ),
        )
        log.info("qdrant: created collection %s (%d-d, cosine)", name, dimension)

    async def collections(self) -> list[str]:
        with _server_errors():
            return sorted(collection.name for collection in (await self.client.get_collections()).collections)

    async def create_collection(self, name: str, dimension: int) -> None:
        name = collection_name(name)
        with _server_errors():
            async with self._lock(name):
                if await self.client.collection_exists(name):
                    # No registered vector DB refers to it (the registry asks before storing one): a leftover.
                    log.warning("qdrant: removing leftover collection %s before creating it empty", name)
                    await self.client.delete_collection(name)
                await self._create(name, dimension)
                self._known[name] = dimension
                self._dropped.discard(name)

    async def drop_collection(self, name: str) -> None:
        name = collection_name(name)
        with _server_errors():
            async with self._lock(name):
                self._dropped.add(name)
                self._known.pop(name, None)
                if await self.client.collection_exists(name):
                    await self.client.delete_collection(name)
                    log.info("qdrant: dropped collection %s", name)

    async def _ready(self, name: str, dimension: int) -> str:
        """The collection of a registered vector DB, made again if its storage lost it; NOT_FOUND once dropped."""
        name = collection_name(name)
        refuse_if_dropped(name, self._dropped)
        known = self._known.get(name)
        if known is None:
            async with self._lock(name):
                refuse_if_dropped(name, self._dropped)
                stored = await self._stored_dimension(name)
                if stored is None:
                    log.warning("qdrant: collection %s of a registered vector DB is missing; creating it empty", name)
                    await self._create(name, dimension)
                    stored = dimension
                self._known[name] = known = stored
        if known != dimension:
            raise FailedPrecondition(
                f"collection {name!r} holds {known}-d vectors but the vector DB is registered with {dimension}",
                reason="VECTOR_DIMENSION_CONFLICT",
            )
        return name

    async def upsert(self, name: str, dimension: int, chunks: list[StoredChunk]) -> None:
        points = [
            models.PointStruct(
                id=point_id(chunk.chunk_id),
                vector=chunk.embedding,
                payload=chunk_payload(chunk),
            )
            for chunk in chunks
        ]
        with _server_errors():
            name = await self._ready(name, dimension)
            async with self._lock(name):  # not while the collection is being dropped
                refuse_if_dropped(name, self._dropped)
                await self.client.upsert(name, points=points, wait=True)

    async def search(self, name: str, dimension: int, query: SearchQuery) -> list[ChunkHit]:
        with _server_errors():
            name = await self._ready(name, dimension)
            query_filter = _filter(query.metadata_filter)
            common: dict[str, Any] = {
                "query_filter": query_filter,
                "limit": query.limit,
                "score_threshold": query.score_threshold,
                "with_payload": True,
            }
            text_query = models.TextQuery(text=query.text)
            if query.mode is SearchMode.VECTOR:
                result = await self.client.query_points(name, query=query.embedding, **common)
            elif query.mode is SearchMode.KEYWORD:
                result = await self.client.query_points(name, query=text_query, using=TEXT_FIELD, **common)
            else:
                depth = query.limit * HYBRID_OVERFETCH
                result = await self.client.query_points(
                    name,
                    prefetch=[
                        models.Prefetch(query=query.embedding, filter=query_filter, limit=depth),
                        models.Prefetch(query=text_query, using=TEXT_FIELD, filter=query_filter, limit=depth),
                    ],
                    query=models.FusionQuery(fusion=models.Fusion.RRF),
                    **common,
                )
        return [ChunkHit(chunk=stored_chunk(point.payload), score=float(point.score)) for point in result.points]

    async def delete_ids(self, name: str, dimension: int, chunk_ids: list[str]) -> int:
        ids = list(dict.fromkeys(point_id(chunk_id) for chunk_id in chunk_ids))
        with _server_errors():
            name = await self._ready(name, dimension)
            async with self._lock(name):
                existing = await self.client.retrieve(name, ids=ids, with_payload=False, with_vectors=False)
                if existing:
                    await self.client.delete(
                        name, points_selector=models.PointIdsList(points=[p.id for p in existing]), wait=True
                    )
        return len(existing)

    async def delete_matching(self, name: str, dimension: int, metadata_filter: MetadataFilter) -> int:
        selected = _filter(metadata_filter)
        assert selected is not None, "delete_matching needs a non-empty filter"
        with _server_errors():
            name = await self._ready(name, dimension)
            async with self._lock(name):
                count = (await self.client.count(name, count_filter=selected, exact=True)).count
                if count:
                    await self.client.delete(name, points_selector=models.FilterSelector(filter=selected), wait=True)
        return count
