"""The registry's calls to the service that serves a resource: prepare it before it is stored, release it before it
is removed (llama.provider.v1.ResourceLifecycleService), for the caller who registers or unregisters it (so that, e.g.,
a post-training checkpoint is registered only by its owner). A service that does not implement them accepts resources
as they are."""

from __future__ import annotations

import logging

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message

from gateway.auth import caller_headers
from gateway.backends import Backends
from llama.provider.v1 import provider_pb2, provider_pb2_grpc
from llama_mesh.resources import ResourceKind
from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.errors import RemoteError, Unavailable, answered_by_service
from llama_mesh.runtime.trace_context import trace_headers

log = logging.getLogger(__name__)

# Preparing may load a model: allow for it.
PREPARE_TIMEOUT_SECONDS = 600.0
RELEASE_TIMEOUT_SECONDS = 60.0


class ResourceLifecycle:
    def __init__(self, config: RunConfig, backends: Backends) -> None:
        self._config = config
        self._backends = backends

    def _stub(self, resource: Message) -> tuple[provider_pb2_grpc.ResourceLifecycleServiceStub, str, str] | None:
        service = self._config.service_of_provider(resource.provider_id)  # type: ignore[attr-defined]
        if service is None:
            return None
        channel = self._backends.channel(service.address)
        return provider_pb2_grpc.ResourceLifecycleServiceStub(channel), service.name, service.address

    async def prepare(self, kind: ResourceKind, resource: Message) -> Message:
        """The resource as the service completed it; the service's error if it cannot serve it."""
        target = self._stub(resource)
        if target is None:
            return resource
        stub, service, address = target
        packed = any_pb2.Any()
        packed.Pack(resource)
        try:
            reply = await stub.PrepareResource(
                provider_pb2.PrepareResourceRequest(resource=packed),
                timeout=PREPARE_TIMEOUT_SECONDS,
                metadata=[*trace_headers(), *caller_headers()],
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.UNIMPLEMENTED:
                return resource
            raise _failure(error, kind, resource, service, address) from error
        prepared = kind.message()
        if not reply.resource.Unpack(prepared):
            return resource
        return prepared

    async def release(self, kind: ResourceKind, resource: Message) -> None:
        target = self._stub(resource)
        if target is None:
            return
        stub, service, address = target
        packed = any_pb2.Any()
        packed.Pack(resource)
        try:
            await stub.ReleaseResource(
                provider_pb2.ReleaseResourceRequest(resource=packed),
                timeout=RELEASE_TIMEOUT_SECONDS,
                metadata=[*trace_headers(), *caller_headers()],
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.NOT_FOUND):
                return
            raise _failure(error, kind, resource, service, address) from error


def _failure(
    error: grpc.aio.AioRpcError, kind: ResourceKind, resource: Message, service: str, address: str
) -> Exception:
    if error.code() == grpc.StatusCode.UNAVAILABLE and not answered_by_service(error):
        log.warning("the %s service at %s is not reachable: %s", service, address, error.details())
        return Unavailable(
            f"cannot change {kind.name} {resource.identifier!r}: the {service} service "  # type: ignore[attr-defined]
            "is not reachable; nothing was changed",
            reason="SERVICE_UNAVAILABLE",
            service=service,
        )
    return RemoteError(error)
