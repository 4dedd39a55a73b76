"""QuerySpans' pages: the spans of matching traces, trace by trace, each depth-first from its root.

A page position is (index of the trace among the matching traces, index of the span within that trace's spans), so a
page may end in the middle of a trace and the next one resumes there. Runs in a worker thread (it reads SQLite).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.telemetry.owned_spans import owned_spans
from services.telemetry.query_terms import Condition, OrderTerm
from services.telemetry.span_store import SpanStore, owned_by
from services.telemetry.span_tree import span_tree
from services.telemetry.stored_span import StoredSpan

_TRACES_PER_READ = 50
NEWEST_FIRST = (OrderTerm("start_time", descending=True),)


@dataclass(frozen=True)
class SpanPage:
    spans: list[StoredSpan]
    # Where the next page starts; None when this is the last page.
    next_position: tuple[int, int] | None


def matching_spans(
    store: SpanStore,
    conditions: Sequence[Condition],
    owner: str | None,
    max_depth: int,
    page_size: int,
    position: tuple[int, int] = (0, 0),
) -> SpanPage:
    """A page of the spans of the traces that pass `conditions` and are `owner`'s (every trace for None), each trace
    as its owner sees it (owned_spans.py)."""
    conditions = [*conditions, *owned_by(owner)]
    trace_index, skip = position
    spans: list[StoredSpan] = []
    positions: list[tuple[int, int]] = []
    while len(spans) <= page_size:
        traces = store.traces(conditions, NEWEST_FIRST, _TRACES_PER_READ, trace_index)
        if not traces:
            break
        for trace in traces:
            spans_of_trace = owned_spans(store.trace_spans(trace.trace_id), trace.root_span_id, owner)
            tree = span_tree(spans_of_trace, trace.root_span_id, max_depth)
            ordered = list(tree.depth_first()) if tree else []
            for index in range(skip, len(ordered)):
                spans.append(ordered[index])
                positions.append((trace_index, index))
            skip = 0
            trace_index += 1
            if len(spans) > page_size:
                break
    if len(spans) > page_size:
        return SpanPage(spans[:page_size], positions[page_size])
    return SpanPage(spans, None)
