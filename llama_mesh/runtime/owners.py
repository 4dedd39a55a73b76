"""Owned records in a service's SQLite store: the `owner` column (the principal the gateway named, see caller.py),
added to stores made before owners existed."""

from __future__ import annotations

import sqlite3


def ensure_owner_column(db: sqlite3.Connection, table: str) -> None:
    """Add `owner` to `table` if it lacks it; rows made before that belong to '' (with auth on: admins only)."""
    columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    if "owner" not in columns:
        db.execute(f"ALTER TABLE {table} ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
