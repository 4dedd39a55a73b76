"""QuerySpans' pages: the spans of matching traces, trace by trace, each depth-first from its root.

A page is keyset-paged: it starts at a span's key (its trace's root start time and id, then its span id), so a page may
end in the middle of a trace and the next one resumes there, and a page reads about as many spans as it holds (the
store walks the trees in SQL, span_store.SpanStore.spans_in_order). Runs in a worker thread (it reads SQLite).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.telemetry.query_terms import Condition, SpanKey
from services.telemetry.span_store import SpanStore
from services.telemetry.stored_span import StoredSpan


@dataclass(frozen=True)
class SpanPage:
    spans: list[StoredSpan]
    # Where the next page starts; None when this is the last page.
    next_key: SpanKey | None


def matching_spans(
    store: SpanStore,
    conditions: Sequence[Condition],
    owner: str | None,
    max_depth: int,
    page_size: int,
    first: SpanKey | None = None,
) -> SpanPage:
    """A page of the spans of the traces that pass `conditions` and are `owner`'s (every trace for None), each trace
    as its owner sees it (owned_spans.py), from `first` on (None: from the start)."""
    rows = store.spans_in_order(conditions, owner, max_depth, first, page_size + 1)
    spans = [span for _, span in rows[:page_size]]
    return SpanPage(spans, rows[page_size][0] if len(rows) > page_size else None)
