"""A streamed turn read to its end: the finished turn, or its failure as an error status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from llama.agents.v1 import agents_pb2 as pb
from services.agents.turn_loop import StreamFailure


async def final_turn(events: AsyncIterator[pb.CreateTurnResponse]) -> pb.Turn:
    """The turn once COMPLETED or AWAITING_INPUT; a failed turn raises its error, once `events` is closed (its
    session is free before the caller hears of the failure)."""
    turn: pb.Turn | None = None
    async with aclosing(events):
        async for event in events:
            kind = event.WhichOneof("event")
            if kind == "turn_complete":
                turn = event.turn_complete.turn
            elif kind == "turn_awaiting_input":
                turn = event.turn_awaiting_input.turn
            elif kind == "error":
                raise StreamFailure(event.error.code, event.error.reason, event.error.message)
    if turn is None:
        raise StreamFailure(13, "TURN_INCOMPLETE", "the turn ended without a result")
    return turn
