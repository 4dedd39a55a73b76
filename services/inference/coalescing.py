"""Fewer stream messages under load: the chunks an engine produces while the previous message is still being sent go
out together, as one.

The engine's stream is read ahead by a task of its own; each time the caller asks for the next chunk (gRPC asks once
the previous message is sent), everything that arrived since is merged into one chunk. An idle stream (the engine
slower than the sending, the usual case) still sends every token the moment it comes: nothing waits for company.

`stream_interval` (a provider setting, docs/streaming.md) goes further, as vLLM's setting of that name does: after the
first chunk, which always goes at once, a chunk is sent only once it holds at least that many tokens, or at the end.
Fewer, larger messages for callers that read whole answers; 1 (the default) adds no latency at all.

Merging keeps everything: the text in order, every token's logprobs, the token counts (summed), and the last chunk's
totals, finish reason and tool calls.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TypeVar

from services.inference.provider import ChatGenerationChunk, GenerationChunk

Chunk = TypeVar("Chunk", bound=GenerationChunk)


def merge_chunks(chunks: list[Chunk]) -> Chunk:
    """One chunk carrying all of `chunks`, in order (the first one itself when there is only one)."""
    if len(chunks) == 1:
        return chunks[0]
    last = chunks[-1]
    merged = replace(
        last,
        text="".join(chunk.text for chunk in chunks),
        token_count=sum(chunk.token_count for chunk in chunks),
        logprobs=[item for chunk in chunks for item in chunk.logprobs],
        finish_reason=next((c.finish_reason for c in reversed(chunks) if c.finish_reason is not None), None),
    )
    if isinstance(merged, ChatGenerationChunk):
        merged.tool_calls = next(
            (c.tool_calls for c in reversed(chunks) if isinstance(c, ChatGenerationChunk) and c.tool_calls), []
        )
    return merged


async def coalesced(chunks: AsyncIterator[Chunk], stream_interval: int = 1) -> AsyncIterator[Chunk]:
    """`chunks`, with those that came while the caller was busy merged (see the module's doc). An error of the stream
    is raised after the chunks that came before it. Closing this closes (aborts) `chunks`."""
    pending: list[Chunk] = []
    arrived = asyncio.Event()
    finished = False
    failure: BaseException | None = None

    async def read_ahead() -> None:
        nonlocal finished, failure
        try:
            async with contextlib.aclosing(chunks):  # type: ignore[type-var]
                async for chunk in chunks:
                    pending.append(chunk)
                    arrived.set()
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, raised there
            failure = exc
        finally:
            finished = True
            arrived.set()

    reader = asyncio.create_task(read_ahead())
    first = True
    try:
        while True:
            if pending and (
                first or finished or stream_interval <= 1 or sum(c.token_count for c in pending) >= stream_interval
            ):
                batch = pending[:]
                pending.clear()
                first = False
                yield merge_chunks(batch)  # chunks that come while this one is sent wait in `pending`
                continue
            if finished:
                if failure is not None:
                    raise failure
                return
            await arrived.wait()
            arrived.clear()
    finally:
        if not reader.done():
            reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
