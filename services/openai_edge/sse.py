"""Server-sent events in OpenAI's framing: `data: {json}` per event, `data: [DONE]` at the end, and an error after the
stream has started as an `error` event carrying OpenAI's error object (the SDKs raise it as an APIError).

The response closes its event iterator however it ends, so a client that goes away cancels the gRPC stream behind
it (and with it the engine's work) at once, not when the iterator is garbage-collected.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from llama_mesh.runtime.errors import MeshError
from services.openai_edge.errors import OpenAIError, from_mesh_error

log = logging.getLogger(__name__)

Message = TypeVar("Message")


@dataclass
class Envelope:
    """What each object of one completion carries: its id, object type, creation time and model. In a stream every
    chunk has `usage: null` when the client asked for usage (stream_options.include_usage), which then comes in a
    last chunk without choices."""

    object: str
    prefix: str
    model: str
    include_usage: bool = False
    id: str = ""
    created: int = field(default_factory=lambda: int(time.time()))

    def __post_init__(self) -> None:
        self.id = self.id or f"{self.prefix}-{uuid.uuid4().hex}"

    def wrap(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        event = {"id": self.id, "object": self.object, "created": self.created, "model": self.model, "choices": choices}
        if self.include_usage:
            event["usage"] = None
        return event | extra

    def usage_chunk(self, usage: dict[str, int]) -> dict[str, Any]:
        return self.wrap([], usage=usage)


def _data(payload: Any) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'), ensure_ascii=False)}\n\n"


# A chunk (`data: {...}`), or a named event (`event: NAME` + `data: {...}`, as OpenAI's Responses API streams them).
Event = dict[str, Any] | tuple[str, dict[str, Any]]


async def _frames(events: AsyncIterator[Event], done: bool) -> AsyncIterator[str]:
    try:
        async for event in events:
            yield f"event: {event[0]}\n{_data(event[1])}" if isinstance(event, tuple) else _data(event)
    except OpenAIError as error:
        yield f"event: error\n{_data(error.body())}"
        return
    except MeshError as error:
        yield f"event: error\n{_data(from_mesh_error(error).body())}"
        return
    except Exception:
        log.exception("stream failed")
        yield f"event: error\n{_data(OpenAIError(500, 'internal error in the OpenAI edge; see its log').body())}"
        return
    if done:
        yield "data: [DONE]\n\n"


class EventStream(StreamingResponse):
    """`events` rendered as SSE, then `data: [DONE]` unless `done` is false. `sources`: the iterators `events` reads
    from, closed with it (closing an async generator does not close the iterators it was reading)."""

    def __init__(self, events: AsyncIterator[Event], *sources: AsyncIterator[Any], done: bool = True) -> None:
        self._iterators = (events, *sources)
        super().__init__(
            _frames(events, done),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            for iterator in (self.body_iterator, *self._iterators):
                await iterator.aclose()  # type: ignore[attr-defined]  # async generators


async def opened(messages: AsyncIterator[Message]) -> AsyncIterator[Message]:
    """Waits for a stream's first message, so that a failure before any output (an unknown model, a bad parameter)
    is answered as a plain HTTP error; then iterates the whole stream."""
    try:
        first = await anext(messages)
    except BaseException:
        await messages.aclose()  # type: ignore[attr-defined]
        raise

    async def chained() -> AsyncIterator[Message]:
        try:
            yield first
            async for message in messages:
                yield message
        finally:
            await messages.aclose()  # type: ignore[attr-defined]

    return chained()
