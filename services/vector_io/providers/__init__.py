"""The vector stores a vector_io service hosts, one per provider of its run.yaml entry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.hosted_providers import HostedProviders
from services.vector_io.provider import VectorStore
from services.vector_io.providers.qdrant_config import QdrantConfig


def _qdrant(provider: ProviderConfig, run: RunConfig) -> VectorStore:
    """Qdrant Edge in-process by default; qdrant-client's local mode or a Qdrant server by `engine` (see
    qdrant_config). Each engine's library is imported only when it is used."""
    settings = QdrantConfig.model_validate(provider.config)
    default_path = run.data_path("vector_io", provider.provider_id)
    if settings.engine == "edge":
        from services.vector_io.providers.qdrant_edge import EdgeVectorStore

        root = Path(settings.path).expanduser() if settings.path else default_path / "edge"
        return EdgeVectorStore(root, hnsw=settings.hnsw if settings.vector_index == "hnsw" else None)
    from services.vector_io.providers.qdrant import QdrantVectorStore

    return QdrantVectorStore(settings, default_path=default_path)


PROVIDER_TYPES: dict[str, Callable[[ProviderConfig, RunConfig], VectorStore]] = {
    "inline::qdrant": _qdrant,
}


class VectorStores(HostedProviders[VectorStore]):
    """The vector stores of one vector_io service, by provider id."""

    api = "vector_io"
    factories = PROVIDER_TYPES

    async def start(self) -> None:
        for store in self:
            await store.start()

    async def close(self) -> None:
        for store in self:
            await store.close()
