"""The vector stores a vector_io service hosts, one per provider of its run.yaml entry."""

from __future__ import annotations

from collections.abc import Callable

from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.errors import Unavailable
from services.vector_io.store import VectorStore


def _qdrant(provider: ProviderConfig, run: RunConfig) -> VectorStore:
    from services.vector_io.qdrant_store import QdrantConfig, QdrantVectorStore

    settings = QdrantConfig.model_validate(provider.config)
    return QdrantVectorStore(settings, default_path=run.data_path("vector_io", provider.provider_id))


PROVIDER_TYPES: dict[str, Callable[[ProviderConfig, RunConfig], VectorStore]] = {
    "inline::qdrant": _qdrant,
}


class VectorStores:
    def __init__(self, stores: dict[str, VectorStore]) -> None:
        self.stores = stores

    @classmethod
    def from_config(cls, providers: list[ProviderConfig], run: RunConfig) -> VectorStores:
        built: dict[str, VectorStore] = {}
        for provider in providers:
            factory = PROVIDER_TYPES.get(provider.provider_type)
            if factory is None:
                raise ValueError(
                    f"provider {provider.provider_id!r}: unknown provider_type {provider.provider_type!r}; "
                    f"known: {', '.join(PROVIDER_TYPES)}"
                )
            built[provider.provider_id] = factory(provider, run)
        return cls(built)

    def store(self, provider_id: str) -> VectorStore:
        if provider_id not in self.stores:
            raise Unavailable(
                f"provider {provider_id!r} is not hosted by this vector_io service (it hosts "
                f"{', '.join(self.stores) or 'none'})",
                reason="PROVIDER_NOT_HOSTED",
                provider_id=provider_id,
            )
        return self.stores[provider_id]

    async def start(self) -> None:
        for store in self.stores.values():
            await store.start()

    async def close(self) -> None:
        for store in self.stores.values():
            await store.close()
