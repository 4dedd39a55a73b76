"""Resolve where a call goes: resource -> provider -> service address, with the checks the contract promises."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from google.protobuf.message import Message

from gateway.api_catalog import MethodRoute
from gateway.auth import require_access
from gateway.registry_servicer import not_registered
from gateway.registry_store import RegistryStore
from gateway.routing_key import MalformedMessage, read_string_field
from llama.common.v1 import resources_pb2 as res
from llama_mesh.resources import KIND_BY_NUMBER, check_identifier
from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument, Unavailable

# Routing keys of requests larger than this are read in a worker thread, so the event loop keeps serving others.
OFF_LOOP_READ_BYTES = 64 * 1024

_MODEL_TYPE_NAMES = {res.MODEL_TYPE_LLM: "llm", res.MODEL_TYPE_EMBEDDING: "embedding"}


@dataclass(frozen=True)
class Target:
    service: str
    address: str
    resource: Message | None


class Router:
    def __init__(self, config: RunConfig, store: RegistryStore) -> None:
        self._config = config
        self._store = store

    async def resolve(self, route: MethodRoute, request: bytes) -> Target:
        if not route.routing_field_number:
            return self._api_target(route.api)
        limit = self._config.gateway.max_routed_request_bytes
        if len(request) > limit:
            raise InvalidArgument(
                "request",
                f"is {len(request)} bytes; the gateway routes requests of at most {limit} bytes "
                "(gateway.max_routed_request_bytes)",
                reason="REQUEST_TOO_LARGE",
            )
        try:
            if len(request) > OFF_LOOP_READ_BYTES:
                identifier = await asyncio.to_thread(read_string_field, request, route.routing_field_number)
            else:
                identifier = read_string_field(request, route.routing_field_number)
        except MalformedMessage as exc:
            raise InvalidArgument(route.routing_field, f"cannot read the request: {exc}") from exc
        check_identifier(route.routing_field, identifier)
        kind = KIND_BY_NUMBER[route.resource_kind]
        require_access(kind, identifier)
        resource = await self._store.lookup(kind.kind, identifier)
        if resource is None:
            raise not_registered(kind, identifier)
        if route.model_type and resource.model_type != route.model_type:  # type: ignore[attr-defined]
            method = route.full_method.rsplit("/", 1)[-1]
            raise FailedPrecondition(
                f"model {identifier!r} is an {_MODEL_TYPE_NAMES.get(resource.model_type, 'unknown')} model; "  # type: ignore[attr-defined]
                f"{method} needs an {_MODEL_TYPE_NAMES[route.model_type]} model",
                reason="WRONG_MODEL_TYPE",
                identifier=identifier,
            )
        provider_id = resource.provider_id  # type: ignore[attr-defined]
        service = self._config.service_of_provider(provider_id)
        if service is None:
            raise FailedPrecondition(
                f"{kind.name} {identifier!r} is served by provider {provider_id!r}, which distribution "
                f"{self._config.distribution!r} does not run",
                reason="PROVIDER_NOT_RUNNING",
                provider_id=provider_id,
            )
        return Target(service.name, service.address, resource)

    def _api_target(self, api: str) -> Target:
        services = self._config.services_for(api)
        if not services:
            raise Unavailable(
                f"the {api} service is not part of distribution {self._config.distribution!r}",
                reason="SERVICE_NOT_CONFIGURED",
                api=api,
            )
        return Target(services[0].name, services[0].address, None)
