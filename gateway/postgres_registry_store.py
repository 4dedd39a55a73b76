"""The registry in PostgreSQL, shared by several gateway replicas.

The database is the truth. Each gateway keeps the resources it has routed by in memory, so routing a call costs no
database round trip; a resource missing from memory is read from the database (so one registered through another
gateway is served at once). Every write sends a notification in its own transaction (LISTEN/NOTIFY, delivered on
commit); each gateway listens and drops the entries they name, so a resource unregistered through another gateway
stops being routed within the notification's delivery time. If the listening connection drops, the memory is cleared
(notifications may have been missed) and the connection is opened again. Registry RPCs (get, list) read the database.
Writes are single transactions; two gateways registering the same identifier race on the primary key, and the loser
gets ALREADY_EXISTS. The registry's lock on a physical resource (two identifiers naming one collection) is a session
advisory lock on a connection of its own, held while the registration checks, prepares and writes: it is released
when that connection closes, even if the gateway holding it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Iterator

import psycopg
from google.protobuf.message import Message
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from gateway.registry_store import PhysicalKey
from llama_mesh.resources import KIND_BY_NUMBER
from llama_mesh.runtime.errors import ResourceExhausted, Unavailable
from llama_mesh.runtime.server import StartupError

log = logging.getLogger(__name__)

CHANNEL = "llama_mesh_registry"
_SCHEMA_LOCK = 0x6C6D7267  # pg_advisory_xact_lock key: replicas that start together create the table once
_SCHEMA = """
CREATE TABLE IF NOT EXISTS llama_mesh_resources (
    kind INTEGER NOT NULL,
    identifier TEXT NOT NULL,
    body BYTEA NOT NULL,
    PRIMARY KEY (kind, identifier)
);
ALTER TABLE llama_mesh_resources ADD COLUMN IF NOT EXISTS owner TEXT NOT NULL DEFAULT ''
"""
CONNECT_TIMEOUT_SECONDS = 10.0
RELISTEN_DELAY_SECONDS = 1.0
# Registrations and unregistrations one gateway has in progress at once, each holding a connection of its own for its
# physical lock (while it prepares: minutes for a model); more are RESOURCE_EXHAUSTED, so that callers registering
# many resources at once cannot use up the server's max_connections.
MAX_REGISTRATIONS_IN_PROGRESS = 16


def _advisory_key(key: PhysicalKey) -> int:
    """The bigint naming `key` to pg_advisory_lock (a collision only makes two registrations wait for each other)."""
    return int.from_bytes(hashlib.sha256(repr(key).encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def _unavailable_if_down() -> Iterator[None]:
    """A database that cannot be reached, or that drops the connection (psycopg's OperationalError, the pool's
    timeout included), is UNAVAILABLE to the caller: the next call tries again. Its details (host, port) only go to the
    log."""
    try:
        yield
    except psycopg.OperationalError as exc:
        log.warning("the Postgres registry did not answer: %s", exc)
        raise Unavailable(
            "the registry's database (PostgreSQL) did not answer; try again, and see the gateway's log if it lasts",
            reason="REGISTRY_UNAVAILABLE",
        ) from exc


def _decode(kind: int, body: bytes) -> Message:
    return KIND_BY_NUMBER[kind].message.FromString(body)


class PostgresRegistryStore:
    def __init__(self, dsn: str, pool_size: int = 4) -> None:
        try:
            conninfo_to_dict(dsn)
        except psycopg.ProgrammingError:  # libpq's message quotes the whole string, password included
            raise StartupError(
                "gateway.registry.dsn is not a libpq connection string or URI "
                "(postgresql://user:password@host:5432/database)"
            ) from None
        self._dsn = dsn
        self._pool = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            open=False,
            timeout=CONNECT_TIMEOUT_SECONDS,
            kwargs={"autocommit": True},
        )
        self._cache: dict[tuple[int, str], Message] = {}
        # Counts what may have made memory stale: a read that raced with one is not kept in memory.
        self._invalidations = 0
        self._cache_usable = False  # only while notifications are being received
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._locks_held = 0  # connections of physical_lock open now

    async def open(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
            async with self._pool.connection() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                await conn.execute(_SCHEMA)
        except (psycopg.Error, TimeoutError) as exc:  # PoolTimeout is an OperationalError
            await self._pool.close()
            raise StartupError(f"cannot open the Postgres registry: {exc}") from exc
        self._listener = asyncio.create_task(self._listen(), name="registry-listener")
        await self._listening.wait()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self._pool.close()

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """A connection of the pool; a database that does not answer (or drops the connection) is UNAVAILABLE."""
        with _unavailable_if_down():
            async with self._pool.connection() as conn:
                yield conn

    async def lookup(self, kind: int, identifier: str) -> Message | None:
        cached = self._cache.get((kind, identifier))
        if cached is not None:
            return cached
        return await self.get(kind, identifier)

    async def get(self, kind: int, identifier: str) -> Message | None:
        invalidations = self._invalidations
        async with self._connection() as conn:
            cursor = await conn.execute(
                "SELECT body FROM llama_mesh_resources WHERE kind = %s AND identifier = %s", (kind, identifier)
            )
            row = await cursor.fetchone()
        if row is None:
            return None
        resource = _decode(kind, row[0])
        self._remember(kind, identifier, resource, invalidations)
        return resource

    def _remember(self, kind: int, identifier: str, resource: Message, invalidations: int) -> None:
        if self._cache_usable and self._invalidations == invalidations:
            self._cache[(kind, identifier)] = resource

    def _forget(self, key: tuple[int, str] | None = None) -> None:
        self._invalidations += 1
        if key is None:
            self._cache.clear()
        else:
            self._cache.pop(key, None)

    async def list(self, kind: int) -> list[Message]:
        async with self._connection() as conn:
            cursor = await conn.execute(
                'SELECT body FROM llama_mesh_resources WHERE kind = %s ORDER BY identifier COLLATE "C"', (kind,)
            )
            rows = await cursor.fetchall()
        return [_decode(kind, body) for (body,) in rows]

    async def owners(self, kind: int) -> dict[str, str]:
        async with self._connection() as conn:
            cursor = await conn.execute("SELECT identifier, owner FROM llama_mesh_resources WHERE kind = %s", (kind,))
            rows = await cursor.fetchall()
        return dict(rows)

    async def insert(self, kind: int, resource: Message, owner: str = "") -> bool:
        identifier = resource.identifier  # type: ignore[attr-defined]
        invalidations = self._invalidations
        async with self._connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "INSERT INTO llama_mesh_resources (kind, identifier, body, owner) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (kind, identifier) DO NOTHING",
                (kind, identifier, resource.SerializeToString(), owner),
            )
            if cursor.rowcount != 1:
                return False
            await self._notify(conn, kind, identifier)
        self._remember(kind, identifier, resource, invalidations)
        return True

    async def delete(self, kind: int, identifier: str) -> Message | None:
        async with self._connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "DELETE FROM llama_mesh_resources WHERE kind = %s AND identifier = %s RETURNING body",
                (kind, identifier),
            )
            row = await cursor.fetchone()
            if row is not None:
                await self._notify(conn, kind, identifier)
        self._forget((kind, identifier))
        return None if row is None else _decode(kind, row[0])

    @contextlib.asynccontextmanager
    async def physical_lock(self, key: PhysicalKey) -> AsyncIterator[None]:
        # Not from the pool: a holder waits on a prepare (minutes for a model) and needs pool connections meanwhile.
        if self._locks_held >= MAX_REGISTRATIONS_IN_PROGRESS:
            raise ResourceExhausted(
                f"this gateway has {MAX_REGISTRATIONS_IN_PROGRESS} registrations or unregistrations in progress, its "
                "most; try again once one has ended",
                reason="TOO_MANY_REGISTRATIONS",
                limit=MAX_REGISTRATIONS_IN_PROGRESS,
            )
        self._locks_held += 1
        try:
            with _unavailable_if_down():
                conn = await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT_SECONDS)
                )
            async with conn:
                with _unavailable_if_down():
                    await conn.execute("SELECT pg_advisory_lock(%s)", (_advisory_key(key),))
                yield  # closing the connection ends its session, and with it the lock
        finally:
            self._locks_held -= 1

    @staticmethod
    async def _notify(conn: psycopg.AsyncConnection, kind: int, identifier: str) -> None:
        await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{kind}:{identifier}"))

    async def _listen(self) -> None:
        """Drop the memory entries that other gateways change, for as long as the store is open."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT_SECONDS)
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._forget()  # whatever changed while no one listened is read again
                    self._cache_usable = True
                    self._listening.set()
                    async for notify in conn.notifies():
                        kind, _, identifier = notify.payload.partition(":")
                        self._forget((int(kind), identifier))
            except psycopg.Error as exc:
                log.warning("registry notifications interrupted (%s); reconnecting", type(exc).__name__)
                self._cache_usable = False
                self._forget()
                self._listening.set()  # lookups still work meanwhile: every one reads the database
                await asyncio.sleep(RELISTEN_DELAY_SECONDS)
