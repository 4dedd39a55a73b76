"""Rows appended to datasets, kept in SQLite under the data dir (the dataset's own source is never written to).

Blocking by design: the provider calls it through `asyncio.to_thread`. One connection guarded by a lock; an append
is one transaction, so it lands whole or not at all.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from services.datasetio.row_values import Row

_SCHEMA = """
CREATE TABLE IF NOT EXISTS appended_rows (
    dataset_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    row TEXT NOT NULL,
    PRIMARY KEY (dataset_id, position)
)
"""


class AppendedRows:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def count(self, dataset_id: str) -> int:
        with self._lock:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM appended_rows WHERE dataset_id = ?", (dataset_id,)
            ).fetchone()
        return int(count)

    def window(self, dataset_id: str, start: int, limit: int) -> list[Row]:
        """Appended rows `start` .. `start + limit - 1` (0 is the first appended row)."""
        with self._lock:
            cursor = self._db.execute(
                "SELECT row FROM appended_rows WHERE dataset_id = ? ORDER BY position LIMIT ? OFFSET ?",
                (dataset_id, limit, start),
            )
            return [json.loads(text) for (text,) in cursor]

    def append(self, dataset_id: str, rows: Sequence[Row]) -> int:
        """Append every row or none; the count of appended rows after it."""
        encoded = [json.dumps(row, ensure_ascii=False, allow_nan=False) for row in rows]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (count,) = self._db.execute(
                    "SELECT COUNT(*) FROM appended_rows WHERE dataset_id = ?", (dataset_id,)
                ).fetchone()
                self._db.executemany(
                    "INSERT INTO appended_rows (dataset_id, position, row) VALUES (?, ?, ?)",
                    [(dataset_id, count + offset, text) for offset, text in enumerate(encoded)],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return int(count) + len(encoded)

    def dataset_ids(self) -> list[str]:
        """The datasets that have appended rows, sorted."""
        with self._lock:
            cursor = self._db.execute("SELECT DISTINCT dataset_id FROM appended_rows ORDER BY dataset_id")
            return [dataset_id for (dataset_id,) in cursor]

    def drop(self, dataset_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM appended_rows WHERE dataset_id = ?", (dataset_id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
