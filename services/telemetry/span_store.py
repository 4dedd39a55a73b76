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

from services.telemetry.query_terms import Condition, OrderTerm, SpanKey
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
CREATE INDEX IF NOT EXISTS spans_by_parent ON spans (trace_id, parent_span_id, start_ns, span_id);
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
WITH RECURSIVE candidates AS (
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


@dataclass(frozen=True)
class OwnerCondition(RootCondition):
    """The trace's root names `value` as its caller; the query's other conditions then count only the spans that are
    not of another caller's call (none of them, nor any of their ancestors, names another caller: owned_spans.py)."""


def owned_by(owner: str | None) -> list[Condition]:
    """The conditions that keep a query to `owner`'s traces (none for None: every trace)."""
    return [] if owner is None else [OwnerCondition(CALLER_ATTRIBUTE, "eq", owner)]


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


# True when the span `s` or one of its ancestors names a caller other than :owner (cycles end: UNION drops a row seen).
# It starts from `a.span_seq` (`s.seq` itself) so that it runs only for a span whose attribute `a` passed the test.
_OF_ANOTHER_CALL = f"""EXISTS (
    WITH RECURSIVE up(seq, parent_span_id) AS (
        SELECT a.span_seq, s.parent_span_id
        UNION
        SELECT p.seq, p.parent_span_id FROM up JOIN spans p ON p.trace_id = s.trace_id AND p.span_id = up.parent_span_id
    )
    SELECT 1 FROM up JOIN span_attributes c ON c.span_seq = up.seq
    WHERE c.key = '{CALLER_ATTRIBUTE}' AND c.text_value IS NOT :owner)"""


def _condition_sql(condition: Condition, name: str, owned: bool) -> tuple[str, dict[str, Any]]:
    """An EXISTS clause true when some span of `roots.trace_id` has the attribute and passes the test (with `owned`,
    some span not of another caller's call: see OwnerCondition)."""
    if isinstance(condition.value, bool):
        column, value = "bool_value", int(condition.value)
    elif isinstance(condition.value, float):
        column, value = "num_value", condition.value
    else:
        column, value = "text_value", condition.value
    root = "AND s.span_id = roots.span_id " if isinstance(condition, RootCondition) else ""
    mine = f"AND NOT {_OF_ANOTHER_CALL}" if owned and not root else ""
    sql = (
        "EXISTS (SELECT 1 FROM spans s JOIN span_attributes a ON a.span_seq = s.seq "
        f"WHERE s.trace_id = roots.trace_id {root}AND a.key = :{name}_key "
        f"AND a.{column} IS NOT NULL AND a.{column} {_COLUMN_OF_OP[condition.op]} :{name}_value {mine})"
    )
    return sql, {f"{name}_key": condition.key, f"{name}_value": value}


def _conditions_sql(conditions: Sequence[Condition]) -> tuple[list[str], dict[str, Any]]:
    """The EXISTS clauses of the conditions (see _condition_sql), with their named parameters."""
    clauses: list[str] = []
    owner = next((condition.value for condition in conditions if isinstance(condition, OwnerCondition)), None)
    parameters: dict[str, Any] = {"owner": owner}
    for index, condition in enumerate(conditions):
        sql, values = _condition_sql(condition, f"condition{index}", owned=owner is not None)
        clauses.append(sql)
        parameters.update(values)
    return clauses, parameters


# A span's place among its siblings, as text that sorts as (start time, span id) does: a span's path (these of its
# ancestors from the root, then its own) sorts its trace depth-first, each span before its children.
def _path_step(table: str) -> str:
    return f"printf('%019d', {table}.start_ns) || {table}.span_id"


# QuerySpans' order, walked in SQL: the matching traces from the page's first one (at most one per span the page holds,
# each gives its root), then their spans depth-first, the queue kept in output order so that the walk stops once the
# page is full. The walk enters no span below `max_depth` and, for a caller limited to their own traces, no span that
# names another caller (owned_spans.py says why; this is its rule in SQL). Nor does it enter a subtree that lies
# wholly before the page's first span: from each span on the path down to it (`after_path`), only the children from
# the one on that path on are read (an index range), so a page costs its size and that path, not its trace's size.
_CHILD = f"""
    SELECT w.trace_start, w.trace_id, child.seq, child.span_id, w.depth + 1, w.path || {_path_step("child")}
    FROM walk w JOIN spans child ON child.trace_id = w.trace_id AND child.parent_span_id = w.span_id
    WHERE w.depth < :max_depth
      AND (:owner IS NULL OR NOT EXISTS (
          SELECT 1 FROM span_attributes a
          WHERE a.span_seq = child.seq AND a.key = '{CALLER_ATTRIBUTE}' AND a.text_value IS NOT :owner))
"""
_ON_THE_PATH = "w.trace_id IS :after_trace AND substr(:after_path, 1, length(w.path)) = w.path"
_SPAN_WALK = f"""
, chosen AS (
    SELECT roots.trace_id, roots.span_id, roots.start_ns FROM roots WHERE {{where}}
    ORDER BY roots.start_ns DESC, roots.trace_id DESC LIMIT :traces
),
walk(trace_start, trace_id, seq, span_id, depth, path) AS (
    SELECT c.start_ns, c.trace_id, s.seq, s.span_id, 0, {_path_step("s")}
    FROM chosen c JOIN spans s ON s.trace_id = c.trace_id AND s.span_id = c.span_id
    UNION ALL
    {_CHILD} AND NOT ({_ON_THE_PATH})
    UNION ALL
    {_CHILD} AND {_ON_THE_PATH}
      AND (child.start_ns, child.span_id) >= (
          CAST(substr(:after_path, length(w.path) + 1, 19) AS INTEGER), substr(:after_path, length(w.path) + 20, 16))
    ORDER BY 1 DESC, 2 DESC, 6 ASC
    LIMIT :walked
)
SELECT w.trace_start, s.* FROM walk w JOIN spans s ON s.seq = w.seq
WHERE w.trace_id IS NOT :after_trace OR w.path >= :after_path
ORDER BY w.trace_start DESC, w.trace_id DESC, w.path LIMIT :limit
"""

# The path of a span (see _path_step), walking up from it to its trace's root.
_SPAN_PATH = f"""
WITH RECURSIVE up(span_id, parent_span_id, path, depth) AS (
    SELECT span_id, parent_span_id, {_path_step("spans")}, 0 FROM spans WHERE trace_id = :trace AND span_id = :span
    UNION ALL
    SELECT p.span_id, p.parent_span_id, {_path_step("p")} || up.path, up.depth + 1
    FROM up JOIN spans p ON p.trace_id = :trace AND p.span_id = up.parent_span_id
    WHERE up.depth < :max_depth
)
SELECT path FROM up ORDER BY depth DESC LIMIT 1
"""


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
        clauses, parameters = _conditions_sql(conditions)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"{_ROOTS} SELECT * FROM roots {where} ORDER BY {_order_sql(order)} LIMIT :limit OFFSET :offset"
        with self._lock:
            rows = self._db.execute(query, {**parameters, "limit": limit, "offset": offset}).fetchall()
        return [TraceRow(row["trace_id"], row["span_id"], row["start_ns"], row["end_ns"]) for row in rows]

    def trace(self, trace_id: str, conditions: Sequence[Condition] = ()) -> TraceRow | None:
        """The trace, if it was recorded and passes `conditions`."""
        clauses, parameters = _conditions_sql(conditions)
        clauses, parameters = ["trace_id = :trace", *clauses], {**parameters, "trace": trace_id}
        query = f"{_ROOTS} SELECT * FROM roots WHERE {' AND '.join(clauses)}"
        with self._lock:
            row = self._db.execute(query, parameters).fetchone()
        return None if row is None else TraceRow(row["trace_id"], row["span_id"], row["start_ns"], row["end_ns"])

    def spans_in_order(
        self, conditions: Sequence[Condition], owner: str | None, max_depth: int, first: SpanKey | None, limit: int
    ) -> list[tuple[SpanKey, StoredSpan]]:
        """QuerySpans' spans from `first` on, `limit` at most, each with its key: the spans of the traces that pass
        `conditions` and are `owner`'s (every trace for None), trace by trace, newest root first, each depth-first from
        its root (children by start time) to `max_depth`, without the spans of another caller's call."""
        clauses, parameters = _conditions_sql([*conditions, *owned_by(owner)])
        if first is not None:
            clauses.append(
                "(roots.start_ns < :after_start OR (roots.start_ns = :after_start AND roots.trace_id <= :after_trace))"
            )
        where = " AND ".join(clauses) or "1"
        parameters.update(
            traces=limit,
            max_depth=max_depth,
            owner=owner,
            after_start=None if first is None else first.trace_start_ns,
            after_trace=None if first is None else first.trace_id,
            after_path="",
            walked=limit + max_depth + 1,  # the page, and the path down to its first span
            limit=limit,
        )
        with self._lock:
            if first is not None:
                row = self._db.execute(
                    _SPAN_PATH, {"trace": first.trace_id, "span": first.span_id, "max_depth": max_depth}
                ).fetchone()
                parameters["after_path"] = "" if row is None else row["path"]
            rows = self._db.execute(_ROOTS + _SPAN_WALK.format(where=where), parameters).fetchall()
        return [(SpanKey(row["trace_start"], row["trace_id"], row["span_id"]), _span(row)) for row in rows]

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
