"""What a crash leaves behind, removed after a service starts: physical resources (a vector DB's collection, a
dataset's appended rows) that no registered resource uses. A crash between a service's prepare and the gateway's
registry write, or between the registry's delete and the service's release, or a write that raced an unregister,
leaves such orphans.

Only what was on storage when the service started is a candidate (the caller lists it before serving), so a
resource being registered right now is never touched. The sweep waits `delay` seconds first (a registration that
was between its prepare and its registry write when the service started has landed by then), then asks the
registry, through the gateway, which resources exist, retrying while the gateway is not up yet.

The registry is asked with the services' own token, so the sweep runs only where that view is complete: with auth
off, or when the token that `gateway.auth.service_token` names may use every resource (`resources: all`). A token
limited to some resources would not see the others, and their data must not be taken for orphans.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import grpc
from google.protobuf.message import Message

from llama.registry.v1 import registry_pb2
from llama_mesh.resources import ResourceKind
from llama_mesh.runtime.config import AuthConfig
from llama_mesh.runtime.errors import RemoteError
from llama_mesh.runtime.gateway_client import GatewayClient

log = logging.getLogger(__name__)

SWEEP_DELAY_S = 30.0
RETRY_S = (1.0, 30.0)  # while the gateway does not answer: wait 1 s, doubling up to 30 s
GIVE_UP_AFTER_S = 3600.0
LIST_TIMEOUT_S = 60.0

ListRegistered = Callable[[], Awaitable[Sequence[Any]]]
# The physical name a registered resource uses on its provider's storage.
PhysicalName = Callable[[Any], str]
# Removes one orphan: (provider id, physical name).
Drop = Callable[[str, str], Awaitable[None]]


def registry_view_complete(auth: AuthConfig) -> bool:
    """Whether the registry lists every resource to the services' own calls: auth is off, or the services' token
    may use every resource."""
    if not auth.enabled:
        return True
    token = next(token for token in auth.tokens if token.name == auth.service_token)
    return token.resources == "all"


def registry_lister(gateway: GatewayClient, kind: ResourceKind) -> ListRegistered:
    """Lists every registered resource of `kind` through the gateway, all pages."""
    plural = kind.message.DESCRIPTOR.name + "s"
    method = getattr(gateway.registry, f"List{plural}")
    request_type = getattr(registry_pb2, f"List{plural}Request")

    async def list_registered() -> list[Message]:
        found: list[Message] = []
        token = ""
        while True:
            page = await gateway.call(method, request_type(page_token=token), LIST_TIMEOUT_S)
            found.extend(getattr(page, kind.plural))
            token = page.next_page_token
            if not token:
                return found

    return list_registered


async def _registered_when_up(list_registered: ListRegistered) -> Sequence[Any] | None:
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


class OrphanSweep:
    """One service's sweep, started once its storage is listed and cancelled when the service stops:

    sweep = OrphanSweep(config.gateway.auth, "vector_io", "collection", registry_lister(gateway, kind), name_of, drop)
    sweep.start(await stored_names())   # in start-up, before serving
    await sweep.stop()                  # in shutdown
    """

    def __init__(
        self,
        auth: AuthConfig,
        service: str,
        what: str,
        list_registered: ListRegistered,
        physical_name: PhysicalName,
        drop: Drop,
        delay: float = SWEEP_DELAY_S,
    ) -> None:
        self._auth = auth
        self._service = service
        self._what = what
        self._list_registered = list_registered
        self._physical_name = physical_name
        self._drop = drop
        self._delay = delay
        self._task: asyncio.Task[list[str]] | None = None

    def start(self, candidates: Mapping[str, Sequence[str]]) -> None:
        if not registry_view_complete(self._auth):
            log.warning(
                "%s: no orphan sweep: the services' token (gateway.auth.service_token) may not use every resource, "
                "so the registry would not list them all to it; give it `resources: all` to have orphans removed",
                self._service,
            )
            return
        self._task = asyncio.create_task(self.run(candidates))

    async def run(self, candidates: Mapping[str, Sequence[str]]) -> list[str]:
        """After the delay, drop each candidate (by provider id, the physical names on storage at start-up) that no
        registered resource of its provider uses; the dropped names."""
        await asyncio.sleep(self._delay)
        registered = await _registered_when_up(self._list_registered)
        if registered is None:
            return []
        dropped = []
        for provider_id, names in candidates.items():
            used = {self._physical_name(item) for item in registered if item.provider_id == provider_id}
            for name in names:
                if name not in used:
                    log.warning(
                        "%s: dropping %s %s of provider %s: no registered resource uses it",
                        self._service,
                        self._what,
                        name,
                        provider_id,
                    )
                    await self._drop(provider_id, name)
                    dropped.append(name)
        log.info("%s: orphan sweep done: %d dropped", self._service, len(dropped))
        return dropped

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
