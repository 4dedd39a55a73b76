"""The vector_io service's orphan sweep (llama_mesh/orphan_sweep.py): collections on storage at start-up that no
registered vector DB uses are dropped once the registry answers."""

from __future__ import annotations

from llama.common.v1 import resources_pb2 as res
from llama_mesh.orphan_sweep import SWEEP_DELAY_S, ListRegistered, OrphanSweep
from llama_mesh.resources import collection_name
from llama_mesh.runtime.config import AuthConfig
from services.vector_io.providers import VectorStores


async def stored_at_start(stores: VectorStores) -> dict[str, list[str]]:
    """The collections on each provider's storage, by provider id (call before serving)."""
    return {store_id: await store.collections() for store_id, store in stores.providers.items()}


def collection_sweep(
    auth: AuthConfig, stores: VectorStores, list_registered: ListRegistered, delay: float = SWEEP_DELAY_S
) -> OrphanSweep:
    def used_collection(vector_db: res.VectorDB) -> str:
        return collection_name(vector_db.provider_resource_id)

    async def drop(provider_id: str, name: str) -> None:
        await stores.providers[provider_id].drop_collection(name)

    return OrphanSweep(auth, "vector_io", "collection", list_registered, used_collection, drop, delay)
