"""Spans in SQLite: one row per span plus one row per scalar attribute (what filters search).

Blocking by design: the service calls it through `asyncio.to_thread`. One connection, guarded by a lock; WAL mode so
that a write (one transaction per OTLP Export call) does not wait on readers for long.

Storing is the telemetry service's main cost (every call the mesh serves sends it a span per hop), so an attribute row
is keyed by its span's `seq`, a number that grows with each span stored: a batch of attribute rows is appended at the
end of one B-tree, where rows keyed by (random) trace and span ids went to random places of three (a third of the time
per span at 10k spans, and the gap grows with the store). A store written before (schema version 0) is converted
when opened.

A trace's root is its span without a parent; failing that (the caller outside the mesh sent a `traceparent` but no
spans), the earliest span whose parent was never received.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.telemetry.query_terms import Condition, OrderTerm
from services.telemetry.stored_span import StoredSpan

_SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spans (
    seq INTEGER PRIMARY KEY,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT NOT NULL,
    name TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER,
    status INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    UNIQUE (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS spans_by_span_id ON spans (span_id);
CREATE TABLE IF NOT EXISTS span_attributes (
    span_seq INTEGER NOT NULL,
    key TEXT NOT NULL,
    text_value TEXT,
    num_value REAL,
    bool_value INTEGER,
    PRIMARY KEY (span_seq, key)
) WITHOUT ROWID;
"""

# A store of schema version 0 (attribute rows keyed by trace and span id) into this one, in one transaction.
_FROM_VERSION_0 = f"""
BEGIN;
DROP INDEX IF EXISTS spans_by_span_id;
DROP INDEX IF EXISTS attributes_by_trace;
DROP INDEX IF EXISTS attributes_by_span;
ALTER TABLE spans RENAME TO spans_v0;
ALTER TABLE span_attributes RENAME TO span_attributes_v0;
{_SCHEMA}
INSERT INTO spans (trace_id, span_id, parent_span_id, name, start_ns, end_ns, status, attributes)
    SELECT trace_id, span_id, parent_span_id, name, start_ns, end_ns, status, attributes
    FROM spans_v0 ORDER BY start_ns;
INSERT OR IGNORE INTO span_attributes
    SELECT s.seq, a.key, a.text_value, a.num_value, a.bool_value
    FROM span_attributes_v0 a JOIN spans s ON s.trace_id = a.trace_id AND s.span_id = a.span_id;
DROP TABLE spans_v0;
DROP TABLE span_attributes_v0;
PRAGMA user_version = {_SCHEMA_VERSION};
COMMIT;
"""

# Every trace with its root span: a span without a parent first, else the earliest whose parent is missing.
_ROOTS = """
WITH candidates AS (
    SELECT s.trace_id, s.span_id, s.start_ns, s.end_ns,
           ROW_NUMBER() OVER (
               PARTITION BY s.trace_id ORDER BY (s.parent_span_id = '') DESC, s.start_ns, s.span_id
           ) AS rank
    FROM spans s
    WHERE s.parent_span_id = ''
       OR NOT EXISTS (SELECT 1 FROM spans p WHERE p.trace_id = s.trace_id AND p.span_id = s.parent_span_id)
),
roots AS (SELECT trace_id, span_id, start_ns, end_ns FROM candidates WHERE rank = 1)
"""

_COLUMN_OF_OP = {"eq": "=", "ne": "!=", "gt": ">", "lt": "<"}


# The gateway puts the authenticated caller's name on its span of each call; a trace belongs to the caller named on
# its root span (the gateway's span of the call that began it).
CALLER_ATTRIBUTE = "caller"


@dataclass(frozen=True)
class RootCondition(Condition):
    """A Condition on the trace's root span alone."""


def owned_by(owner: str | None) -> list[Condition]:
    """The conditions that keep a query to `owner`'s traces (none for None: every trace)."""
    return [] if owner is None else [RootCondition(CALLER_ATTRIBUTE, "eq", owner)]


@dataclass(frozen=True)
class TraceRow:
    trace_id: str
    root_span_id: str
    start_ns: int
    end_ns: int | None


def _attribute_rows(seq: int, span: StoredSpan) -> Iterable[tuple[int, str, str | None, float | None, int | None]]:
    for key, value in span.attributes.items():
        if isinstance(value, bool):
            yield seq, key, None, None, int(value)
        elif isinstance(value, int | float):
            yield seq, key, None, float(value), None
        elif isinstance(value, str):
            yield seq, key, value, None, None


def _condition_sql(condition: Condition) -> tuple[str, list[Any]]:
    """An EXISTS clause true when some span of `roots.trace_id` has the attribute and passes the test."""
    if isinstance(condition.value, bool):
        column, value = "bool_value", int(condition.value)
    elif isinstance(condition.value, float):
        column, value = "num_value", condition.value
    else:
        column, value = "text_value", condition.value
    root = "AND s.span_id = roots.span_id " if isinstance(condition, RootCondition) else ""
    sql = (
        "EXISTS (SELECT 1 FROM spans s JOIN span_attributes a ON a.span_seq = s.seq "
        f"WHERE s.trace_id = roots.trace_id {root}AND a.key = ? "
        f"AND a.{column} IS NOT NULL AND a.{column} {_COLUMN_OF_OP[condition.op]} ?)"
    )
    return sql, [condition.key, value]


def _order_sql(order: Sequence[OrderTerm]) -> str:
    columns = {"start_time": "roots.start_ns", "end_time": "roots.end_ns"}
    terms = [f"{columns[term.field]} {'DESC' if term.descending else 'ASC'}" for term in order]
    tie = "DESC" if order and order[0].descending else "ASC"
    return ", ".join([*terms, f"roots.trace_id {tie}"])


class SpanStore:
    def __init__(self, path: Path | str) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            if str(path) != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            columns = {row["name"] for row in self._db.execute("PRAGMA table_info(spans)")}
            if version == 0 and columns and "seq" not in columns:
                try:
                    self._db.executescript(_FROM_VERSION_0)
                except sqlite3.Error:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            else:
                self._db.executescript(f"{_SCHEMA} PRAGMA user_version = {_SCHEMA_VERSION};")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def insert(self, spans: Sequence[StoredSpan]) -> None:
        """Store spans in one transaction (a span sent again replaces the earlier copy)."""
        if not spans:
            return
        latest = list({(span.trace_id, span.span_id): span for span in spans}.values())
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "DELETE FROM span_attributes "
                    "WHERE span_seq = (SELECT seq FROM spans WHERE trace_id = ? AND span_id = ?)",
                    [(span.trace_id, span.span_id) for span in latest],
                )
                first = self._db.execute("SELECT coalesce(max(seq), 0) + 1 FROM spans").fetchone()[0]
                self._db.executemany(
                    "INSERT OR REPLACE INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            first + index,
                            s.trace_id,
                            s.span_id,
                            s.parent_span_id,
                            s.name,
                            s.start_ns,
                            s.end_ns,
                            s.status,
                            json.dumps(s.attributes),
                        )
                        for index, s in enumerate(latest)
                    ],
                )
                self._db.executemany(
                    "INSERT INTO span_attributes VALUES (?, ?, ?, ?, ?)",
                    [row for index, span in enumerate(latest) for row in _attribute_rows(first + index, span)],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def traces(
        self, conditions: Sequence[Condition], order: Sequence[OrderTerm], limit: int, offset: int
    ) -> list[TraceRow]:
        """Traces where, for every condition, some span passes it; ordered, then one page of them."""
        clauses: list[str] = []
        parameters: list[Any] = []
        for condition in conditions:
            sql, values = _condition_sql(condition)
            clauses.append(sql)
            parameters.extend(values)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"{_ROOTS} SELECT * FROM roots {where} ORDER BY {_order_sql(order)} LIMIT ? OFFSET ?"
        with self._lock:
            rows = self._db.execute(query, [*parameters, limit, offset]).fetchall()
        return [TraceRow(row["trace_id"], row["span_id"], row["start_ns"], row["end_ns"]) for row in rows]

    def trace(self, trace_id: str, conditions: Sequence[Condition] = ()) -> TraceRow | None:
        """The trace, if it was recorded and passes `conditions`."""
        clauses = ["trace_id = ?"]
        parameters: list[Any] = [trace_id]
        for condition in conditions:
            sql, values = _condition_sql(condition)
            clauses.append(sql)
            parameters.extend(values)
        query = f"{_ROOTS} SELECT * FROM roots WHERE {' AND '.join(clauses)}"
        with self._lock:
            row = self._db.execute(query, parameters).fetchone()
        return None if row is None else TraceRow(row["trace_id"], row["span_id"], row["start_ns"], row["end_ns"])

    def span(self, trace_id: str, span_id: str) -> StoredSpan | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM spans WHERE trace_id = ? AND span_id = ?", (trace_id, span_id)
            ).fetchone()
        return None if row is None else _span(row)

    def find_span(self, span_id: str) -> StoredSpan | None:
        """A span by its id alone (span ids are random 64-bit numbers; the earliest wins a collision)."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM spans WHERE span_id = ? ORDER BY start_ns LIMIT 1", (span_id,)
            ).fetchone()
        return None if row is None else _span(row)

    def trace_spans(self, trace_id: str) -> list[StoredSpan]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM spans WHERE trace_id = ? ORDER BY start_ns, span_id", (trace_id,)
            ).fetchall()
        return [_span(row) for row in rows]


def _span(row: sqlite3.Row) -> StoredSpan:
    return StoredSpan(
        trace_id=row["trace_id"],
        span_id=row["span_id"],
        parent_span_id=row["parent_span_id"],
        name=row["name"],
        start_ns=row["start_ns"],
        end_ns=row["end_ns"],
        status=row["status"],
        attributes=json.loads(row["attributes"]),
    )
