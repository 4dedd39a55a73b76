"""ToolRuntimeService.ListRuntimeTools in-process with a fake provider: AIP-158 paging (a large page_size is clamped,
tokens are opaque and bound to their tool group)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from llama.common.v1 import resources_pb2
from llama.tool_runtime.v1 import tool_runtime_pb2 as pb
from llama.tool_runtime.v1 import tool_runtime_pb2_grpc
from llama_mesh.runtime.paging import MAX_PAGE_SIZE
from services.tool_runtime.provider import ToolResult, ToolRuntimeProvider, ToolSpec
from services.tool_runtime.providers import ToolRuntimeProviders
from services.tool_runtime.servicer import ToolRuntimeServicer
from tests.fast.harness import as_resolved, connected

TOOLS = 1203  # more than one clamped page


class ManyTools(ToolRuntimeProvider):
    async def list_tools(self, tool_group: resources_pb2.ToolGroup, time_left: float | None) -> list[ToolSpec]:
        return [ToolSpec(f"tool_{index:04}", "a tool", {"type": "object"}) for index in range(TOOLS)]

    async def invoke(
        self, tool_group: resources_pb2.ToolGroup, tool_name: str, kwargs: dict[str, Any], time_left: float | None
    ) -> ToolResult:
        raise NotImplementedError


GROUP = resources_pb2.ToolGroup(identifier="many", provider_id="fake")
OTHER = resources_pb2.ToolGroup(identifier="other", provider_id="fake")


async def _list(
    stub: tool_runtime_pb2_grpc.ToolRuntimeServiceStub, group: resources_pb2.ToolGroup, **fields: Any
) -> pb.ListRuntimeToolsResponse:
    request = pb.ListRuntimeToolsRequest(tool_group_id=group.identifier, **fields)
    return await stub.ListRuntimeTools(request, metadata=as_resolved(group), timeout=30)


async def test_pages_clamp_and_refuse_foreign_tokens() -> None:
    servicer = ToolRuntimeServicer(ToolRuntimeProviders({"fake": ManyTools()}))
    async with connected((tool_runtime_pb2_grpc.add_ToolRuntimeServiceServicer_to_server, servicer)) as channel:
        stub = tool_runtime_pb2_grpc.ToolRuntimeServiceStub(channel)
        first = await _list(stub, GROUP, page_size=MAX_PAGE_SIZE * 5)
        assert len(first.tools) == MAX_PAGE_SIZE and first.next_page_token  # clamped, not refused
        rest = await _list(stub, GROUP, page_size=MAX_PAGE_SIZE * 5, page_token=first.next_page_token)
        assert len(rest.tools) == TOOLS - MAX_PAGE_SIZE and not rest.next_page_token
        names = [tool.definition.name for tool in [*first.tools, *rest.tools]]
        assert names == sorted(set(names)) and len(names) == TOOLS
        assert len((await _list(stub, GROUP)).tools) == 50  # the default page
        for token, group in (("garbage", GROUP), ("17", GROUP), (first.next_page_token, OTHER)):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await _list(stub, group, page_token=token)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "page_token" in refused.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as negative:
            await _list(stub, GROUP, page_size=-1)
        assert negative.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_tool_arguments_holding_nan_are_invalid_argument() -> None:
    servicer = ToolRuntimeServicer(ToolRuntimeProviders({"fake": ManyTools()}))
    async with connected((tool_runtime_pb2_grpc.add_ToolRuntimeServiceServicer_to_server, servicer)) as channel:
        stub = tool_runtime_pb2_grpc.ToolRuntimeServiceStub(channel)
        request = pb.InvokeToolRequest(tool_group_id=GROUP.identifier, tool_name="tool_0001")
        request.kwargs.update({"limit": float("nan")})
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.InvokeTool(request, metadata=as_resolved(GROUP), timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.value.details().startswith("kwargs: holds NaN or Infinity")
