"""The tools of one turn: server tools from registered tool groups (run by the tool runtime) and the agent's client
tools (run by the caller), with the definitions the model sees."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format

from llama.common.v1 import agent_config_pb2, tools_pb2
from llama.registry.v1 import registry_pb2
from llama.tool_runtime.v1 import tool_runtime_pb2 as tr
from llama_mesh.runtime.errors import InvalidArgument, NotFound
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.paging import MAX_PAGE_SIZE
from llama_mesh.runtime.struct_values import struct_dict

TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
RAG_TOOL_GROUP = "builtin::rag"


@dataclass(frozen=True)
class ServerTool:
    tool_group_id: str
    definition: tools_pb2.ToolDefinition
    # The agent's per-group args, merged over the model's arguments on every call.
    args: dict[str, Any]


@dataclass(frozen=True)
class LocalTool:
    """A server tool the agents service runs itself (e.g. the Responses API's file_search): `run` takes the model's
    arguments and the time left, and returns what the model reads and the tool's extras."""

    definition: tools_pb2.ToolDefinition
    run: Callable[[dict[str, Any], float | None], Awaitable[tuple[str, dict[str, Any]]]]


@dataclass
class Toolbox:
    server: dict[str, ServerTool] = field(default_factory=dict)
    client: dict[str, tools_pb2.ToolDefinition] = field(default_factory=dict)
    # Vector DBs named in the args of the RAG tool group, when the agent has it.
    rag_vector_db_ids: list[str] | None = None
    local: dict[str, LocalTool] = field(default_factory=dict)

    def definitions(self) -> list[tools_pb2.ToolDefinition]:
        local = [tool.definition for tool in self.local.values()]
        return [tool.definition for tool in self.server.values()] + local + list(self.client.values())

    @property
    def has_rag(self) -> bool:
        return self.rag_vector_db_ids is not None


def visible_schema(parameters: Any, preset: dict[str, Any]) -> dict[str, Any]:
    """The tool's argument schema less the arguments the agent presets (the model need not write them)."""
    schema = json_format.MessageToDict(parameters) if parameters is not None else {}
    if not preset or not isinstance(schema.get("properties"), dict):
        return schema
    schema["properties"] = {name: value for name, value in schema["properties"].items() if name not in preset}
    if isinstance(schema.get("required"), list):
        schema["required"] = [name for name in schema["required"] if name not in preset]
    return schema


def merged_tool_groups(
    agent_groups: list[agent_config_pb2.AgentToolGroup], turn_groups: list[agent_config_pb2.AgentToolGroup]
) -> list[agent_config_pb2.AgentToolGroup]:
    """The agent's tool groups plus a turn's; a group named by both takes the turn's settings."""
    by_id = {group.tool_group_id: group for group in agent_groups}
    by_id.update({group.tool_group_id: group for group in turn_groups})
    return list(by_id.values())


def check_client_tools(tools: list[tools_pb2.ToolDefinition], field_name: str) -> dict[str, tools_pb2.ToolDefinition]:
    client: dict[str, tools_pb2.ToolDefinition] = {}
    for index, tool in enumerate(tools):
        if not TOOL_NAME.fullmatch(tool.name):
            raise InvalidArgument(
                f"{field_name}[{index}].name", f"{tool.name!r} must be 1-64 letters, digits, '_' or '-'"
            )
        if tool.name in client:
            raise InvalidArgument(f"{field_name}[{index}].name", f"client tool {tool.name!r} is named twice")
        struct_dict(tool.parameters, f"{field_name}[{index}].parameters")  # a JSON Schema: the model is shown it
        client[tool.name] = tool
    return client


async def build_toolbox(
    mesh: GatewayClient,
    groups: list[agent_config_pb2.AgentToolGroup],
    client_tools: list[tools_pb2.ToolDefinition],
    time_left: float | None,
    field_name: str = "agent_config.toolgroups",
) -> Toolbox:
    """Looks every group up (NOT_FOUND when one is not registered), lists its tools and checks that no two tools
    share a name."""
    box = Toolbox(client=check_client_tools(client_tools, "agent_config.client_tools"))
    for index, group in enumerate(groups):
        if not group.tool_group_id:
            raise InvalidArgument(f"{field_name}[{index}].tool_group_id", "is required")
        lookup = registry_pb2.GetToolGroupRequest(tool_group_id=group.tool_group_id)
        registered = await mesh.call(mesh.registry.GetToolGroup, lookup, time_left)
        args = {**json_format.MessageToDict(registered.args), **struct_dict(group.args, f"{field_name}[{index}].args")}
        tools = await _all_tools(mesh, group.tool_group_id, time_left)
        by_name = {tool.definition.name: tool for tool in tools}
        wanted = list(group.tool_names) or list(by_name)
        for name in wanted:
            if name not in by_name:
                raise NotFound(
                    f"tool group {group.tool_group_id!r} has no tool {name!r} (it has {', '.join(by_name) or 'none'})",
                    reason="TOOL_NOT_FOUND",
                    tool_group_id=group.tool_group_id,
                    tool_name=name,
                )
            if name in box.server or name in box.client:
                raise InvalidArgument(
                    f"{field_name}[{index}]",
                    f"tool {name!r} of {group.tool_group_id!r} clashes with another tool of the agent; "
                    "pick tools with tool_names or rename the client tool",
                )
            definition = tools_pb2.ToolDefinition(name=name, description=by_name[name].definition.description)
            definition.parameters.update(visible_schema(by_name[name].definition.parameters, args))
            box.server[name] = ServerTool(group.tool_group_id, definition, args)
        if registered.provider_resource_id == RAG_TOOL_GROUP or group.tool_group_id == RAG_TOOL_GROUP:
            box.rag_vector_db_ids = [str(item) for item in args.get("vector_db_ids", [])]
    return box


async def _all_tools(mesh: GatewayClient, tool_group_id: str, time_left: float | None) -> list[tr.RuntimeTool]:
    """Every tool of a group, following the pages."""
    tools: list[tr.RuntimeTool] = []
    token = ""
    while True:
        request = tr.ListRuntimeToolsRequest(tool_group_id=tool_group_id, page_size=MAX_PAGE_SIZE, page_token=token)
        page = await mesh.call(mesh.tool_runtime.ListRuntimeTools, request, time_left)
        tools.extend(page.tools)
        token = page.next_page_token
        if not token:
            return tools
