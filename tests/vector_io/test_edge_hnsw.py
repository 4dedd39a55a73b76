"""Qdrant Edge with an HNSW graph (`vector_index: hnsw`): the graph is really built and searched, and it finds the
true nearest neighbours on a small collection. Real engine on disk in a temp dir; vectors from a seeded generator,
so every run sees the same data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from services.vector_io.provider import SearchMode, SearchQuery, StoredChunk
from services.vector_io.providers.qdrant_config import HnswSettings
from services.vector_io.providers.qdrant_edge import EdgeVectorStore

DIM, COUNT, TOP_K = 32, 400, 10
# Thresholds of 1 KB: every segment gets a graph and is searched through it (a 32-d vector is 128 bytes). An ef above
# the collection's size makes the search visit every reachable point, so its top 10 is the exact one.
SETTINGS = HnswSettings(m=8, ef_construct=64, ef=512, indexing_threshold_kb=1, full_scan_threshold_kb=1)


def vectors(count: int, seed: int) -> np.ndarray:
    data = np.random.default_rng(seed).standard_normal((count, DIM)).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


def chunk(index: int, vector: np.ndarray) -> StoredChunk:
    return StoredChunk(f"c{index}", f"chunk {index}", {"text": f"chunk {index}"}, {}, vector.tolist())


async def nearest(store: EdgeVectorStore, query: np.ndarray) -> list[str]:
    asked = SearchQuery(mode=SearchMode.VECTOR, text="", embedding=query.tolist(), limit=TOP_K)
    return [hit.chunk.chunk_id for hit in await store.search("docs", DIM, asked)]


async def test_the_graph_is_built_and_finds_the_true_nearest_neighbours(tmp_path: Path) -> None:
    data, queries = vectors(COUNT, seed=1), vectors(20, seed=2)
    truth = [[f"c{i}" for i in np.argsort(-(data @ query))[:TOP_K]] for query in queries]
    store = EdgeVectorStore(tmp_path, hnsw=SETTINGS.model_copy(update={"build_delay_s": 3600.0}))
    await store.start()
    try:
        await store.create_collection("docs", DIM)
        await store.upsert("docs", DIM, [chunk(i, v) for i, v in enumerate(data)])
        assert await store.index_status("docs", DIM) == (COUNT, 0)  # not built yet: searched exactly meanwhile
        assert [await nearest(store, query) for query in queries] == truth
        assert await store.build_index("docs")
        assert await store.index_status("docs", DIM) == (COUNT, COUNT)
        assert [await nearest(store, query) for query in queries] == truth
        assert not await store.build_index("docs")  # nothing new to index
    finally:
        await store.close()


async def test_hnsw_settings_apply_to_a_shard_made_for_exact_search(tmp_path: Path) -> None:
    data = vectors(COUNT, seed=3)
    exact = EdgeVectorStore(tmp_path)
    await exact.start()
    await exact.create_collection("docs", DIM)
    await exact.upsert("docs", DIM, [chunk(i, v) for i, v in enumerate(data)])
    assert not await exact.build_index("docs")  # exact search builds nothing
    await exact.close()
    store = EdgeVectorStore(tmp_path, hnsw=SETTINGS)
    await store.start()
    try:
        assert await store.index_status("docs", DIM) == (COUNT, 0)
        assert await store.build_index("docs")
        assert await store.index_status("docs", DIM) == (COUNT, COUNT)
        assert (await nearest(store, data[7]))[0] == "c7"
    finally:
        await store.close()
