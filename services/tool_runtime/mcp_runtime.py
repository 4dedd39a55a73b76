"""`remote::model-context-protocol`: tool groups served by an MCP server (Streamable HTTP), listed and called with
the official `mcp` SDK. Each operation opens its own client session: tool groups are few and calls are not hot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jsonschema
from mcp import Client

from llama.common.v1 import resources_pb2
from llama_mesh.runtime.errors import DeadlineExceeded, InvalidArgument, MeshError, NotFound, Unavailable
from services.tool_runtime.runtime_provider import ToolResult, ToolRuntimeProvider, ToolSpec

DEFAULT_TIMEOUT_S = 60.0


def _endpoint(tool_group: resources_pb2.ToolGroup) -> str:
    uri = tool_group.mcp_endpoint.uri
    if not uri.startswith(("http://", "https://")):
        raise InvalidArgument("tool_group.mcp_endpoint.uri", "an http(s) URL of an MCP server is required")
    return uri


@asynccontextmanager
async def _session(tool_group: resources_pb2.ToolGroup, time_left: float | None) -> AsyncIterator[Client]:
    """A connected client; a server that cannot be reached (or answers garbage) is UNAVAILABLE."""
    uri = _endpoint(tool_group)
    timeout = time_left if time_left is not None else DEFAULT_TIMEOUT_S
    try:
        async with asyncio.timeout(timeout):
            async with Client(uri, read_timeout_seconds=timeout) as client:
                yield client
    except MeshError:
        raise
    except TimeoutError as exc:
        raise DeadlineExceeded(f"MCP server {uri} did not answer in {timeout:.1f}s", reason="MCP_TIMEOUT") from exc
    except Exception as exc:  # noqa: BLE001 - the SDK raises transport errors in exception groups
        raise Unavailable(
            f"MCP server {uri} of tool group {tool_group.identifier!r} is not reachable: {exc!r}",
            reason="MCP_SERVER_UNAVAILABLE",
        ) from exc


async def _all_tools(client: Client) -> list[Any]:
    tools: list[Any] = []
    cursor: str | None = None
    while True:
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools


def _spec(tool: Any) -> ToolSpec:
    metadata = {"annotations": tool.annotations.model_dump(exclude_none=True)} if tool.annotations else {}
    return ToolSpec(
        name=tool.name, description=tool.description or "", parameters=dict(tool.input_schema), metadata=metadata
    )


def _result_text(result: Any) -> str:
    parts = [item.text for item in result.content if getattr(item, "type", "") == "text"]
    return "\n".join(parts)


class McpRuntime(ToolRuntimeProvider):
    async def prepare(self, tool_group: resources_pb2.ToolGroup) -> None:
        async with _session(tool_group, None) as client:
            await _all_tools(client)

    async def list_tools(self, tool_group: resources_pb2.ToolGroup, time_left: float | None) -> list[ToolSpec]:
        async with _session(tool_group, time_left) as client:
            return [_spec(tool) for tool in await _all_tools(client)]

    async def invoke(
        self, tool_group: resources_pb2.ToolGroup, tool_name: str, kwargs: dict[str, Any], time_left: float | None
    ) -> ToolResult:
        # Errors are raised after the session closes: raised inside, the SDK's task group would wrap them.
        async with _session(tool_group, time_left) as client:
            tools = {tool.name: tool for tool in await _all_tools(client)}
            refusal = _refusal(tool_group, tools, tool_name, kwargs)
            result = None if refusal else await client.call_tool(tool_name, kwargs)
        if refusal is not None:
            raise refusal
        assert result is not None
        text = _result_text(result)
        if result.is_error:
            return ToolResult(error_message=text or f"tool {tool_name!r} failed")
        return ToolResult(text=text)


def _refusal(
    tool_group: resources_pb2.ToolGroup, tools: dict[str, Any], tool_name: str, kwargs: dict[str, Any]
) -> MeshError | None:
    """Why the call must not be made: an unknown tool, or arguments that do not match its schema."""
    tool = tools.get(tool_name)
    if tool is None:
        return NotFound(
            f"MCP tool group {tool_group.identifier!r} has no tool {tool_name!r} (it has: {', '.join(tools)})",
            reason="TOOL_NOT_FOUND",
        )
    try:
        jsonschema.validate(kwargs, dict(tool.input_schema))
    except jsonschema.ValidationError as exc:
        return InvalidArgument("kwargs", exc.message, reason="TOOL_ARGUMENTS_INVALID")
    return None
