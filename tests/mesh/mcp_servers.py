"""Real MCP servers for the tests, as subprocesses on free loopback ports (tests/mesh/mcp_add_server.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from llama_mesh.launcher import free_loopback_port

MCP_SERVER = Path(__file__).with_name("mcp_add_server.py")
PAGED_SERVER = Path(__file__).with_name("mcp_paged_server.py")
PATHS = {"streamable-http": "/mcp", "sse": "/sse"}


@contextmanager
def mcp_add_server(transport: str = "streamable-http") -> Iterator[str]:
    """Serves the `add` tool over `transport` until the block ends; yields the endpoint URL."""
    with _served(MCP_SERVER, transport, transport) as endpoint:
        yield endpoint


@contextmanager
def mcp_paged_server(pages: int, tools_per_page: int, schema_bytes: int = 0) -> Iterator[str]:
    """Serves `pages` pages of tools/list over Streamable HTTP until the block ends (tests/mesh/mcp_paged_server.py);
    yields the endpoint URL."""
    with _served(PAGED_SERVER, "streamable-http", str(pages), str(tools_per_page), str(schema_bytes)) as endpoint:
        yield endpoint


@contextmanager
def _served(script: Path, transport: str, *args: str) -> Iterator[str]:
    port = free_loopback_port()
    process = subprocess.Popen(
        [sys.executable, str(script), str(port), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the MCP server did not start")
        yield f"http://127.0.0.1:{port}{PATHS[transport]}"
    finally:
        process.terminate()
        process.wait(timeout=10)
