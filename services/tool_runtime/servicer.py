"""llama.tool_runtime.v1.ToolRuntimeService: converts protobuf to plain values and calls the group's provider."""

from __future__ import annotations

import grpc

from llama.common.v1 import content_pb2, resources_pb2, tools_pb2
from llama.tool_runtime.v1 import tool_runtime_pb2 as pb
from llama.tool_runtime.v1 import tool_runtime_pb2_grpc
from llama_mesh.resources import resolved_resource
from llama_mesh.runtime import paging
from llama_mesh.runtime.channels import remaining_timeout
from llama_mesh.runtime.errors import InvalidArgument
from llama_mesh.runtime.struct_values import struct_dict
from services.tool_runtime import provider_data
from services.tool_runtime.provider import ToolRuntimeProvider, ToolSpec
from services.tool_runtime.providers import ToolRuntimeProviders


def _runtime_tool(group_id: str, spec: ToolSpec) -> pb.RuntimeTool:
    tool = pb.RuntimeTool(
        tool_group_id=group_id, definition=tools_pb2.ToolDefinition(name=spec.name, description=spec.description)
    )
    tool.definition.parameters.update(spec.parameters)
    tool.metadata.update(spec.metadata)
    return tool


class ToolRuntimeServicer(tool_runtime_pb2_grpc.ToolRuntimeServiceServicer):
    def __init__(self, providers: ToolRuntimeProviders) -> None:
        self._providers = providers

    def _tool_group(
        self, tool_group_id: str, context: grpc.aio.ServicerContext
    ) -> tuple[resources_pb2.ToolGroup, ToolRuntimeProvider]:
        """The registered tool group the gateway resolved for this call, and its provider."""
        if not tool_group_id:
            raise InvalidArgument("tool_group_id", "is required")
        tool_group = resolved_resource(context, resources_pb2.ToolGroup, tool_group_id, "tool_runtime")
        return tool_group, self._providers.get(tool_group.provider_id)

    async def ListRuntimeTools(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        tool_group, provider = self._tool_group(request.tool_group_id, context)
        paging.page_size(request.page_size)  # a bad page is refused before the provider is asked
        listing = f"tools:{tool_group.identifier}"
        paging.read_offset(request.page_token, listing)
        specs = await provider.list_tools(tool_group, remaining_timeout(context))
        page, next_token = paging.page_of(specs, request.page_size, request.page_token, listing)
        return pb.ListRuntimeToolsResponse(
            tools=[_runtime_tool(tool_group.identifier, spec) for spec in page], next_page_token=next_token
        )

    async def InvokeTool(self, request, context):  # noqa: N802, ANN001, ANN201
        tool_group, provider = self._tool_group(request.tool_group_id, context)
        if not request.tool_name:
            raise InvalidArgument("tool_name", "is required")
        kwargs = struct_dict(request.kwargs, "kwargs")
        provider_data.set_from(context)
        result = await provider.invoke(tool_group, request.tool_name, kwargs, remaining_timeout(context))
        reply = pb.InvokeToolResponse(
            content=content_pb2.Content(text=result.text),
            error_message=result.error_message,
            error_code=result.error_code,
        )
        reply.metadata.update(result.metadata)
        return reply

    async def InsertDocuments(self, request, context):  # noqa: N802, ANN001, ANN201
        inserted = await self._providers.rag().insert_documents(request, remaining_timeout(context))
        return pb.InsertDocumentsResponse(chunks_inserted=inserted)

    async def QueryKnowledge(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._providers.rag().query_knowledge(request, remaining_timeout(context))
