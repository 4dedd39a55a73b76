"""Registry collections (`client.models`, `client.shields`, ...): one generic class per flavour for every kind.

    client.models.list()                                   # every page, as a list of Model protos
    client.models.get("smollm2-135m-instruct")
    client.models.register("my-llm", provider_id="llama-cpp", provider_resource_id="SmolLM2-135M-Instruct")
    client.vector_dbs.register("docs", embedding_model="all-MiniLM-L6-v2", embedding_dimension=384)
    client.shields.unregister("guard")

Other kinds' `register` takes the resource's fields as keywords (dicts for Struct fields, enum values by short name,
e.g. purpose="eval_question_answer"), or a ready resource proto as its only argument.
"""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from llama.common.v1 import resources_pb2 as res
from llama.registry.v1 import registry_pb2_grpc
from llama_mesh.client.resource_requests import ResourceRequests
from llama_mesh.client.transport import AsyncTransport, Transport
from llama_mesh.resources import ResourceKind

R = TypeVar("R", bound=Message)


class Resources(Generic[R]):
    """Register, get, list and unregister resources of one kind (blocking)."""

    def __init__(self, transport: Transport, stub: registry_pb2_grpc.RegistryServiceStub, kind: ResourceKind) -> None:
        self._transport = transport
        self._stub = stub
        self._requests = ResourceRequests(kind)

    @property
    def kind(self) -> ResourceKind:
        return self._requests.kind

    def build(self, identifier: str, provider_id: str = "", provider_resource_id: str = "", **fields: Any) -> R:
        """The resource proto `register` would send for these values (TypeError / ValueError for bad fields)."""
        return self._requests.resource(identifier, provider_id, provider_resource_id, **fields)  # type: ignore[return-value]

    def _call(self, rpc: str, request: Message, timeout: float | None) -> Any:
        return self._transport.unary(getattr(self._stub, rpc), request, timeout)

    def iter(self, *, page_size: int = 0, timeout: float | None = None) -> Iterator[R]:
        """Every resource of this kind, fetching page after page (page_size 0: the server's default)."""
        method = getattr(self._stub, self._requests.list_rpc)
        return self._transport.pages(method, self._requests.list(page_size), self._requests.kind.plural, timeout)

    def list(self, *, page_size: int = 0, timeout: float | None = None) -> list[R]:
        """All resources of this kind (every page)."""
        return list(self.iter(page_size=page_size, timeout=timeout))

    def get(self, identifier: str, *, timeout: float | None = None) -> R:
        """The resource called `identifier`; NotFoundError when there is none."""
        return self._call(self._requests.get_rpc, self._requests.get(identifier), timeout)

    def register(
        self,
        identifier: str | R,
        provider_id: str = "",
        provider_resource_id: str = "",
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> R:
        """Register a resource and return it as stored (provider_id and provider_resource_id filled in).

        AlreadyExistsError for a taken identifier, NotFoundError for an unknown provider.
        """
        resource = self._requests.resource(identifier, provider_id, provider_resource_id, **fields)
        return self._call(self._requests.register_rpc, self._requests.register(resource), timeout)

    def unregister(self, identifier: str, *, timeout: float | None = None) -> R:
        """Remove the resource and return what it was; NotFoundError when there is none."""
        return self._call(self._requests.unregister_rpc, self._requests.unregister(identifier), timeout)


class Models(Resources[res.Model]):
    """`client.models`: the generic collection with a typed `register`."""

    def register(  # type: ignore[override]
        self,
        identifier: str | res.Model,
        provider_id: str = "",
        provider_resource_id: str = "",
        model_type: str | int = "llm",
        metadata: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> res.Model:
        """Register a model; model_type "llm" or "embedding" (embedding models carry "embedding_dimension" in
        metadata)."""
        if isinstance(identifier, res.Model):
            return super().register(identifier, timeout=timeout)
        return super().register(
            identifier, provider_id, provider_resource_id, timeout=timeout, model_type=model_type, metadata=metadata
        )


class AsyncResources(Generic[R]):
    """The async flavour of `Resources`: the same methods, awaited (`iter` is an async iterator)."""

    def __init__(
        self, transport: AsyncTransport, stub: registry_pb2_grpc.RegistryServiceStub, kind: ResourceKind
    ) -> None:
        self._transport = transport
        self._stub = stub
        self._requests = ResourceRequests(kind)

    @property
    def kind(self) -> ResourceKind:
        return self._requests.kind

    def build(self, identifier: str, provider_id: str = "", provider_resource_id: str = "", **fields: Any) -> R:
        """The resource proto `register` would send for these values (TypeError / ValueError for bad fields)."""
        return self._requests.resource(identifier, provider_id, provider_resource_id, **fields)  # type: ignore[return-value]

    async def _call(self, rpc: str, request: Message, timeout: float | None) -> Any:
        return await self._transport.unary(getattr(self._stub, rpc), request, timeout)

    def iter(self, *, page_size: int = 0, timeout: float | None = None) -> AsyncIterator[R]:
        """Every resource of this kind, fetching page after page."""
        method = getattr(self._stub, self._requests.list_rpc)
        return self._transport.pages(method, self._requests.list(page_size), self._requests.kind.plural, timeout)

    async def list(self, *, page_size: int = 0, timeout: float | None = None) -> list[R]:
        """All resources of this kind (every page)."""
        return [item async for item in self.iter(page_size=page_size, timeout=timeout)]

    async def get(self, identifier: str, *, timeout: float | None = None) -> R:
        return await self._call(self._requests.get_rpc, self._requests.get(identifier), timeout)

    async def register(
        self,
        identifier: str | R,
        provider_id: str = "",
        provider_resource_id: str = "",
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> R:
        resource = self._requests.resource(identifier, provider_id, provider_resource_id, **fields)
        return await self._call(self._requests.register_rpc, self._requests.register(resource), timeout)

    async def unregister(self, identifier: str, *, timeout: float | None = None) -> R:
        return await self._call(self._requests.unregister_rpc, self._requests.unregister(identifier), timeout)


class AsyncModels(AsyncResources[res.Model]):
    """`client.models` of the async client."""

    async def register(  # type: ignore[override]
        self,
        identifier: str | res.Model,
        provider_id: str = "",
        provider_resource_id: str = "",
        model_type: str | int = "llm",
        metadata: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> res.Model:
        if isinstance(identifier, res.Model):
            return await super().register(identifier, timeout=timeout)
        return await super().register(
            identifier, provider_id, provider_resource_id, timeout=timeout, model_type=model_type, metadata=metadata
        )
