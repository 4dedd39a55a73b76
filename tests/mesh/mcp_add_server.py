"""A real MCP server for the tool_runtime tests: one tool, `add`, over Streamable HTTP.

`python tests/mesh/mcp_add_server.py PORT` serves http://127.0.0.1:PORT/mcp until killed."""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("adder")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


if __name__ == "__main__":
    server.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
