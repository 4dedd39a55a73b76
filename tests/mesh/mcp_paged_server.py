"""A real MCP server for the tool_runtime caps tests: its tools/list answers in pages, as a remote server may.

`python tests/mesh/mcp_paged_server.py PORT PAGES TOOLS_PER_PAGE SCHEMA_BYTES` serves http://127.0.0.1:PORT/mcp
until killed: PAGES pages of TOOLS_PER_PAGE tools each (`tool_<page>_<index>`, no arguments), each tool's input schema
padded with a description of SCHEMA_BYTES characters."""

from __future__ import annotations

import sys
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import ListToolsResult, PaginatedRequestParams, Tool


class PagedServer(MCPServer):
    def __init__(self, pages: int, per_page: int, schema_bytes: int) -> None:
        super().__init__("paged")
        self.pages, self.per_page = pages, per_page
        self.schema = {"type": "object", "properties": {}, "description": "x" * schema_bytes}

    async def _handle_list_tools(self, ctx: Any, params: PaginatedRequestParams | None) -> ListToolsResult:
        page = int(params.cursor) if params is not None and params.cursor else 0
        tools = [Tool(name=f"tool_{page}_{index}", input_schema=self.schema) for index in range(self.per_page)]
        return ListToolsResult(tools=tools, next_cursor=str(page + 1) if page + 1 < self.pages else None)


if __name__ == "__main__":
    port, pages, per_page, schema_bytes = (int(value) for value in sys.argv[1:5])
    PagedServer(pages, per_page, schema_bytes).run(transport="streamable-http", host="127.0.0.1", port=port)
