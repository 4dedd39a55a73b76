"""`VectorStore` on Qdrant Edge (qdrant-edge-py): Qdrant's engine in-process, the embedded default.

One `EdgeShard` per collection, in its own directory under the store's root; a shard keeps its config (with the vector
dimension) and a write-ahead log there, so every update is durable once applied and the data survives a restart.
Each shard has one dense vector (cosine) and a BM25-scored full-text index on the chunk's text: keyword search is
Qdrant's `TextQuery`, hybrid search its reciprocal rank fusion of both. Vector search is exact by default: recall 1.0
at about 12x the QPS of qdrant-client's local mode at 100k chunks (bench/README.md). With `hnsw` settings it is
approximate: each shard gets an HNSW graph (m, ef_construct), built by qdrant-edge's `optimize()` once the collection
has had no writes for `build_delay_s`, and searched with `ef` candidates; points not in a graph yet are searched
exactly. qdrant-edge-py holds the GIL while it builds, so the whole service waits for a build (minutes at 100k
chunks on two cores): HNSW is for large collections that are written rarely and read often.

Shards are not opened twice and their calls block, so every call runs in order on one worker thread.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeOptimizersConfig,
    EdgeShard,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    Fusion,
    HnswIndexConfig,
    MatchValue,
    Point,
    Prefetch,
    Query,
    QueryRequest,
    RangeFloat,
    SearchParams,
    TextIndexParams,
    TextQuery,
    TextScoringParams,
    TextScoringType,
    TokenizerType,
    UpdateOperation,
)

from llama_mesh.resources import collection_name
from llama_mesh.runtime.errors import FailedPrecondition
from services.vector_io.chunk_points import (
    HYBRID_OVERFETCH,
    RRF_K,
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
from services.vector_io.providers.qdrant_config import HnswSettings

log = logging.getLogger(__name__)
T = TypeVar("T")
# The shard's own record of its config, written by qdrant-edge when the shard is created.
SHARD_CONFIG_FILE = "edge_config.json"
EXACT = SearchParams(exact=True)


def _match(key: str, value: str | float | bool) -> FieldCondition:
    path = metadata_path(key)
    if isinstance(value, bool | str):
        return FieldCondition(key=path, match=MatchValue(value))
    # JSON numbers come back as floats: an equal-bounds range matches 3 and 3.0 alike.
    return FieldCondition(key=path, range=RangeFloat(gte=value, lte=value))


def _filter(metadata_filter: MetadataFilter) -> Filter | None:
    if not metadata_filter:
        return None
    return Filter(must=[_match(key, value) for key, value in metadata_filter.items()])


def _shard_dimension(directory: Path) -> int | None:
    """The dense vector size a shard on disk was created with; None when there is no shard there."""
    try:
        config = json.loads((directory / SHARD_CONFIG_FILE).read_text())
    except FileNotFoundError:
        return None
    return int(config["vectors"][""]["size"])


def _index_config(hnsw: HnswSettings | None) -> dict[str, Any]:
    """EdgeConfig arguments of the vector index; none for exact search (never built, never used)."""
    if hnsw is None:
        return {}
    graph = HnswIndexConfig(m=hnsw.m, ef_construct=hnsw.ef_construct, full_scan_threshold=hnsw.full_scan_threshold_kb)
    return {"hnsw_config": graph, "optimizers": EdgeOptimizersConfig(indexing_threshold=hnsw.indexing_threshold_kb)}


def _create_shard(directory: Path, dimension: int, hnsw: HnswSettings | None) -> EdgeShard:
    vectors = EdgeVectorParams(size=dimension, distance=Distance.Cosine)
    shard = EdgeShard.create(str(directory), EdgeConfig(vectors=vectors, **_index_config(hnsw)))
    text_index = TextIndexParams(
        tokenizer=TokenizerType.Word, lowercase=True, scoring=TextScoringParams(TextScoringType.Bm25)
    )
    shard.update(UpdateOperation.create_field_index(TEXT_FIELD, text_index))
    return shard


def _search_request(query: SearchQuery, params: SearchParams) -> QueryRequest:
    query_filter = _filter(query.metadata_filter)
    common: dict[str, Any] = {
        "limit": query.limit,
        "filter": query_filter,
        "score_threshold": query.score_threshold,
        "with_payload": True,
    }
    text_query = TextQuery(TEXT_FIELD, query.text)
    if query.mode is SearchMode.VECTOR:
        return QueryRequest(query=Query.Nearest(query.embedding), params=params, **common)
    if query.mode is SearchMode.KEYWORD:
        return QueryRequest(query=text_query, **common)
    depth = query.limit * HYBRID_OVERFETCH
    prefetches = [
        Prefetch(limit=depth, query=Query.Nearest(query.embedding), params=params, filter=query_filter),
        Prefetch(limit=depth, query=text_query, filter=query_filter),
    ]
    return QueryRequest(query=Fusion.Rrf(k=RRF_K), prefetches=prefetches, **common)


class EdgeVectorStore(VectorStore):
    def __init__(self, root: Path, hnsw: HnswSettings | None = None) -> None:
        self._root = root
        self._hnsw = hnsw
        self._search_params = EXACT if hnsw is None else SearchParams(hnsw_ef=hnsw.ef)
        self._builds: dict[str, asyncio.TimerHandle] = {}  # HNSW builds waiting for writes to stop, by collection
        self._build_tasks: set[asyncio.Task[None]] = set()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant-edge")
        # Open shards with their dimension, by collection name; opened on first use.
        self._shards: dict[str, tuple[EdgeShard, int]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._dropped: set[str] = set()  # collections unregistered since this process started

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    async def start(self) -> None:
        await self._run(functools.partial(self._root.mkdir, parents=True, exist_ok=True))
        log.info("qdrant-edge: shards in %s", self._root)

    async def close(self) -> None:
        for timer in self._builds.values():
            timer.cancel()
        self._builds.clear()
        for task in list(self._build_tasks):
            task.cancel()
        shards, self._shards = list(self._shards.values()), {}
        for shard, _ in shards:
            await self._run(shard.close)
        self._executor.shutdown(wait=True)

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    def _directory(self, name: str) -> Path:
        # A prefix keeps names like "." or ".." plain directory names.
        return self._root / f"collection-{name}"

    def _open(self, name: str, dimension: int) -> tuple[EdgeShard, int]:
        """Worker thread: open the collection's shard, made empty with `dimension` when there is none. A shard that
        cannot be opened (another process holds its write-ahead log, damaged files) is FAILED_PRECONDITION."""
        directory = self._directory(name)
        stored = _shard_dimension(directory)
        try:
            if stored is None:
                shutil.rmtree(directory, ignore_errors=True)
                return _create_shard(directory, dimension, self._hnsw), dimension
            if self._hnsw is None:
                return EdgeShard.load(str(directory)), stored
            # The current HNSW settings apply to the shard's next build (written into its config).
            vectors = EdgeVectorParams(size=stored, distance=Distance.Cosine)
            return EdgeShard.load(str(directory), EdgeConfig(vectors=vectors, **_index_config(self._hnsw))), stored
        except Exception as exc:
            log.warning("qdrant-edge cannot open collection %r in %s: %s", name, directory, exc)
            raise FailedPrecondition(
                f"qdrant-edge cannot open collection {name!r} ({type(exc).__name__}; the vector_io service's log has "
                "the details): is another process using its data directory?",
                reason="VECTOR_STORE_UNAVAILABLE",
            ) from exc

    async def _remove(self, name: str) -> None:
        """Close and delete the collection's shard."""
        timer = self._builds.pop(name, None)
        if timer is not None:
            timer.cancel()
        opened = self._shards.pop(name, None)
        if opened is not None:
            await self._run(opened[0].close)
        await self._run(functools.partial(shutil.rmtree, self._directory(name), ignore_errors=True))

    async def collections(self) -> list[str]:
        def listed() -> list[str]:
            prefix = "collection-"
            if not self._root.is_dir():
                return []
            return sorted(p.name.removeprefix(prefix) for p in self._root.iterdir() if p.name.startswith(prefix))

        return await self._run(listed)

    async def create_collection(self, name: str, dimension: int) -> None:
        name = collection_name(name)
        async with self._lock(name):
            if name not in self._shards and await self._run(_shard_dimension, self._directory(name)) is not None:
                # Opened first: a shard another process holds is refused here, never deleted under it.
                self._shards[name] = await self._run(self._open, name, dimension)
            if name in self._shards:
                # No registered vector DB refers to it (the registry asks before storing one): a leftover.
                log.warning("qdrant-edge: removing leftover shard %s before creating it empty", name)
                await self._remove(name)
            self._shards[name] = await self._run(self._open, name, dimension)
            self._dropped.discard(name)
            log.info("qdrant-edge: collection %s ready (%d-d, cosine)", name, dimension)

    async def drop_collection(self, name: str) -> None:
        name = collection_name(name)
        async with self._lock(name):
            self._dropped.add(name)
            await self._remove(name)
            log.info("qdrant-edge: dropped collection %s", name)

    async def _ready(self, name: str, dimension: int) -> EdgeShard:
        """The shard of a registered vector DB, made again (empty) if its storage lost it; NOT_FOUND once dropped."""
        name = collection_name(name)
        refuse_if_dropped(name, self._dropped)
        if name not in self._shards:
            async with self._lock(name):
                refuse_if_dropped(name, self._dropped)
                if name not in self._shards:
                    if await self._run(_shard_dimension, self._directory(name)) is None:
                        log.warning("qdrant-edge: shard %s of a registered vector DB is missing; creating it", name)
                    self._shards[name] = await self._run(self._open, name, dimension)
        shard, stored = self._shards[name]
        if stored != dimension:
            raise FailedPrecondition(
                f"collection {name!r} holds {stored}-d vectors but the vector DB is registered with {dimension}",
                reason="VECTOR_DIMENSION_CONFLICT",
            )
        return shard

    async def upsert(self, name: str, dimension: int, chunks: list[StoredChunk]) -> None:
        points = [Point(point_id(c.chunk_id), c.embedding, chunk_payload(c)) for c in chunks]
        shard = await self._ready(name, dimension)
        name = collection_name(name)
        async with self._lock(name):  # not while the collection is being dropped
            refuse_if_dropped(name, self._dropped)
            shard = self._shards[name][0]
            await self._run(shard.update, UpdateOperation.upsert_points(points))
        self._schedule_build(name)

    def _schedule_build(self, name: str) -> None:
        """HNSW only: build the collection's graph once it has had no writes for build_delay_s."""
        if self._hnsw is None:
            return
        timer = self._builds.pop(name, None)
        if timer is not None:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._builds[name] = loop.call_later(self._hnsw.build_delay_s, self._start_build, name)

    def _start_build(self, name: str) -> None:
        task = asyncio.get_running_loop().create_task(self._build_later(name))
        self._build_tasks.add(task)
        task.add_done_callback(self._build_tasks.discard)

    async def _build_later(self, name: str) -> None:
        self._builds.pop(name, None)
        try:
            await self.build_index(name)
        except Exception:  # a build that fails leaves exact search of the new points; the next write tries again
            log.exception("qdrant-edge: building the HNSW graph of %s failed", name)

    async def build_index(self, name: str) -> bool:
        """Build the HNSW graph of the collection's new points now (nothing with exact search); whether anything was
        built. Writes wait meanwhile."""
        name = collection_name(name)
        if self._hnsw is None or name not in self._shards:
            return False
        async with self._lock(name):
            opened = self._shards.get(name)
            if opened is None:
                return False
            started = asyncio.get_running_loop().time()
            built = await self._run(opened[0].optimize)
            info = await self._run(opened[0].info)
        if built:
            log.info(
                "qdrant-edge: HNSW graph of %s built in %.1f s (%d of %d points indexed)",
                name,
                asyncio.get_running_loop().time() - started,
                info.indexed_vectors_count,
                info.points_count,
            )
        return built

    async def index_status(self, name: str, dimension: int) -> tuple[int, int]:
        """(points, points in an HNSW graph) of the collection."""
        shard = await self._ready(name, dimension)
        info = await self._run(shard.info)
        return info.points_count, info.indexed_vectors_count

    async def search(self, name: str, dimension: int, query: SearchQuery) -> list[ChunkHit]:
        shard = await self._ready(name, dimension)
        points = await self._run(shard.query, _search_request(query, self._search_params))
        return [ChunkHit(chunk=stored_chunk(point.payload), score=float(point.score)) for point in points]

    async def delete_ids(self, name: str, dimension: int, chunk_ids: list[str]) -> int:
        ids: list[Any] = list(dict.fromkeys(point_id(chunk_id) for chunk_id in chunk_ids))
        shard = await self._ready(name, dimension)
        async with self._lock(collection_name(name)):
            existing = await self._run(shard.retrieve, ids, False, False)
            if existing:
                await self._run(shard.update, UpdateOperation.delete_points([record.id for record in existing]))
        return len(existing)

    async def delete_matching(self, name: str, dimension: int, metadata_filter: MetadataFilter) -> int:
        selected = _filter(metadata_filter)
        assert selected is not None, "delete_matching needs a non-empty filter"
        shard = await self._ready(name, dimension)
        async with self._lock(collection_name(name)):
            count = await self._run(shard.count, CountRequest(exact=True, filter=selected))
            if count:
                await self._run(shard.update, UpdateOperation.delete_points_by_filter(selected))
        return count
