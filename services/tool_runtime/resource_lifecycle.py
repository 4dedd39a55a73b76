"""llama.provider.v1.ResourceLifecycleService for tool groups: registering an MCP tool group connects to its server
and lists its tools first, so an unreachable server is refused (UNAVAILABLE) and nothing is stored."""

from __future__ import annotations

from google.protobuf import any_pb2

from llama.common.v1 import resources_pb2 as res
from llama.provider.v1 import provider_pb2, provider_pb2_grpc
from llama_mesh.runtime.errors import InvalidArgument
from services.tool_runtime.providers import ToolRuntimeProviders


def _tool_group(packed: any_pb2.Any) -> res.ToolGroup:
    tool_group = res.ToolGroup()
    if not packed.Unpack(tool_group):
        raise InvalidArgument("resource", f"the tool_runtime service prepares tool groups, not {packed.type_url}")
    return tool_group


class ToolGroupLifecycleServicer(provider_pb2_grpc.ResourceLifecycleServiceServicer):
    def __init__(self, providers: ToolRuntimeProviders) -> None:
        self._providers = providers

    async def PrepareResource(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        tool_group = _tool_group(request.resource)
        await self._providers.get(tool_group.provider_id).prepare(tool_group)
        return provider_pb2.PrepareResourceResponse(resource=request.resource)

    async def ReleaseResource(self, request, context):  # noqa: N802, ANN001, ANN201
        _tool_group(request.resource)
        return provider_pb2.ReleaseResourceResponse()
