"""Run many calls at once, at most `limit` at a time; the first failure (or the caller going away) cancels the rest."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def bounded_map(function: Callable[[T], Awaitable[R]], items: Sequence[T], limit: int) -> list[R]:
    """`function` over `items`, results in item order. An exception (or cancellation of the awaiting task) cancels
    every call still running or waiting and is raised as is, once they have all stopped."""
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with gate:
            return await function(item)

    tasks = [asyncio.ensure_future(one(item)) for item in items]
    try:
        return await asyncio.gather(*tasks)
    finally:
        pending = [task for task in tasks if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
