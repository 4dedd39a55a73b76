"""The `VectorStore` contract, run against both embedded Qdrant engines: Qdrant Edge (the default) and qdrant-client's
local mode. Real engines on disk in a temp dir; small hand-made 4-d vectors so the expected order is plain."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from llama_mesh.runtime.config import ProviderConfig, load_run_config
from llama_mesh.runtime.errors import FailedPrecondition, NotFound, Unavailable
from services.vector_io.provider import SearchMode, SearchQuery, StoredChunk, VectorStore
from services.vector_io.providers import PROVIDER_TYPES
from services.vector_io.providers.qdrant import QdrantVectorStore
from services.vector_io.providers.qdrant_config import HnswSettings, QdrantConfig
from services.vector_io.providers.qdrant_edge import EdgeVectorStore

DIM = 4
CHUNKS = {
    "paris": ("Paris is the capital of France", [1.0, 0.0, 0.0, 0.0], {"topic": "geo", "year": 1889.0}),
    "python": ("Python is a programming language", [0.0, 1.0, 0.0, 0.0], {"topic": "code", "year": 1991.0}),
    "ocean": ("The Pacific Ocean is the largest ocean", [0.7, 0.0, 0.7, 0.0], {"topic": "geo", "year": 1520.0}),
    "bread": ("Feed the sourdough starter and let the dough rise", [0.0, 0.0, 0.0, 1.0], {"topic": "food"}),
}
ENGINES = ["edge", "edge-hnsw", "local"]
# Graphs for every segment, built as soon as writes stop: the contract holds while and after they are built.
SMALL_HNSW = HnswSettings(ef=64, indexing_threshold_kb=1, full_scan_threshold_kb=1, build_delay_s=0.0)


def make_store(engine: str, path: Path) -> VectorStore:
    if engine == "edge":
        return EdgeVectorStore(path)
    if engine == "edge-hnsw":
        return EdgeVectorStore(path, hnsw=SMALL_HNSW)
    return QdrantVectorStore(QdrantConfig(engine="local"), default_path=path)


def stored(chunk_id: str) -> StoredChunk:
    text, vector, metadata = CHUNKS[chunk_id]
    return StoredChunk(chunk_id, text, {"text": text}, dict(metadata), list(vector))


def ask(mode: SearchMode, text: str = "", vector: list[float] | None = None, **options: object) -> SearchQuery:
    return SearchQuery(mode=mode, text=text, embedding=vector, limit=int(options.pop("limit", 10)), **options)


async def ids(store: VectorStore, query: SearchQuery, name: str = "docs") -> list[str]:
    return [hit.chunk.chunk_id for hit in await store.search(name, DIM, query)]


@pytest.fixture(params=ENGINES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    store = make_store(request.param, tmp_path / request.param)
    await store.start()
    await store.create_collection("docs", DIM)
    await store.upsert("docs", DIM, [stored(chunk_id) for chunk_id in CHUNKS])
    yield store
    await store.close()


async def test_vector_search_orders_by_cosine_and_returns_what_was_stored(store: VectorStore) -> None:
    hits = await store.search("docs", DIM, ask(SearchMode.VECTOR, vector=[1.0, 0.0, 0.1, 0.0], limit=2))
    assert [hit.chunk.chunk_id for hit in hits] == ["paris", "ocean"]
    assert hits[0].score > hits[1].score
    first = hits[0].chunk
    assert (first.text, first.content, first.metadata) == (
        CHUNKS["paris"][0],
        {"text": CHUNKS["paris"][0]},
        {"topic": "geo", "year": 1889.0},
    )


async def test_score_threshold_and_metadata_filters(store: VectorStore) -> None:
    near_paris = [1.0, 0.0, 0.1, 0.0]
    assert await ids(store, ask(SearchMode.VECTOR, vector=near_paris, score_threshold=0.9)) == ["paris"]
    code_only = ask(SearchMode.VECTOR, vector=near_paris, metadata_filter={"topic": "code"})
    assert await ids(store, code_only) == ["python"]
    by_number = ask(SearchMode.VECTOR, vector=near_paris, metadata_filter={"topic": "geo", "year": 1520})
    assert await ids(store, by_number) == ["ocean"]


async def test_keyword_search_scores_only_chunks_with_a_query_term(store: VectorStore) -> None:
    hits = await store.search("docs", DIM, ask(SearchMode.KEYWORD, text="sourdough starter"))
    assert [hit.chunk.chunk_id for hit in hits] == ["bread"] and hits[0].score > 0
    assert await ids(store, ask(SearchMode.KEYWORD, text="ocean", metadata_filter={"topic": "food"})) == []


async def test_hybrid_fuses_vector_and_keyword_ranks(store: VectorStore) -> None:
    # The vector points at python, the words at the ocean: both lists feed the fused ranking.
    query = ask(SearchMode.HYBRID, text="largest ocean", vector=[0.0, 1.0, 0.0, 0.0], limit=2)
    assert set(await ids(store, query)) == {"python", "ocean"}
    # Ocean is first by both: first after fusion, with the same RRF score on both engines (rank constant 2).
    hits = await store.search("docs", DIM, ask(SearchMode.HYBRID, text="ocean", vector=[0.7, 0.0, 0.7, 0.0]))
    assert hits[0].chunk.chunk_id == "ocean" and hits[0].score == pytest.approx(1.0)
    filtered = ask(SearchMode.HYBRID, text="ocean", vector=[0.7, 0.0, 0.7, 0.0], metadata_filter={"topic": "food"})
    assert await ids(store, filtered) == ["bread"]


async def test_upsert_replaces_the_same_chunk_id(store: VectorStore) -> None:
    changed = stored("paris")
    changed.text, changed.metadata = "Paris, city of light", {"topic": "travel"}
    await store.upsert("docs", DIM, [changed])
    hits = await store.search("docs", DIM, ask(SearchMode.VECTOR, vector=[1.0, 0.0, 0.0, 0.0], limit=10))
    assert [hit.chunk.chunk_id for hit in hits].count("paris") == 1
    assert hits[0].chunk.metadata == {"topic": "travel"}
    assert await ids(store, ask(SearchMode.KEYWORD, text="light")) == ["paris"]


async def test_delete_by_ids_and_by_filter_count_what_existed(store: VectorStore) -> None:
    assert await store.delete_ids("docs", DIM, ["paris", "paris", "nope"]) == 1
    assert await store.delete_matching("docs", DIM, {"topic": "geo"}) == 1
    assert await store.delete_matching("docs", DIM, {"topic": "geo"}) == 0
    left = await ids(store, ask(SearchMode.VECTOR, vector=[1.0, 1.0, 1.0, 1.0]))
    assert sorted(left) == ["bread", "python"]


async def test_collections_are_separate_and_drop_removes_the_chunks(store: VectorStore) -> None:
    await store.create_collection("other", DIM)
    assert await ids(store, ask(SearchMode.VECTOR, vector=[1.0, 0.0, 0.0, 0.0]), name="other") == []
    await store.drop_collection("docs")
    await store.drop_collection("never-made")  # not an error
    await store.create_collection("docs", DIM)
    assert await ids(store, ask(SearchMode.VECTOR, vector=[1.0, 0.0, 0.0, 0.0])) == []


async def test_a_leftover_collection_of_another_dimension_is_replaced(store: VectorStore) -> None:
    await store.create_collection("docs", DIM + 1)
    assert await store.search("docs", DIM + 1, ask(SearchMode.VECTOR, vector=[1.0] * (DIM + 1))) == []
    with pytest.raises(FailedPrecondition) as refused:
        await store.search("docs", DIM, ask(SearchMode.VECTOR, vector=[1.0] * DIM))
    assert refused.value.reason == "VECTOR_DIMENSION_CONFLICT"


async def test_names_qdrant_does_not_allow_are_mapped(store: VectorStore) -> None:
    for name in ("my db/ü", "..", "."):
        await store.create_collection(name, DIM)
        await store.upsert(name, DIM, [stored("bread")])
        assert await ids(store, ask(SearchMode.KEYWORD, text="sourdough"), name=name) == ["bread"]
    assert await ids(store, ask(SearchMode.KEYWORD, text="sourdough")) == ["bread"]  # "docs" untouched


@pytest.mark.parametrize("engine", ENGINES)
async def test_chunks_survive_closing_and_reopening(engine: str, tmp_path: Path) -> None:
    store = make_store(engine, tmp_path)
    await store.start()
    await store.create_collection("docs", DIM)
    await store.upsert("docs", DIM, [stored("paris"), stored("bread")])
    await store.delete_ids("docs", DIM, ["bread"])
    await store.close()
    reopened = make_store(engine, tmp_path)
    await reopened.start()
    try:
        assert await ids(reopened, ask(SearchMode.VECTOR, vector=[1.0, 1.0, 1.0, 1.0])) == ["paris"]
        assert await ids(reopened, ask(SearchMode.KEYWORD, text="capital France")) == ["paris"]
    finally:
        await reopened.close()


def test_engine_comes_from_the_provider_config(tmp_path: Path) -> None:
    run = load_run_config("distributions/local-cpu/run.yaml", {"LLAMA_MESH_DATA_DIR": str(tmp_path)})
    provider = next(p for s in run.services if s.api == "vector_io" for p in s.providers)
    assert isinstance(PROVIDER_TYPES[provider.provider_type](provider, run), EdgeVectorStore)

    def build(config: dict[str, object]) -> VectorStore:
        return PROVIDER_TYPES["inline::qdrant"](
            ProviderConfig(provider_id="q", provider_type="inline::qdrant", config=config), run
        )

    assert isinstance(build({}), EdgeVectorStore)
    assert isinstance(build({"engine": "local"}), QdrantVectorStore)
    assert isinstance(build({"url": "http://127.0.0.1:6333"}), QdrantVectorStore)
    assert isinstance(build({"vector_index": "hnsw", "hnsw": {"m": 32, "ef": 200}}), EdgeVectorStore)
    for wrong in (
        {"engine": "server"},
        {"engine": "edge", "url": "http://127.0.0.1:6333"},
        {"engine": "disk"},
        {"engine": "local", "vector_index": "hnsw"},
        {"vector_index": "ivf"},
        {"vector_index": "hnsw", "hnsw": {"ef": 0}},
        {"vector_index": "hnsw", "hnsw": {"efSearch": 64}},
    ):
        with pytest.raises(ValueError):
            build(wrong)


async def test_an_edge_shard_held_by_another_store_is_a_clear_error(tmp_path: Path) -> None:
    holder, other = EdgeVectorStore(tmp_path), EdgeVectorStore(tmp_path)
    await holder.start()
    await other.start()
    try:
        await holder.create_collection("docs", DIM)
        with pytest.raises(FailedPrecondition) as refused:
            await other.create_collection("docs", DIM)
        assert refused.value.reason == "VECTOR_STORE_UNAVAILABLE"
        assert "tmp" not in refused.value.message and str(tmp_path.name) not in refused.value.message
        await holder.upsert("docs", DIM, [stored("paris")])  # the holder is unaffected
        assert await ids(holder, ask(SearchMode.VECTOR, vector=[1.0, 0.0, 0.0, 0.0])) == ["paris"]
    finally:
        await other.close()
        await holder.close()


@pytest.mark.parametrize("prefer_grpc", [False, True])
async def test_an_unreachable_qdrant_server_is_unavailable_without_its_address(prefer_grpc: bool) -> None:
    with socket.socket() as probe:  # a port nothing listens on: connections are refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = QdrantConfig(url=f"http://127.0.0.1:{port}", prefer_grpc=prefer_grpc, timeout_s=5)
    store = QdrantVectorStore(config, default_path=Path("unused"))
    await store.start()
    try:
        with pytest.raises(Unavailable) as refused:
            await store.create_collection("docs", DIM)
    finally:
        await store.close()
    assert refused.value.reason == "VECTOR_STORE_UNAVAILABLE"
    assert "127.0.0.1" not in refused.value.message and str(port) not in refused.value.message


async def test_a_write_after_the_drop_does_not_bring_the_collection_back(store: VectorStore) -> None:
    """An insert that was on its way when the vector DB was unregistered is NOT_FOUND, and creates nothing."""
    await store.drop_collection("docs")
    with pytest.raises(NotFound):
        await store.upsert("docs", DIM, [stored("paris")])
    with pytest.raises(NotFound):
        await store.search("docs", DIM, ask(SearchMode.KEYWORD, text="Paris"))
    await store.create_collection("docs", DIM)  # registered again: empty, and writable
    assert await ids(store, ask(SearchMode.KEYWORD, text="Paris")) == []
    await store.upsert("docs", DIM, [stored("paris")])
    assert await ids(store, ask(SearchMode.KEYWORD, text="Paris")) == ["paris"]


async def test_an_insert_racing_the_drop_never_resurrects_it(store: VectorStore) -> None:
    """Inserts and the drop run concurrently: afterwards the collection is gone (every insert either landed before
    the drop or was refused), and creating it again starts empty."""
    writes = [store.upsert("docs", DIM, [stored(chunk_id)]) for chunk_id in CHUNKS for _ in range(5)]
    results = await asyncio.gather(*writes[:10], store.drop_collection("docs"), *writes[10:], return_exceptions=True)
    assert all(result is None or isinstance(result, NotFound) for result in results)
    await store.create_collection("docs", DIM)
    assert await ids(store, ask(SearchMode.VECTOR, vector=[1.0, 1.0, 1.0, 1.0])) == []


@pytest.mark.parametrize("engine", ENGINES)
async def test_creating_over_a_leftover_of_the_same_dimension_starts_empty(engine: str, tmp_path: Path) -> None:
    """A collection left by a registration that never completed (or a crash) is not inherited by the next one."""
    first = make_store(engine, tmp_path)
    await first.start()
    await first.create_collection("docs", DIM)
    await first.upsert("docs", DIM, [stored("paris")])
    await first.close()
    second = make_store(engine, tmp_path)
    await second.start()
    try:
        await second.create_collection("docs", DIM)
        assert await ids(second, ask(SearchMode.KEYWORD, text="Paris")) == []
    finally:
        await second.close()
