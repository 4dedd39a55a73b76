"""A trace's spans as a tree: children by parent, ordered by start time, cut at a depth.

Parent links come from outside (any OTLP exporter of the mesh, or a client's `traceparent`), so they may form a cycle
(a span its own parent, two spans each other's): a tree holds each span once, and a span that would be its own
descendant is left out there. A root's subtree has no cycle (a root's parent is absent), so that only shows in a tree
asked from a span inside the cycle."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from services.telemetry.stored_span import StoredSpan


@dataclass
class SpanNode:
    span: StoredSpan
    children: list[SpanNode] = field(default_factory=list)

    def depth_first(self) -> Iterator[StoredSpan]:
        yield self.span
        for child in self.children:
            yield from child.depth_first()


class TooManySpans(Exception):
    """The tree holds more spans than the caller allowed."""


def span_tree(
    spans: Sequence[StoredSpan], root_span_id: str, max_depth: int, max_spans: int | None = None
) -> SpanNode | None:
    """The subtree of `spans` under `root_span_id`, `max_depth` levels deep (0: the root alone); TooManySpans as soon
    as it passes `max_spans` nodes."""
    by_id = {span.span_id: span for span in spans}
    if root_span_id not in by_id:
        return None
    children: dict[str, list[StoredSpan]] = defaultdict(list)
    for span in spans:
        if span.parent_span_id:
            children[span.parent_span_id].append(span)

    placed: set[str] = set()

    def build(span: StoredSpan, depth: int) -> SpanNode:
        placed.add(span.span_id)
        if max_spans is not None and len(placed) > max_spans:
            raise TooManySpans
        node = SpanNode(span)
        if depth < max_depth:
            ordered = sorted(children.get(span.span_id, ()), key=lambda item: (item.start_ns, item.span_id))
            node.children = [build(child, depth + 1) for child in ordered if child.span_id not in placed]
        return node

    return build(by_id[root_span_id], 0)
