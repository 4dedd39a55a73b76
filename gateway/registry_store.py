"""The resource registry's stores: the interface the registry and the router use, and the SQLite store (one gateway:
in memory for lookups, persisted to SQLite on every write, write first, then memory). Several gateways share a
Postgres store instead (postgres_registry_store.py); `make_registry_store` picks one from the distribution."""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol

from google.protobuf.message import Message

from llama_mesh.resources import KIND_BY_NUMBER
from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.owners import ensure_owner_column
from llama_mesh.runtime.secrets import SecretError
from llama_mesh.runtime.server import StartupError

# What names a physical resource (a vector DB's collection, a dataset's rows): kind, provider_id, physical name.
PhysicalKey = tuple[int, str, str]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    kind INTEGER NOT NULL,
    identifier TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (kind, identifier)
)
"""


class RegistryStore(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def lookup(self, kind: int, identifier: str) -> Message | None:
        """The resource to route a call by: from memory where the store keeps it current."""
        ...

    async def get(self, kind: int, identifier: str) -> Message | None:
        """The resource as stored now (what registry RPCs answer with)."""
        ...

    async def list(self, kind: int) -> list[Message]:
        """Every resource of a kind, sorted by identifier."""
        ...

    async def insert(self, kind: int, resource: Message, owner: str = "") -> bool:
        """Store a new resource, registered by `owner`; False (and nothing written) if the identifier is taken."""
        ...

    async def owners(self, kind: int) -> dict[str, str]:
        """Who registered each resource of a kind ('' for the distribution's, and for those made with auth off)."""
        ...

    async def delete(self, kind: int, identifier: str) -> Message | None:
        """Remove a resource; the removed one, or None if it was not stored."""
        ...

    def physical_lock(self, key: PhysicalKey) -> AbstractAsyncContextManager[None]:
        """Held by one caller at a time per physical resource, across every gateway that shares this store."""
        ...


def make_registry_store(config: RunConfig) -> RegistryStore:
    registry = config.gateway.registry
    if registry.type == "postgres":
        from gateway.postgres_registry_store import PostgresRegistryStore  # psycopg only where it is used

        try:
            dsn = registry.postgres_dsn()
        except SecretError as exc:
            raise StartupError(str(exc)) from exc
        return PostgresRegistryStore(dsn)
    return SqliteRegistryStore(config.data_path(registry.path))


class SqliteRegistryStore:
    """The registry of one gateway process: it is the only writer, so memory is always current."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None
        self._items: dict[int, dict[str, Message]] = {kind: {} for kind in KIND_BY_NUMBER}
        self._owners: dict[int, dict[str, str]] = {kind: {} for kind in KIND_BY_NUMBER}
        self._write_lock = asyncio.Lock()
        self._physical_locks: weakref.WeakValueDictionary[PhysicalKey, asyncio.Lock] = weakref.WeakValueDictionary()

    async def open(self) -> None:
        def load() -> sqlite3.Connection:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            ensure_owner_column(db, "resources")
            for kind, identifier, body, owner in db.execute("SELECT kind, identifier, body, owner FROM resources"):
                if kind in KIND_BY_NUMBER:
                    self._items[kind][identifier] = KIND_BY_NUMBER[kind].message.FromString(body)
                    self._owners[kind][identifier] = owner
            return db

        self._db = await asyncio.to_thread(load)

    async def close(self) -> None:
        async with self._write_lock:  # after the write in progress, if any: closing under it can crash the process
            if self._db is not None:
                await asyncio.to_thread(self._db.close)
                self._db = None

    async def lookup(self, kind: int, identifier: str) -> Message | None:
        return self._items[kind].get(identifier)

    async def get(self, kind: int, identifier: str) -> Message | None:
        return self._items[kind].get(identifier)

    async def list(self, kind: int) -> list[Message]:
        return [self._items[kind][key] for key in sorted(self._items[kind])]

    async def insert(self, kind: int, resource: Message, owner: str = "") -> bool:
        # shielded: a caller cancelled (its deadline passed) while the row is written must not leave the row on disk
        # and not in memory, where it would be missing until a restart and refused as a duplicate meanwhile
        return await asyncio.shield(self._insert(kind, resource, owner))

    async def _insert(self, kind: int, resource: Message, owner: str) -> bool:
        identifier = resource.identifier  # type: ignore[attr-defined]
        async with self._write_lock:
            if identifier in self._items[kind]:
                return False
            body = resource.SerializeToString()
            await asyncio.to_thread(
                self._execute,
                "INSERT INTO resources (kind, identifier, body, owner) VALUES (?, ?, ?, ?)",
                (kind, identifier, body, owner),
            )
            self._items[kind][identifier] = resource
            self._owners[kind][identifier] = owner
            return True

    async def owners(self, kind: int) -> dict[str, str]:
        return dict(self._owners[kind])

    async def delete(self, kind: int, identifier: str) -> Message | None:
        return await asyncio.shield(self._delete(kind, identifier))  # as insert: disk and memory stay one

    async def _delete(self, kind: int, identifier: str) -> Message | None:
        async with self._write_lock:
            resource = self._items[kind].get(identifier)
            if resource is None:
                return None
            await asyncio.to_thread(
                self._execute, "DELETE FROM resources WHERE kind = ? AND identifier = ?", (kind, identifier)
            )
            del self._items[kind][identifier]
            self._owners[kind].pop(identifier, None)
            return resource

    def physical_lock(self, key: PhysicalKey) -> asyncio.Lock:
        """A lock of this process: no other gateway writes this store."""
        lock = self._physical_locks.get(key)
        if lock is None:
            lock = self._physical_locks[key] = asyncio.Lock()
        return lock

    def _execute(self, sql: str, params: tuple[object, ...]) -> None:
        assert self._db is not None, "SqliteRegistryStore.open() was not awaited"
        self._db.execute(sql, params)
