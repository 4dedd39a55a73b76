"""A hostile MCP server for the tool_runtime's read caps: it speaks just enough MCP (Streamable HTTP, answering in JSON
or in an event stream, or the older HTTP+SSE transport) to be registered, and answers one method (`tools/list` or
`tools/call`) with a page or a result of `size` bytes, streamed in 64 KiB writes with no Content-Length. It records
how many bytes of that answer it sent and whether the client hung up before the end (`sent`, `cut_off`). With
`stall`, it never answers that method (it holds the request open until the server stops).

Runs in a thread of the test process (`with HostileMcpServer(...) as server:`), on a free loopback port."""

from __future__ import annotations

import http.server
import itertools
import json
import queue
import threading
from typing import Any
from urllib.parse import parse_qs, urlparse

WRITE = 64 * 1024
TOOL = {"name": "echo", "description": "says ok", "inputSchema": {"type": "object"}}
STREAMABLE_PATH, SSE_PATH, MESSAGES_PATH = "/mcp", "/sse", "/messages"


class HostileMcpServer:
    def __init__(self, transport: str, method: str, size: int, stall: bool = False) -> None:
        """transport: `json` or `event-stream` (Streamable HTTP answering so) or `sse` (the HTTP+SSE transport);
        method: the one answered with `size` bytes, or never where `stall`."""
        self.transport, self.method, self.size, self.stall = transport, method, size, stall
        self.stalled = threading.Event()  # a request for the method came (and is held, where `stall`)
        self._stopping = threading.Event()
        self.sent = 0  # bytes of the big answer written
        self.cut_off = False  # the client hung up before its end
        self.done = threading.Event()  # the big answer ended (written whole, or cut off)
        # The HTTP+SSE transport's answers, per session (one GET stream each).
        self._outboxes: dict[str, queue.Queue[tuple[Any, bool]]] = {}
        self._sessions = itertools.count()
        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True

    @property
    def endpoint(self) -> str:
        path = SSE_PATH if self.transport == "sse" else STREAMABLE_PATH
        return f"http://127.0.0.1:{self._http.server_address[1]}{path}"

    def __enter__(self) -> HostileMcpServer:
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        for outbox in list(self._outboxes.values()):
            outbox.put((None, False))  # ends an open HTTP+SSE stream
        self._http.shutdown()
        self._http.server_close()

    def answer(self, message: dict[str, Any]) -> tuple[Any, bool]:
        """The JSON-RPC answer to `message` (None for a notification), and whether it is the big one."""
        method, params = message.get("method"), message.get("params") or {}
        if "id" not in message:
            return None, False
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"]}
        if method == self.method:
            return reply, True
        if method == "initialize":
            reply["result"] = {
                "protocolVersion": params.get("protocolVersion"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "hostile", "version": "0"},
            }
        elif method == "tools/list":
            reply["result"] = {"tools": [TOOL]}
        elif method == "tools/call":
            reply["result"] = {"content": [{"type": "text", "text": "ok"}]}
        elif method == "ping":
            reply["result"] = {}
        else:
            reply["error"] = {"code": -32601, "message": f"no method {method}"}
        return reply, False

    def big_parts(self, reply: dict[str, Any]) -> tuple[bytes, bytes]:
        """The JSON of the big answer around its `size` bytes of filler: a tool's description or a result's text."""
        if self.method == "tools/list":
            reply["result"] = {"tools": [{**TOOL, "description": "<filler>"}]}
        else:
            reply["result"] = {"content": [{"type": "text", "text": "<filler>"}]}
        head, _, tail = json.dumps(reply).partition("<filler>")
        return head.encode(), tail.encode()

    def write_big(self, out: Any, reply: dict[str, Any], prefix: bytes = b"", suffix: bytes = b"") -> None:
        if self.stall:
            self.stalled.set()
            self._stopping.wait()
            return
        head, tail = self.big_parts(reply)
        try:
            out.write(prefix + head)
            while self.sent < self.size:
                piece = min(WRITE, self.size - self.sent)
                out.write(b"x" * piece)
                self.sent += piece
            out.write(tail + suffix)
            out.flush()
        except OSError:  # the client hung up: what it read is all it got
            self.cut_off = True
            raise
        finally:
            self.done.set()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_DELETE(self) -> None:
                self._reply(200)

            def do_GET(self) -> None:
                if self.path != SSE_PATH or server.transport != "sse":
                    self._reply(405)
                    return
                session = str(next(server._sessions))
                outbox = server._outboxes[session] = queue.Queue()
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                try:
                    self.wfile.write(f"event: endpoint\ndata: {MESSAGES_PATH}?session_id={session}\n\n".encode())
                    self.wfile.flush()
                    while True:
                        reply, big = outbox.get()
                        if reply is None:
                            return
                        if big:
                            server.write_big(self.wfile, reply, b"event: message\ndata: ", b"\n\n")
                        else:
                            self.wfile.write(f"event: message\ndata: {json.dumps(reply)}\n\n".encode())
                            self.wfile.flush()
                except OSError:
                    return

            def do_POST(self) -> None:
                message = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                reply, big = server.answer(message)
                if server.transport == "sse":
                    self._reply(202, b"Accepted", "text/plain")
                    if reply is not None:
                        session = parse_qs(urlparse(self.path).query)["session_id"][0]
                        server._outboxes[session].put((reply, big))
                    return
                if reply is None:
                    self._reply(202)
                    return
                if not big:
                    self._reply(200, json.dumps(reply).encode())
                    return
                self.send_response(200)  # no Content-Length: the body ends when the connection does
                events = server.transport == "event-stream"
                self.send_header("Content-Type", "text/event-stream" if events else "application/json")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    server.write_big(self.wfile, reply, *((b"event: message\ndata: ", b"\n\n") if events else ()))
                except OSError:
                    return

        return Handler
