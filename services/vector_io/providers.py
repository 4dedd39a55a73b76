"""The vector stores a vector_io service hosts, one per provider of its run.yaml entry."""

from __future__ import annotations

from collections.abc import Callable

from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.hosted_providers import HostedProviders
from services.vector_io.store import VectorStore


def _qdrant(provider: ProviderConfig, run: RunConfig) -> VectorStore:
    from services.vector_io.qdrant_store import QdrantConfig, QdrantVectorStore

    settings = QdrantConfig.model_validate(provider.config)
    return QdrantVectorStore(settings, default_path=run.data_path("vector_io", provider.provider_id))


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
