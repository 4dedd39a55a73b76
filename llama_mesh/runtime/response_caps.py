"""How much a client reads of the answers of a server a caller named (an MCP server): at most `limit` bytes of one
response body, and of an event stream (`text/event-stream`) at most `limit` bytes of one event (its lines, comments
included, up to the blank line that ends it), so that a server cannot make the service hold a page of any size in
memory. A body announced (Content-Length) past the cap is refused before it is read. Requests ask for uncompressed
answers (`Accept-Encoding: identity`) and a compressed one is refused unread: a few KiB of gzip inflate past any cap
before their size is known.

`ResponseCap.transport(inner)` wraps an `httpx2` transport (the MCP SDK's HTTP client) so. The first answer past the
cap ends its response with `ResponseCap.refusal`, raised where the client reads and kept on the cap: the SDK in between
may turn it into an error of its own, or swallow it, and the caller raises the kept refusal instead.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import httpx2

from llama_mesh.runtime.errors import MeshError

_LINE_END = re.compile(rb"\r\n|\r|\n")  # an event stream's line ends (WHATWG HTML, "Server-sent events")


class EventSizes:
    """The size of the event an event stream is in the middle of: the bytes of its lines, without their ends, since
    the last blank line (fed the stream's bytes in chunks as they come)."""

    def __init__(self) -> None:
        self.size = 0
        self._in_line = False  # the line being read has bytes
        self._after_cr = False  # the last chunk ended with CR: a LF first in the next belongs to that line end

    def feed(self, chunk: bytes) -> int:
        """The size of the event in progress once `chunk` is read."""
        if not chunk:
            return self.size
        start = 1 if self._after_cr and chunk.startswith(b"\n") else 0
        for end in _LINE_END.finditer(chunk, start):
            length = end.start() - start
            if length or self._in_line:
                self.size += length
            else:
                self.size = 0  # a blank line: the event ended
            self._in_line = False
            start = end.end()
        if start < len(chunk):
            self.size += len(chunk) - start
            self._in_line = True
        self._after_cr = chunk.endswith(b"\r")
        return self.size


class ResponseCap:
    """At most `limit` bytes per response body or per event; `too_large()` and `compressed(encoding)` make the error
    an answer past the cap, or a compressed one, is refused with. The first such error is kept in `refusal`."""

    def __init__(self, limit: int, too_large: Callable[[], MeshError], compressed: Callable[[str], MeshError]) -> None:
        self.limit = limit
        self.refusal: MeshError | None = None
        self._too_large = too_large
        self._compressed = compressed

    def refuse(self, error: MeshError | None = None) -> MeshError:
        """The kept refusal, `error` (or the cap's too-large error) once none is kept."""
        if self.refusal is None:
            self.refusal = error or self._too_large()
        return self.refusal

    def transport(self, inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        return _CappedTransport(inner, self)

    async def checked(self, response: httpx2.Response) -> httpx2.Response:
        """`response`, its body to be read through the cap; refused at once where its headers already say it
        passes it."""
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        events = response.headers.get("content-type", "").partition(";")[0].strip().lower() == "text/event-stream"
        announced = response.headers.get("content-length", "")
        refusal = None
        if encoding not in ("", "identity"):
            refusal = self._compressed(encoding[:32])
        elif not events and announced.isdigit() and int(announced) > self.limit:
            refusal = self._too_large()
        if refusal is not None:
            await response.aclose()
            raise self.refuse(refusal)
        response.stream = _CappedStream(response.stream, self, events)
        return response


class _CappedTransport(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, cap: ResponseCap) -> None:
        self._inner = inner
        self._cap = cap

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        request.headers["Accept-Encoding"] = "identity"
        return await self._cap.checked(await self._inner.handle_async_request(request))

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, cap: ResponseCap, events: bool) -> None:
        self._inner = inner
        self._cap = cap
        self._events = events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sizes = EventSizes() if self._events else None
        total = 0
        async for chunk in self._inner:
            total += len(chunk)
            if (sizes.feed(chunk) if sizes is not None else total) > self._cap.limit:
                raise self._cap.refuse()
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()
