"""The orphan sweep of the vector_io service: collections on storage at start-up that no registered vector DB uses
(a crash between prepare and the registry write) are dropped once the registry answers; used ones, and ones created
after the start, are kept."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from llama.common.v1 import resources_pb2 as res
from llama_mesh import orphan_sweep
from llama_mesh.runtime.config import AuthConfig
from llama_mesh.runtime.errors import RemoteError
from services.vector_io import orphans
from services.vector_io.provider import SearchMode, SearchQuery, StoredChunk
from services.vector_io.providers import VectorStores
from tests.vector_io.test_store_contract import ENGINES, make_store

DIM = 4


def _chunk(text: str) -> StoredChunk:
    return StoredChunk(text, text, {"text": text}, {}, [1.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("engine", ENGINES)
async def test_orphans_are_dropped_once_the_registry_answers(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orphan_sweep, "RETRY_S", (0.01, 0.01))
    store = make_store(engine, tmp_path)
    await store.start()
    stores = VectorStores({"qdrant": store})
    try:
        for name in ("kept", "orphan"):
            await store.create_collection(name, DIM)
            await store.upsert(name, DIM, [_chunk(f"{name} words")])
        candidates = await orphans.stored_at_start(stores)
        assert candidates == {"qdrant": ["kept", "orphan"]}
        await store.create_collection("fresh", DIM)  # registered after the start: never a candidate
        answers: list[object] = [
            RemoteError(grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata())),
            [res.VectorDB(identifier="k", provider_id="qdrant", provider_resource_id="kept")],
        ]

        async def list_registered() -> list[res.VectorDB]:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer  # type: ignore[return-value]

        sweep = orphans.collection_sweep(AuthConfig(), stores, list_registered, delay=0)
        dropped = await sweep.run(candidates)
        assert dropped == ["orphan"] and answers == []
        assert await store.collections() == ["fresh", "kept"]
        hits = await store.search("kept", DIM, SearchQuery(SearchMode.KEYWORD, "kept", None, 10))
        assert [hit.chunk.chunk_id for hit in hits] == ["kept words"]
    finally:
        await stores.close()
