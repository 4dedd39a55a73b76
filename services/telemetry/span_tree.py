"""A trace's spans as a tree: children by parent, ordered by start time, cut at a depth."""

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

    built = 0

    def build(span: StoredSpan, depth: int) -> SpanNode:
        nonlocal built
        built += 1
        if max_spans is not None and built > max_spans:
            raise TooManySpans
        node = SpanNode(span)
        if depth < max_depth:
            ordered = sorted(children.get(span.span_id, ()), key=lambda item: (item.start_ns, item.span_id))
            node.children = [build(child, depth + 1) for child in ordered]
        return node

    return build(by_id[root_span_id], 0)
