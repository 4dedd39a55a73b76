"""The spans of a trace that its owner sees.

A trace belongs to the caller named on its root span (span_store.owned_by). Anyone may send the gateway a
`traceparent` naming a trace id they know, so the gateway's span of their call (which names them) and the spans of the
services that served it can land in another principal's trace: under its root, or beside it with a parent never
received. Its owner sees the root's subtree alone, cut at each span that names another caller (the call of someone
else, and everything under it); the rest is NOT_FOUND to them, as another principal's records are. Admins and callers
with auth off see every span.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from services.telemetry.span_store import CALLER_ATTRIBUTE
from services.telemetry.stored_span import StoredSpan


def owned_spans(spans: Sequence[StoredSpan], root_span_id: str, owner: str | None) -> list[StoredSpan]:
    """Of a trace's `spans` (whose root is `root_span_id`), those `owner` sees (every one for None), in their order."""
    if owner is None:
        return list(spans)
    children: dict[str, list[StoredSpan]] = defaultdict(list)
    for span in spans:
        if span.parent_span_id:
            children[span.parent_span_id].append(span)
    kept: set[str] = set()
    waiting = [span for span in spans if span.span_id == root_span_id]
    while waiting:  # iterative, each span once: parent links may form a cycle
        span = waiting.pop()
        if span.span_id in kept or span.attributes.get(CALLER_ATTRIBUTE, owner) != owner:
            continue
        kept.add(span.span_id)
        waiting.extend(children.get(span.span_id, ()))
    return [span for span in spans if span.span_id in kept]
