"""SaveSpansToDataset's rows: every span QuerySpans would return, as a dataset row with its ids, name, times (RFC 3339)
and the attributes asked for (null where a span lacks one). Runs in a worker thread (it reads SQLite)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from services.telemetry.conversions import struct_value
from services.telemetry.query_terms import Condition, SpanKey
from services.telemetry.span_pages import matching_spans
from services.telemetry.span_store import SpanStore
from services.telemetry.stored_span import StoredSpan

_SPANS_PER_READ = 1000


def _time(nanos: int | None) -> str | None:
    if nanos is None:
        return None
    seconds, remainder = divmod(nanos, 1_000_000_000)
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC).replace(microsecond=remainder // 1000)
    return moment.isoformat().replace("+00:00", "Z")


def span_row(span: StoredSpan, attributes: Sequence[str]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "name": span.name,
        "start_time": _time(span.start_ns),
        "end_time": _time(span.end_ns),
    }
    for name in attributes:
        row[name] = struct_value(span.attributes.get(name))
    return row


def span_rows(
    store: SpanStore,
    conditions: Sequence[Condition],
    owner: str | None,
    max_depth: int,
    attributes: Sequence[str],
    limit: int,
) -> list[dict[str, Any]] | None:
    """The rows, in QuerySpans order; None when more than `limit` spans match."""
    rows: list[dict[str, Any]] = []
    first: SpanKey | None = None
    while True:
        page = matching_spans(store, conditions, owner, max_depth, _SPANS_PER_READ, first)
        rows.extend(span_row(span, attributes) for span in page.spans)
        if len(rows) > limit:
            return None
        if page.next_key is None:
            return rows
        first = page.next_key
