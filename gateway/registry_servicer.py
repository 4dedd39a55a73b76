"""llama.registry.v1.RegistryService: register / get / list / unregister of every resource kind, one code path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import grpc
from google.protobuf.message import Message

from gateway.auth import current_caller, may_use, require_access
from gateway.registry_store import RegistryStore
from gateway.resource_lifecycle import ResourceLifecycle
from llama.common.v1 import resources_pb2 as res
from llama.registry.v1 import registry_pb2
from llama_mesh.resources import KINDS, ResourceKind, check_identifier, collection_name
from llama_mesh.runtime import paging
from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied

SERVICE_NAME = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name

Validator = Callable[[Message], Awaitable[None]]

# Kinds whose physical resource holds a principal's data: a registration may name (by provider_resource_id) only one
# that is not another principal's, and never one the mesh keeps for itself (an agent session's documents).
DATA_KINDS = frozenset({res.RESOURCE_KIND_VECTOR_DB, res.RESOURCE_KIND_DATASET})
INTERNAL_PHYSICAL_PREFIXES: dict[int, tuple[str, ...]] = {res.RESOURCE_KIND_VECTOR_DB: ("agent-session-",)}


def _physical_name(kind: ResourceKind, resource: Message) -> str:
    """What a registration's provider_resource_id names on its service's storage: a vector DB's collection, whose name
    two different ids can share (see collection_name)."""
    physical = resource.provider_resource_id  # type: ignore[attr-defined]
    return collection_name(physical) if kind.kind == res.RESOURCE_KIND_VECTOR_DB else physical


def _attached(kind: ResourceKind, resource: Message, existing: Message) -> Message:
    """`resource` as a second name for the physical resource `existing` holds: a vector DB takes its embedding model
    and dimension (another model's vectors would not fit the collection)."""
    if kind.kind == res.RESOURCE_KIND_VECTOR_DB:
        model = resource.embedding_model  # type: ignore[attr-defined]
        if model and model != existing.embedding_model:  # type: ignore[attr-defined]
            raise FailedPrecondition(
                f"vector_db.provider_resource_id {resource.provider_resource_id!r} is the collection of vector DB "  # type: ignore[attr-defined]
                f"{existing.identifier!r}, embedded with {existing.embedding_model!r}, not {model!r}",  # type: ignore[attr-defined]
                reason="EMBEDDING_MODEL_MISMATCH",
            )
        resource.embedding_model = existing.embedding_model  # type: ignore[attr-defined]
        resource.embedding_dimension = existing.embedding_dimension  # type: ignore[attr-defined]
    return resource


def _pascal(kind: ResourceKind) -> str:
    return kind.message.DESCRIPTOR.name


def _plural_pascal(kind: ResourceKind) -> str:
    return _pascal(kind) + "s"


class Registry:
    """The registry's rules, shared by the RPCs and by pre-registration from the distribution."""

    def __init__(self, store: RegistryStore, config: RunConfig, lifecycle: ResourceLifecycle | None = None) -> None:
        self.store = store
        self.config = config
        self.lifecycle = lifecycle
        self._validators: dict[int, Validator] = {
            res.RESOURCE_KIND_VECTOR_DB: self._check_vector_db,
            res.RESOURCE_KIND_BENCHMARK: self._check_benchmark,
        }

    def _physical_lock(self, kind: ResourceKind, resource: Message) -> AbstractAsyncContextManager[None]:
        """One registration or unregistration at a time per physical resource, from the checks of who else names it
        until the store is written: two callers checking at once would each find it free and both prepare it. The
        store holds it for every gateway that shares it."""
        return self.store.physical_lock((kind.kind, resource.provider_id, _physical_name(kind, resource)))  # type: ignore[attr-defined]

    def providers_of(self, api: str) -> list[str]:
        return [p.provider_id for service in self.config.services_for(api) for p in service.providers]

    async def register(self, kind: ResourceKind, resource: Message, *, prepare: bool = True) -> Message:
        """Validate, let the serving service prepare it (unless `prepare` is False), then store it."""
        field = kind.name
        identifier = resource.identifier  # type: ignore[attr-defined]
        check_identifier(f"{field}.identifier", identifier)
        require_access(kind, identifier)
        providers = self.providers_of(kind.api)
        provider_id = resource.provider_id  # type: ignore[attr-defined]
        if not provider_id:
            if not providers:
                raise FailedPrecondition(
                    f"no provider serves the {kind.api} API in distribution {self.config.distribution!r}",
                    reason="API_NOT_CONFIGURED",
                    api=kind.api,
                )
            if len(providers) > 1:
                raise InvalidArgument(
                    f"{field}.provider_id", f"is required: the {kind.api} API has providers {', '.join(providers)}"
                )
            resource.provider_id = providers[0]  # type: ignore[attr-defined]
        elif provider_id not in providers:
            raise NotFound(
                f"provider {provider_id!r} does not serve the {kind.api} API; its providers are: "
                f"{', '.join(providers) or 'none'}",
                reason="PROVIDER_NOT_FOUND",
                provider_id=provider_id,
            )
        if not resource.provider_resource_id:  # type: ignore[attr-defined]
            resource.provider_resource_id = identifier  # type: ignore[attr-defined]
        if kind.kind == res.RESOURCE_KIND_MODEL and resource.model_type == res.MODEL_TYPE_UNSPECIFIED:  # type: ignore[attr-defined]
            resource.model_type = res.MODEL_TYPE_LLM  # type: ignore[attr-defined]
        validator = self._validators.get(kind.kind)
        if validator is not None:
            await validator(resource)
        async with self._physical_lock(kind, resource):
            return await self._register_checked(kind, resource, prepare)

    async def _register_checked(self, kind: ResourceKind, resource: Message, prepare: bool) -> Message:
        identifier = resource.identifier  # type: ignore[attr-defined]
        if await self.store.get(kind.kind, identifier) is not None:
            raise _already_registered(kind, identifier)
        caller = current_caller()
        owner = "" if caller is None else caller.name
        await self._check_physical(kind, resource, owner, admin=caller is None or caller.admin)
        # A second name for data another registered resource already holds attaches to it: preparing would make the
        # physical resource anew (a vector DB's collection is created empty) and lose that data.
        sharing = await self._sharing(kind, resource) if kind.kind in DATA_KINDS else []
        if sharing:
            resource = _attached(kind, resource, sharing[0][0])
        elif prepare and self.lifecycle is not None:
            resource = await self.lifecycle.prepare(kind, resource)
        if not await self.store.insert(kind.kind, resource, owner):
            raise _already_registered(kind, identifier)
        return resource

    async def _sharing(self, kind: ResourceKind, resource: Message) -> list[tuple[Message, str]]:
        """The other registered resources (with their owners) backed by the same physical resource."""
        owners = await self.store.owners(kind.kind)
        physical = _physical_name(kind, resource)
        return [
            (other, owners.get(other.identifier, ""))  # type: ignore[attr-defined]
            for other in await self.store.list(kind.kind)
            if other.identifier != resource.identifier  # type: ignore[attr-defined]
            and other.provider_id == resource.provider_id  # type: ignore[attr-defined]
            and _physical_name(kind, other) == physical
        ]

    async def _check_physical(self, kind: ResourceKind, resource: Message, owner: str, *, admin: bool) -> None:
        """PERMISSION_DENIED for a provider_resource_id that names an internal resource, one holding another
        principal's data (admins, and a mesh with auth off, may share theirs), or, for data, a name the caller's token
        may not use: otherwise it could take a name of another principal's before they register it."""
        identifier, physical = resource.identifier, resource.provider_resource_id  # type: ignore[attr-defined]
        internal = INTERNAL_PHYSICAL_PREFIXES.get(kind.kind, ())
        if physical != identifier and physical.startswith(internal):
            raise PermissionDenied(
                f"{kind.name}.provider_resource_id {physical!r} names a resource the mesh keeps for itself",
                reason="RESOURCE_ALIAS_REFUSED",
                kind=kind.name,
            )
        if admin or kind.kind not in DATA_KINDS:
            return
        require_access(kind, physical, field=f"{kind.name}.provider_resource_id")
        if any(other_owner != owner for _, other_owner in await self._sharing(kind, resource)):
            raise PermissionDenied(
                f"{kind.name}.provider_resource_id {physical!r} holds another principal's data; register a "
                "resource of your own instead",
                reason="RESOURCE_ALIAS_REFUSED",
                kind=kind.name,
            )

    async def get(self, kind: ResourceKind, identifier: str, field: str) -> Message:
        check_identifier(field, identifier)
        require_access(kind, identifier)
        resource = await self.store.get(kind.kind, identifier)
        if resource is None:
            raise not_registered(kind, identifier)
        return resource

    async def unregister(self, kind: ResourceKind, identifier: str, field: str) -> Message:
        check_identifier(field, identifier)
        require_access(kind, identifier)
        resource = await self.store.get(kind.kind, identifier)
        if resource is None:
            raise not_registered(kind, identifier)
        async with self._physical_lock(kind, resource):
            # The physical resource goes only with the last registration that names it.
            if self.lifecycle is not None and not await self._sharing(kind, resource):
                await self.lifecycle.release(kind, resource)
            removed = await self.store.delete(kind.kind, identifier)
        if removed is None:  # unregistered meanwhile by another call
            raise not_registered(kind, identifier)
        return removed

    async def page(self, kind: ResourceKind, page_size: int, page_token: str) -> tuple[list[Message], str]:
        size = paging.page_size(page_size)
        listing = f"registry.{kind.plural}"
        after = paging.read_key(page_token, listing) or ""
        items = [
            item
            for item in await self.store.list(kind.kind)
            if item.identifier > after and may_use(kind, item.identifier)  # type: ignore[attr-defined]
        ]
        page = items[:size]
        next_token = paging.make_token(listing, page[-1].identifier) if len(items) > size else ""  # type: ignore[attr-defined]
        return page, next_token

    async def _check_vector_db(self, vector_db: Message) -> None:
        model_id = vector_db.embedding_model  # type: ignore[attr-defined]
        if not model_id:
            raise InvalidArgument("vector_db.embedding_model", "is required")
        model = await self.store.get(res.RESOURCE_KIND_MODEL, model_id)
        if model is None:
            raise NotFound(
                f"embedding model {model_id!r} is not registered",
                reason="RESOURCE_NOT_FOUND",
                kind="model",
                identifier=model_id,
            )
        if model.model_type != res.MODEL_TYPE_EMBEDDING:  # type: ignore[attr-defined]
            raise FailedPrecondition(
                f"model {model_id!r} is not an embedding model", reason="WRONG_MODEL_TYPE", identifier=model_id
            )
        dimension = int(model.metadata["embedding_dimension"]) if "embedding_dimension" in model.metadata else 0  # type: ignore[attr-defined]
        if vector_db.embedding_dimension == 0:  # type: ignore[attr-defined]
            vector_db.embedding_dimension = dimension  # type: ignore[attr-defined]
        elif dimension and vector_db.embedding_dimension != dimension:  # type: ignore[attr-defined]
            raise InvalidArgument(
                "vector_db.embedding_dimension",
                f"is {vector_db.embedding_dimension} but model {model_id!r} makes {dimension}-d embeddings",  # type: ignore[attr-defined]
            )
        if vector_db.embedding_dimension <= 0:  # type: ignore[attr-defined]
            raise InvalidArgument("vector_db.embedding_dimension", "must be positive")

    async def _check_benchmark(self, benchmark: Message) -> None:
        dataset_id = benchmark.dataset_id  # type: ignore[attr-defined]
        if not dataset_id:
            raise InvalidArgument("benchmark.dataset_id", "is required")
        if await self.store.get(res.RESOURCE_KIND_DATASET, dataset_id) is None:
            raise NotFound(
                f"dataset {dataset_id!r} is not registered",
                reason="RESOURCE_NOT_FOUND",
                kind="dataset",
                identifier=dataset_id,
            )


def _already_registered(kind: ResourceKind, identifier: str) -> AlreadyExists:
    return AlreadyExists(
        f"{kind.name} {identifier!r} is already registered; unregister it first to change it",
        reason="RESOURCE_ALREADY_EXISTS",
        kind=kind.name,
        identifier=identifier,
    )


def not_registered(kind: ResourceKind, identifier: str) -> NotFound:
    command = f"llama-mesh {kind.plural.replace('_', '-')} list"
    return NotFound(
        f"{kind.name} {identifier!r} is not registered (list them with `{command}`)",
        reason="RESOURCE_NOT_FOUND",
        kind=kind.name,
        identifier=identifier,
    )


def registry_handler(registry: Registry) -> grpc.GenericRpcHandler:
    """Handlers for every RegistryService RPC, built from the resource kinds table."""
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for kind in KINDS:
        handlers.update(_kind_handlers(registry, kind))
    return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)


def _kind_handlers(registry: Registry, kind: ResourceKind) -> dict[str, grpc.RpcMethodHandler]:
    name, plural = _pascal(kind), _plural_pascal(kind)
    messages = registry_pb2
    id_field = f"{kind.name}_id"

    async def register(request: Message, context: grpc.aio.ServicerContext) -> Message:
        resource = kind.message()
        resource.CopyFrom(getattr(request, kind.name))
        return await registry.register(kind, resource)

    async def get(request: Message, context: grpc.aio.ServicerContext) -> Message:
        return await registry.get(kind, getattr(request, id_field), id_field)

    async def list_(request: Message, context: grpc.aio.ServicerContext) -> Message:
        items, next_token = await registry.page(kind, request.page_size, request.page_token)  # type: ignore[attr-defined]
        response = getattr(messages, f"List{plural}Response")()
        getattr(response, kind.plural).extend(items)
        response.next_page_token = next_token
        return response

    async def unregister(request: Message, context: grpc.aio.ServicerContext) -> Message:
        return await registry.unregister(kind, getattr(request, id_field), id_field)

    def unary(behavior: Callable[..., Awaitable[Message]], request_type: type[Message]) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(
            behavior, request_deserializer=request_type.FromString, response_serializer=lambda m: m.SerializeToString()
        )

    return {
        f"Register{name}": unary(register, getattr(messages, f"Register{name}Request")),
        f"Get{name}": unary(get, getattr(messages, f"Get{name}Request")),
        f"List{plural}": unary(list_, getattr(messages, f"List{plural}Request")),
        f"Unregister{name}": unary(unregister, getattr(messages, f"Unregister{name}Request")),
    }
