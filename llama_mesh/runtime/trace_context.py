"""W3C Trace Context (`traceparent`, `tracestate`) read from a call's metadata and written to the calls it makes.

The header comes from outside the mesh (any client may send one), so it is parsed strictly: one `traceparent` of at
most TRACEPARENT_MAX_CHARS, lowercase hex fields of the right sizes, ids not all zeros, version `ff` refused, version
`00` with nothing after its four fields. Anything else is ignored (the call starts a new trace), never an error.
A `tracestate` counts only beside a valid `traceparent`, and is dropped over TRACESTATE_MAX_CHARS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from opentelemetry import trace
from opentelemetry.trace import SpanContext, TraceFlags, TraceState

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
# version 00 is 55 characters; later versions may append fields, within this bound.
TRACEPARENT_MAX_CHARS = 256
TRACESTATE_MAX_CHARS = 512  # what W3C asks every vendor to pass on at least

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[ -~]*)?")
_SAMPLED = int(TraceFlags.SAMPLED)

Metadata = Iterable[tuple[str, str | bytes]]


def parse_traceparent(value: object, tracestate: object = None) -> SpanContext | None:
    """The remote span a `traceparent` names, or None when it is not a valid one."""
    if not isinstance(value, str) or len(value) > TRACEPARENT_MAX_CHARS:
        return None
    match = _TRACEPARENT.fullmatch(value)
    if match is None:
        return None
    version, trace_hex, span_hex, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)
    if not trace_id or not span_id:
        return None
    state = None
    if isinstance(tracestate, str) and tracestate and len(tracestate) <= TRACESTATE_MAX_CHARS:
        state = TraceState.from_header([tracestate])  # invalid members make it empty, never an error
    return SpanContext(
        trace_id, span_id, is_remote=True, trace_flags=TraceFlags(int(flags, 16) & _SAMPLED), trace_state=state
    )


def remote_span(metadata: Metadata | None) -> SpanContext | None:
    """The caller's span, from the call's metadata (the parent of the call's span); None if it names no valid one (a
    second `traceparent` makes it ambiguous: ignored too)."""
    parent: object = None
    state: object = None
    for key, value in metadata or ():
        if key == TRACEPARENT:
            if parent is not None:
                return None
            parent = value
        elif key == TRACESTATE:
            state = value
    if parent is None:
        return None
    return parse_traceparent(parent, state)


def trace_headers() -> tuple[tuple[str, str], ...]:
    """The headers that make the current span the parent of a call made now; none outside a span."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return ()
    parent = (
        TRACEPARENT,
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{int(span_context.trace_flags) & _SAMPLED:02x}",
    )
    state = span_context.trace_state
    return (parent, (TRACESTATE, state.to_header())) if state else (parent,)
