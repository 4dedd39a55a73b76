"""Qdrant's embedded local mode, off the event loop.

The local client is synchronous (its storage is SQLite, written on every change) and not meant to be shared between
threads, so every call runs, in order, on one worker thread that also opened it. It offers the methods of
`AsyncQdrantClient` as coroutines, so the store's code is the same for local mode and for a Qdrant server.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient


class LocalQdrantClient:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant-local")
        self._client: QdrantClient | None = None

    async def open(self) -> None:
        self._path.mkdir(parents=True, exist_ok=True)
        self._client = await self._run(QdrantClient, path=str(self._path))

    async def _run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args, **kwargs))

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if self._client is None:
            raise RuntimeError("LocalQdrantClient used before open()")
        method = getattr(self._client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self._run(method, *args, **kwargs)

        return call

    async def close(self, **kwargs: Any) -> None:
        if self._client is not None:
            await self._run(self._client.close)
            self._client = None
        self._executor.shutdown(wait=True)
