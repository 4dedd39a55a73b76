"""The read cap on a named server's answers (llama_mesh/runtime/response_caps.py): event sizes however the stream is
cut into chunks, bodies announced or streamed past the cap, and compressed bodies, each refused with the cap's error
and that error kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx2
import pytest

from llama_mesh.runtime.errors import FailedPrecondition
from llama_mesh.runtime.response_caps import EventSizes, ResponseCap

LIMIT = 100


def sizes(*chunks: bytes) -> list[int]:
    events = EventSizes()
    return [events.feed(chunk) for chunk in chunks]


def test_an_event_ends_at_a_blank_line_whatever_the_line_ends() -> None:
    assert sizes(b"data: abc\n") == [9]
    assert sizes(b"data: abc\n\n") == [0]
    assert sizes(b"data: abc\r\n\r\ndata: x") == [7]
    assert sizes(b"data: abc\r\rdata: x") == [7]
    assert sizes(b"data: a\ndata: b\n") == [14]  # two lines of one event
    assert sizes(b": ping\n") == [6]  # comments count: they are lines the client reads


def test_an_event_split_across_chunks_is_counted_whole() -> None:
    assert sizes(b"data: a", b"bc\n", b"data: d\n") == [7, 9, 16]
    assert sizes(b"data: abc\r", b"\n", b"\r\n") == [9, 9, 0]  # CRLF split: one line end, then a blank line
    assert sizes(b"data: abc\n", b"\n") == [9, 0]
    assert sizes(b"data: abc\r", b"", b"\ndata") == [9, 9, 13]  # the LF ends the CR's line: no blank line
    assert sizes(b"data: ab", b"", b"c\n\n") == [8, 8, 0]


def _cap() -> ResponseCap:
    return ResponseCap(
        LIMIT,
        lambda: FailedPrecondition("too large", reason="TOO_LARGE"),
        lambda encoding: FailedPrecondition(f"compressed {encoding}", reason="COMPRESSED"),
    )


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _read(cap: ResponseCap, response: httpx2.Response) -> bytes:
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.headers.get("Accept-Encoding", ""))
        return response

    async def read() -> bytes:
        transport = cap.transport(httpx2.MockTransport(handler))
        async with httpx2.AsyncClient(transport=transport) as client:
            got = await client.get("http://server.test/mcp")
            return got.content

    try:
        return asyncio.run(read())
    finally:
        assert seen == ["identity"]  # nothing compressed asked for


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx2.Response(200, content=b"x" * (LIMIT + 1)), "TOO_LARGE"),  # announced: refused unread
        (httpx2.Response(200, content=_chunks(b"x" * 60, b"x" * 60)), "TOO_LARGE"),  # streamed, no length
        (
            httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=_chunks(b"data: " + b"x" * 99)),
            "TOO_LARGE",
        ),
        (httpx2.Response(200, headers={"content-encoding": "gzip"}, content=b"\x1f\x8b"), "COMPRESSED"),
    ],
)
def test_answers_past_the_cap_are_refused_and_the_refusal_kept(response: httpx2.Response, reason: str) -> None:
    cap = _cap()
    with pytest.raises(FailedPrecondition) as caught:
        _read(cap, response)
    assert caught.value.reason == reason and cap.refusal is caught.value


def test_answers_within_the_cap_are_read_whole() -> None:
    cap = _cap()
    assert _read(cap, httpx2.Response(200, content=_chunks(b"x" * 50, b"x" * 50))) == b"x" * 100
    events = b"".join(b"data: " + b"x" * 90 + b"\n\n" for _ in range(5))  # each event within the cap, not all
    stream = httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=_chunks(events))
    assert _read(cap, stream) == events
    assert cap.refusal is None
