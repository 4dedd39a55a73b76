"""Bytes that are not the request message are INVALID_ARGUMENT for every RPC a server serves (grpc alone answers
UNKNOWN "Unexpected DecodeError"): the error mapping every service and the gateway use parses tolerantly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from llama.agents.v1 import agents_pb2, agents_pb2_grpc
from llama_mesh.runtime.interceptors import ErrorMappingInterceptor

GARBAGE = [b"\xff\xff\xff\xff", b"\x0a\x05ab", b"\x0b"]  # bad varint, truncated field, a group that never ends


class Agents(agents_pb2_grpc.AgentsServiceServicer):
    calls: list[str] = []

    async def GetAgent(self, request, context):  # noqa: N802 - the generated name
        self.calls.append(request.agent_id)
        return agents_pb2.Agent(agent_id=request.agent_id)

    async def CreateTurn(self, request, context) -> AsyncIterator[agents_pb2.CreateTurnResponse]:  # noqa: N802
        self.calls.append(request.session_id)
        yield agents_pb2.CreateTurnResponse()


async def _codes(method: str, streaming: bool) -> list[tuple[grpc.StatusCode, str]]:
    server = grpc.aio.server(interceptors=[ErrorMappingInterceptor()])
    agents_pb2_grpc.add_AgentsServiceServicer_to_server(Agents(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    results = []
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            for data in GARBAGE:
                try:
                    if streaming:
                        async for _ in channel.unary_stream(method)(data, timeout=10):
                            pass
                    else:
                        await channel.unary_unary(method)(data, timeout=10)
                    results.append((grpc.StatusCode.OK, ""))
                except grpc.aio.AioRpcError as error:
                    results.append((error.code(), error.details() or ""))
            ok = await channel.unary_unary(
                method.replace("CreateTurn", "GetAgent"),
                request_serializer=agents_pb2.GetAgentRequest.SerializeToString,
                response_deserializer=agents_pb2.Agent.FromString,
            )(agents_pb2.GetAgentRequest(agent_id="a1"), timeout=10)
            assert ok.agent_id == "a1"  # a well-formed request still parses
    finally:
        await server.stop(None)
    return results


@pytest.mark.parametrize(
    ("method", "streaming"),
    [("/llama.agents.v1.AgentsService/GetAgent", False), ("/llama.agents.v1.AgentsService/CreateTurn", True)],
)
def test_undecodable_bytes_are_an_invalid_argument(method: str, streaming: bool) -> None:
    Agents.calls = []
    results = asyncio.run(_codes(method, streaming))
    assert [code for code, _ in results] == [grpc.StatusCode.INVALID_ARGUMENT] * len(GARBAGE)
    assert all("not its request message" in details for _, details in results)
    assert Agents.calls == ["a1"]  # the handler never ran on garbage
