"""Streams one synthesis: its latest progress per unit as it changes, then its result (or its error). The synthesis
runs as a task that ends with the stream, so a caller that goes away cancels it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from llama.common.v1 import jobs_pb2
from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2 as pb
from services.synthetic_data_generation.provider import Progress


async def progress_then_result(
    run: Callable[[Progress], Awaitable[pb.SynthesizeDataResponse]],
) -> AsyncIterator[pb.StreamSynthesizeDataResponse]:
    latest: dict[str, jobs_pb2.JobProgress] = {}
    changed = asyncio.Event()

    def progress(unit: str, done: int, total: int) -> None:
        latest[unit] = jobs_pb2.JobProgress(done=done, total=total, unit=unit)
        changed.set()

    task = asyncio.ensure_future(run(progress))
    try:
        while not task.done():
            waiter = asyncio.ensure_future(changed.wait())
            try:
                await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
            changed.clear()
            # Messages that pile up while one is being sent collapse into the latest per unit.
            while latest:
                unit = next(iter(latest))
                yield pb.StreamSynthesizeDataResponse(progress=latest.pop(unit))
        yield pb.StreamSynthesizeDataResponse(result=task.result())
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
