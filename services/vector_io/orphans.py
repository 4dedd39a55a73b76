"""Collections no registered vector DB uses, removed after a start: what a crash left between a vector DB's prepare
(its collection created here) and the gateway's registry write, or between the registry's delete and the drop.

Only collections that were on storage when the service started are candidates (`stored_at_start`), so a vector DB
being registered right now is never touched; the sweep waits SWEEP_DELAY_S first (a registration that was between
its prepare and its registry write when this process started has landed by then), then asks the registry, through
the gateway, which vector DBs exist, retrying while the gateway is not up yet. It runs only where the gateway has no
auth: a token's view of the registry may leave out vector DBs (resources it may not use), and those must not be
taken for orphans.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import grpc

from llama.common.v1 import resources_pb2 as res
from llama.registry.v1 import registry_pb2
from llama_mesh.runtime.errors import RemoteError
from llama_mesh.runtime.gateway_client import GatewayClient
from services.vector_io.chunk_points import collection_name
from services.vector_io.providers import VectorStores

log = logging.getLogger(__name__)

SWEEP_DELAY_S = 30.0
RETRY_S = (1.0, 30.0)  # while the gateway does not answer: wait 1 s, doubling up to 30 s
GIVE_UP_AFTER_S = 3600.0

ListRegistered = Callable[[], Awaitable[list[res.VectorDB]]]


async def stored_at_start(stores: VectorStores) -> dict[str, list[str]]:
    """The collections on each provider's storage, by provider id (call before serving)."""
    return {store_id: await store.collections() for store_id, store in stores.providers.items()}


def registry_lister(gateway: GatewayClient) -> ListRegistered:
    async def list_registered() -> list[res.VectorDB]:
        found: list[res.VectorDB] = []
        token = ""
        while True:
            page = await gateway.call(
                gateway.registry.ListVectorDBs, registry_pb2.ListVectorDBsRequest(page_token=token), 60.0
            )
            found.extend(page.vector_dbs)
            token = page.next_page_token
            if not token:
                return found

    return list_registered


async def _registered_when_up(list_registered: ListRegistered) -> list[res.VectorDB] | None:
    delay, waited = RETRY_S[0], 0.0
    while waited < GIVE_UP_AFTER_S:
        try:
            return await list_registered()
        except RemoteError as error:
            if error.code != grpc.StatusCode.UNAVAILABLE:
                log.warning("orphan sweep skipped: the registry answered %s", error)
                return None
        await asyncio.sleep(delay)
        waited += delay
        delay = min(delay * 2, RETRY_S[1])
    log.warning("orphan sweep skipped: the gateway did not answer")
    return None


async def sweep_orphans(
    stores: VectorStores,
    candidates: dict[str, list[str]],
    list_registered: ListRegistered,
    delay: float = SWEEP_DELAY_S,
) -> list[str]:
    """Drop each candidate collection that no registered vector DB of its provider uses; the dropped names."""
    await asyncio.sleep(delay)
    registered = await _registered_when_up(list_registered)
    if registered is None:
        return []
    dropped = []
    for provider_id, names in candidates.items():
        used = {collection_name(db.provider_resource_id) for db in registered if db.provider_id == provider_id}
        for name in names:
            if name not in used:
                log.warning("vector_io: dropping collection %s of provider %s: no vector DB uses it", name, provider_id)
                await stores.providers[provider_id].drop_collection(name)
                dropped.append(name)
    return dropped
