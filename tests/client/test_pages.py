"""The client's one page iterator (Transport.pages / AsyncTransport.pages) over a List method."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from llama.common.v1 import resources_pb2
from llama.registry.v1 import registry_pb2
from llama_mesh.client.errors import InvalidArgumentError
from llama_mesh.client.transport import AsyncTransport, Transport


class FakeList:
    """A ListModels method over five models, two per page; records the tokens it was asked for."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def reply(self, request: registry_pb2.ListModelsRequest) -> registry_pb2.ListModelsResponse:
        self.tokens.append(request.page_token)
        start = int(request.page_token or 0)
        models = [resources_pb2.Model(identifier=f"m{i}") for i in range(start, min(start + 2, 5))]
        following = start + 2
        return registry_pb2.ListModelsResponse(models=models, next_page_token=str(following) if following < 5 else "")

    def __call__(self, request: registry_pb2.ListModelsRequest, **options: object) -> registry_pb2.ListModelsResponse:
        return self.reply(request)


def test_pages_follow_tokens_lazily() -> None:
    method = FakeList()
    transport = Transport(channel=grpc.insecure_channel("127.0.0.1:1"))
    items = transport.pages(method, registry_pb2.ListModelsRequest(page_size=2), "models")
    assert next(items).identifier == "m0"
    assert method.tokens == [""]  # the next page is fetched only when needed
    assert [m.identifier for m in items] == ["m1", "m2", "m3", "m4"]
    assert method.tokens == ["", "2", "4"]


def test_async_pages_match_sync() -> None:
    method = FakeList()

    async def call(request: registry_pb2.ListModelsRequest, **options: object) -> registry_pb2.ListModelsResponse:
        return method.reply(request)

    async def collect() -> list[str]:
        transport = AsyncTransport(channel=grpc.aio.insecure_channel("127.0.0.1:1"))
        pages = transport.pages(call, registry_pb2.ListModelsRequest(), "models")
        return [m.identifier async for m in pages]

    assert asyncio.run(collect()) == ["m0", "m1", "m2", "m3", "m4"]


def test_a_refused_page_raises_the_client_error() -> None:
    class Refused(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.INVALID_ARGUMENT

        def details(self) -> str:
            return "page_token: is not a page token this server returned for this list"

        def trailing_metadata(self) -> tuple:
            return ()

    def refuse(request: registry_pb2.ListModelsRequest, **options: object) -> None:
        raise Refused()

    transport = Transport(channel=grpc.insecure_channel("127.0.0.1:1"))
    with pytest.raises(InvalidArgumentError, match="page_token"):
        list(transport.pages(refuse, registry_pb2.ListModelsRequest(page_token="x"), "models"))
