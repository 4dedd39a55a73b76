"""What the edge keeps itself, under <data_dir>/openai_edge: uploaded files (one file each, plus a row in SQLite), the
records of vector stores and of the files added to them (the chunks live in vector_io), and batches. Every record
has an owner, a digest of the bearer token that created it; other tokens see NOT_FOUND. SQLite work runs off the
event loop.

To run several edge replicas, give them one shared data directory (a ReadWriteMany volume).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, filename TEXT NOT NULL, purpose TEXT NOT NULL,
    bytes INTEGER NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS vector_stores (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, created_at INTEGER NOT NULL,
    metadata TEXT NOT NULL, embedding_model TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vector_store_files (
    vector_store_id TEXT NOT NULL, file_id TEXT NOT NULL, status TEXT NOT NULL, last_error TEXT,
    usage_bytes INTEGER NOT NULL, created_at INTEGER NOT NULL, attributes TEXT NOT NULL, chunking TEXT NOT NULL,
    PRIMARY KEY (vector_store_id, file_id));
CREATE TABLE IF NOT EXISTS vector_store_file_batches (
    id TEXT PRIMARY KEY, vector_store_id TEXT NOT NULL, created_at INTEGER NOT NULL, file_ids TEXT NOT NULL,
    cancelled INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, created_at INTEGER NOT NULL, heartbeat_at REAL NOT NULL,
    body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS edges (id TEXT PRIMARY KEY, heartbeat_at REAL NOT NULL);
"""
# The edge adding a file to a vector store is named on its row (edge_id; a column added to stores made before it).
_ADDING_EDGE_COLUMN = "edge_id"
_ADDING_INDEX = (
    "CREATE INDEX IF NOT EXISTS vector_store_files_in_progress ON vector_store_files (edge_id) "
    "WHERE status = 'in_progress'"
)
# A batch still running is written to at least this often (its progress and `heartbeat_at`) by the edge running it;
# one not written for BATCH_STALE_SECONDS has lost its edge (killed) and is read as failed.
BATCH_HEARTBEAT_SECONDS = 2.0
BATCH_STALE_SECONDS = 60.0
# Each edge process writes its own heartbeat as often (`EdgeStore.beat`); the files an edge that has not written one for
# EDGE_STALE_SECONDS was adding to vector stores are failed by the next edge that beats: it was killed, and no edge
# will finish them. Those an edge sharing the data dir is adding stay in progress.
EDGE_HEARTBEAT_SECONDS = 2.0
EDGE_STALE_SECONDS = 60.0
ACTIVE_BATCH_STATUSES = ("validating", "in_progress", "finalizing", "cancelling")


def owner_of(metadata: tuple[tuple[str, str], ...]) -> str:
    """The owner key of a caller: a digest of its bearer token (empty without one)."""
    token = next((value for key, value in metadata if key == "authorization"), "")
    return hashlib.sha256(token.encode()).hexdigest() if token else ""


@dataclass
class FileRecord:
    id: str
    owner: str
    filename: str
    purpose: str
    bytes: int
    created_at: int


@dataclass
class VectorStoreRecord:
    id: str
    owner: str
    name: str
    created_at: int
    metadata: dict[str, Any]
    embedding_model: str


@dataclass
class VectorStoreFileRecord:
    vector_store_id: str
    file_id: str
    status: str
    last_error: dict[str, str] | None
    usage_bytes: int
    created_at: int
    attributes: dict[str, Any] = field(default_factory=dict)
    chunking: dict[str, Any] = field(default_factory=dict)


@dataclass
class VectorStoreFileBatchRecord:
    """A batch of files added to a vector store together: their states are the records of its files. A file removed
    from the store leaves its batches."""

    id: str
    vector_store_id: str
    created_at: int
    file_ids: list[str]
    cancelled: bool = False


def lost_batch(batch: dict[str, Any], now: int) -> dict[str, Any]:
    """A batch whose edge stopped before it ended: failed, saying so."""
    error = {
        "code": "edge_stopped",
        "message": "the OpenAI edge running this batch stopped before it ended; create the batch again",
        "param": None,
        "line": None,
    }
    return batch | {"status": "failed", "failed_at": now, "errors": {"object": "list", "data": [error]}}


class StorageFull(Exception):
    pass


class EdgeStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files_dir = root / "files"
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self.edge_id = uuid.uuid4().hex  # this edge process, on the rows of the files it adds to vector stores

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.root / "openai_edge.db", check_same_thread=False, isolation_level=None)
            db.executescript(_SCHEMA)
            db.execute("BEGIN IMMEDIATE")  # two edges starting at once add the column once
            columns = {row[1] for row in db.execute("PRAGMA table_info(vector_store_files)")}
            if _ADDING_EDGE_COLUMN not in columns:
                db.execute(f"ALTER TABLE vector_store_files ADD COLUMN {_ADDING_EDGE_COLUMN} TEXT")
            db.execute(_ADDING_INDEX)
            db.execute("COMMIT")
            self._db = db
        return self._db

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The connection, in a transaction that reads and then writes: another edge sharing the data dir waits for
        it to end (its read-then-write can not overwrite a change made in between, such as a cancel)."""
        with self._lock:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _run(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection().execute(sql, args).fetchall()

    async def run(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return await asyncio.to_thread(self._run, sql, *args)

    def _changed(self, sql: str, *args: Any) -> int:
        with self._lock:
            return self._connection().execute(sql, args).rowcount

    async def changed(self, sql: str, *args: Any) -> int:
        """How many rows an UPDATE or DELETE changed."""
        return await asyncio.to_thread(self._changed, sql, *args)

    # files

    def _save_file(
        self, owner: str, filename: str, purpose: str, size: int, put: Callable[[Path], None], max_total: int
    ) -> FileRecord:
        with self._writing() as db:
            (used,) = db.execute("SELECT COALESCE(SUM(bytes), 0) FROM files").fetchone()
            if used + size > max_total:
                raise StorageFull(f"the edge's file storage is full ({used} of {max_total} bytes used)")
            record = FileRecord(f"file-{uuid.uuid4().hex}", owner, filename, purpose, size, int(time.time()))
            put(self.files_dir / record.id)
            db.execute(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)",
                (record.id, owner, filename, purpose, record.bytes, record.created_at),
            )
            return record

    async def save_file(self, owner: str, filename: str, purpose: str, data: bytes, max_total: int) -> FileRecord:
        return await asyncio.to_thread(
            self._save_file, owner, filename, purpose, len(data), lambda path: path.write_bytes(data), max_total
        )

    def scratch_path(self, batch_id: str) -> Path:
        """A new path in the files' directory for a file of a batch's run written in parts before it is kept
        (`keep_file`); the batch's id in its name lets `sweep_scratch` find those a killed edge left."""
        self.files_dir.mkdir(parents=True, exist_ok=True)
        return self.files_dir / f"part-{batch_id}-{uuid.uuid4().hex}"

    def _sweep_scratch(self, now: float) -> int:
        with self._lock:
            rows = self._connection().execute("SELECT id, heartbeat_at, body FROM batches").fetchall()
        running = {
            batch_id
            for batch_id, heartbeat_at, body in rows
            if json.loads(body)["status"] in ACTIVE_BATCH_STATUSES and heartbeat_at >= now - BATCH_STALE_SECONDS
        }
        swept = 0
        for path in self.files_dir.glob("part-*"):
            if path.name.removeprefix("part-").rpartition("-")[0] not in running:
                path.unlink(missing_ok=True)
                swept += 1
        return swept

    async def sweep_scratch(self, *, now: float | None = None) -> int:
        """Deletes the scratch files of batches that no edge runs (an edge killed while running them left them);
        those of a batch another edge sharing the data dir runs stay. How many were deleted."""
        return await asyncio.to_thread(self._sweep_scratch, now or time.time())

    async def keep_file(self, owner: str, filename: str, purpose: str, scratch: Path, max_total: int) -> FileRecord:
        """Keeps a file written at `scratch_path()` as a file of `owner` (StorageFull: it is deleted instead)."""

        def keep() -> FileRecord:
            try:
                return self._save_file(owner, filename, purpose, scratch.stat().st_size, scratch.rename, max_total)
            finally:
                scratch.unlink(missing_ok=True)

        return await asyncio.to_thread(keep)

    async def files(self, owner: str, purpose: str | None = None) -> list[FileRecord]:
        rows = await self.run(
            "SELECT * FROM files WHERE owner = ? AND (? IS NULL OR purpose = ?) ORDER BY created_at, rowid",
            owner,
            purpose,
            purpose,
        )
        return [FileRecord(*row) for row in rows]

    async def file(self, owner: str, file_id: str) -> FileRecord | None:
        rows = await self.run("SELECT * FROM files WHERE owner = ? AND id = ?", owner, file_id)
        return FileRecord(*rows[0]) if rows else None

    async def file_content(self, record: FileRecord) -> bytes:
        return await asyncio.to_thread((self.files_dir / record.id).read_bytes)

    async def delete_file(self, record: FileRecord) -> None:
        await self.run("DELETE FROM files WHERE id = ?", record.id)
        await asyncio.to_thread((self.files_dir / record.id).unlink, missing_ok=True)

    # vector stores

    async def add_vector_store(self, record: VectorStoreRecord) -> None:
        await self.run(
            "INSERT INTO vector_stores VALUES (?, ?, ?, ?, ?, ?)",
            record.id,
            record.owner,
            record.name,
            record.created_at,
            json.dumps(record.metadata),
            record.embedding_model,
        )

    @staticmethod
    def _vector_store(row: tuple[Any, ...]) -> VectorStoreRecord:
        return VectorStoreRecord(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5])

    async def vector_stores(self, owner: str) -> list[VectorStoreRecord]:
        rows = await self.run("SELECT * FROM vector_stores WHERE owner = ? ORDER BY created_at, rowid", owner)
        return [self._vector_store(row) for row in rows]

    async def vector_store(self, owner: str, store_id: str) -> VectorStoreRecord | None:
        rows = await self.run("SELECT * FROM vector_stores WHERE owner = ? AND id = ?", owner, store_id)
        return self._vector_store(rows[0]) if rows else None

    async def update_vector_store(self, record: VectorStoreRecord) -> None:
        await self.run(
            "UPDATE vector_stores SET name = ?, metadata = ? WHERE id = ?",
            record.name,
            json.dumps(record.metadata),
            record.id,
        )

    async def delete_vector_store(self, store_id: str) -> None:
        await self.run("DELETE FROM vector_store_file_batches WHERE vector_store_id = ?", store_id)
        await self.run("DELETE FROM vector_store_files WHERE vector_store_id = ?", store_id)
        await self.run("DELETE FROM vector_stores WHERE id = ?", store_id)

    @staticmethod
    def _store_file(row: tuple[Any, ...]) -> VectorStoreFileRecord:
        error = json.loads(row[3]) if row[3] else None
        return VectorStoreFileRecord(
            row[0], row[1], row[2], error, row[4], row[5], json.loads(row[6]), json.loads(row[7])
        )

    async def put_store_file(self, record: VectorStoreFileRecord) -> None:
        await self.run(
            "INSERT OR REPLACE INTO vector_store_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            record.vector_store_id,
            record.file_id,
            record.status,
            json.dumps(record.last_error) if record.last_error else None,
            record.usage_bytes,
            record.created_at,
            json.dumps(record.attributes),
            json.dumps(record.chunking),
            self.edge_id,
        )

    async def finish_store_file(self, record: VectorStoreFileRecord) -> bool:
        """Records how adding a file ended, unless the file was removed from the store or cancelled meanwhile (False
        then)."""
        changed = await self.changed(
            "UPDATE vector_store_files SET status = ?, last_error = ?, usage_bytes = ? "
            "WHERE vector_store_id = ? AND file_id = ? AND status = 'in_progress'",
            record.status,
            json.dumps(record.last_error) if record.last_error else None,
            record.usage_bytes,
            record.vector_store_id,
            record.file_id,
        )
        return changed > 0

    async def store_files(self, store_id: str, status: str | None = None) -> list[VectorStoreFileRecord]:
        rows = await self.run(
            "SELECT * FROM vector_store_files WHERE vector_store_id = ? AND (? IS NULL OR status = ?) "
            "ORDER BY created_at, rowid",
            store_id,
            status,
            status,
        )
        return [self._store_file(row) for row in rows]

    async def store_file(self, store_id: str, file_id: str) -> VectorStoreFileRecord | None:
        rows = await self.run(
            "SELECT * FROM vector_store_files WHERE vector_store_id = ? AND file_id = ?", store_id, file_id
        )
        return self._store_file(rows[0]) if rows else None

    async def delete_store_file(self, store_id: str, file_id: str) -> None:
        await self.run(
            "UPDATE vector_store_file_batches SET file_ids = "
            "(SELECT json_group_array(value) FROM json_each(file_ids) WHERE value != ?) WHERE vector_store_id = ?",
            file_id,
            store_id,
        )
        await self.run("DELETE FROM vector_store_files WHERE vector_store_id = ? AND file_id = ?", store_id, file_id)

    async def restart_store_file(self, record: VectorStoreFileRecord) -> bool:
        """Marks a file that is not being added as being added again, with `record`'s attributes (False: it is being
        added, or is gone)."""
        changed = await self.changed(
            "UPDATE vector_store_files SET status = 'in_progress', last_error = NULL, usage_bytes = 0, "
            "attributes = ?, edge_id = ? WHERE vector_store_id = ? AND file_id = ? AND status != 'in_progress'",
            json.dumps(record.attributes),
            self.edge_id,
            record.vector_store_id,
            record.file_id,
        )
        return changed > 0

    def _add_file_batch(self, batch: VectorStoreFileBatchRecord, files: list[VectorStoreFileRecord]) -> bool:
        rows = [
            (
                item.vector_store_id,
                item.file_id,
                item.created_at,
                json.dumps(item.attributes),
                json.dumps(item.chunking),
                self.edge_id,
            )
            for item in files
        ]
        with self._lock:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT INTO vector_store_file_batches VALUES (?, ?, ?, ?, 0)",
                    (batch.id, batch.vector_store_id, batch.created_at, json.dumps(batch.file_ids)),
                )
                db.executemany("INSERT INTO vector_store_files VALUES (?, ?, 'in_progress', NULL, 0, ?, ?, ?, ?)", rows)
            except Exception as error:
                db.execute("ROLLBACK")
                if isinstance(error, sqlite3.IntegrityError):
                    return False
                raise
            db.execute("COMMIT")
            return True

    async def add_file_batch(self, batch: VectorStoreFileBatchRecord, files: list[VectorStoreFileRecord]) -> bool:
        """Keeps a batch and the records of its files, all or none (False: one of the files is already in the
        store)."""
        return await asyncio.to_thread(self._add_file_batch, batch, files)

    async def file_batch(self, store_id: str, batch_id: str) -> VectorStoreFileBatchRecord | None:
        rows = await self.run(
            "SELECT * FROM vector_store_file_batches WHERE vector_store_id = ? AND id = ?", store_id, batch_id
        )
        if not rows:
            return None
        batch_id, vector_store_id, created_at, file_ids, cancelled = rows[0]
        return VectorStoreFileBatchRecord(batch_id, vector_store_id, created_at, json.loads(file_ids), bool(cancelled))

    async def cancel_file_batch(self, batch: VectorStoreFileBatchRecord) -> None:
        """The batch adds no more files, and its files still being added are cancelled (an insert under way removes
        its chunks when it ends)."""
        await self.run("UPDATE vector_store_file_batches SET cancelled = 1 WHERE id = ?", batch.id)
        await self.run(
            "UPDATE vector_store_files SET status = 'cancelled' WHERE vector_store_id = ? AND status = 'in_progress' "
            "AND file_id IN (SELECT value FROM json_each(?))",
            batch.vector_store_id,
            json.dumps(batch.file_ids),
        )

    def _beat(self, now: float) -> int:
        error = json.dumps({"code": "server_error", "message": "the edge adding the file stopped before it ended"})
        with self._writing() as db:
            db.execute("INSERT OR REPLACE INTO edges VALUES (?, ?)", (self.edge_id, now))
            db.execute("DELETE FROM edges WHERE heartbeat_at < ?", (now - 100 * EDGE_STALE_SECONDS,))
            return db.execute(
                "UPDATE vector_store_files SET status = 'failed', last_error = ? WHERE status = 'in_progress' AND "
                "(edge_id IS NULL OR edge_id NOT IN (SELECT id FROM edges WHERE heartbeat_at >= ?))",
                (error, now - EDGE_STALE_SECONDS),
            ).rowcount

    async def beat(self, *, now: float | None = None) -> int:
        """Writes this edge's heartbeat, and fails the files that edges no longer alive were adding to vector stores
        (their chunks may be partly inserted); how many. At start-up and every EDGE_HEARTBEAT_SECONDS."""
        return await asyncio.to_thread(self._beat, now or time.time())

    async def beat_forever(self) -> None:
        while True:
            try:
                await self.beat()
            except sqlite3.Error as exc:  # locked by another edge past the busy timeout, a full disk: the next beat
                log.warning("the edge's heartbeat could not be written (%s); trying again", exc)
            await asyncio.sleep(EDGE_HEARTBEAT_SECONDS)

    # batches: OpenAI's batch object as JSON, with its owner and when the edge running it last wrote it

    async def add_batch(self, owner: str, batch: dict[str, Any], keep: int) -> None:
        """Adds a batch of `owner`, who then keeps at most `keep` batches that have ended: the oldest are forgotten
        (their output and error files stay files of theirs)."""

        def add() -> None:
            with self._writing() as db:
                db.execute(
                    "INSERT INTO batches VALUES (?, ?, ?, ?, ?)",
                    (batch["id"], owner, batch["created_at"], time.time(), json.dumps(batch)),
                )
                active = ", ".join("?" for _ in ACTIVE_BATCH_STATUSES)
                db.execute(
                    "DELETE FROM batches WHERE id IN (SELECT id FROM batches WHERE owner = ? "
                    f"AND json_extract(body, '$.status') NOT IN ({active}) "
                    "ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                    (owner, *ACTIVE_BATCH_STATUSES, keep),
                )

        await asyncio.to_thread(add)

    def _batches(self, where: str, *args: Any, now: float) -> list[dict[str, Any]]:
        """The batches that match, those whose edge is gone failed first (in the same transaction)."""
        with self._writing() as db:
            rows = db.execute(
                f"SELECT id, heartbeat_at, body FROM batches WHERE {where} ORDER BY created_at, rowid", args
            )
            batches = []
            for batch_id, heartbeat_at, body in rows.fetchall():
                batch = json.loads(body)
                if batch["status"] in ACTIVE_BATCH_STATUSES and heartbeat_at < now - BATCH_STALE_SECONDS:
                    batch = lost_batch(batch, int(now))
                    db.execute("UPDATE batches SET body = ? WHERE id = ?", (json.dumps(batch), batch_id))
                batches.append(batch)
            return batches

    async def batches(self, owner: str, *, now: float | None = None) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._batches, "owner = ?", owner, now=now or time.time())

    async def batch(self, owner: str, batch_id: str, *, now: float | None = None) -> dict[str, Any] | None:
        found = await asyncio.to_thread(self._batches, "owner = ? AND id = ?", owner, batch_id, now=now or time.time())
        return found[0] if found else None

    async def update_batch(
        self, batch_id: str, changes: dict[str, Any], *, if_status: tuple[str, ...] = ACTIVE_BATCH_STATUSES
    ) -> dict[str, Any] | None:
        """Applies `changes` to the batch and marks it alive, if its status is one of `if_status` (None otherwise: it
        ended meanwhile, or was failed as lost)."""

        def update() -> dict[str, Any] | None:
            with self._writing() as db:
                row = db.execute("SELECT body FROM batches WHERE id = ?", (batch_id,)).fetchone()
                if row is None or json.loads(row[0])["status"] not in if_status:
                    return None
                batch = json.loads(row[0]) | changes
                db.execute(
                    "UPDATE batches SET body = ?, heartbeat_at = ? WHERE id = ?",
                    (json.dumps(batch), time.time(), batch_id),
                )
                return batch

        return await asyncio.to_thread(update)

    def _close(self) -> None:
        with self._lock:  # after the statement in progress, if any: closing under it can crash the process
            if self._db is not None:
                db, self._db = self._db, None
                db.close()

    async def close(self) -> None:
        await asyncio.to_thread(self._close)
