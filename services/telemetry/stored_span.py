"""A span as the store keeps it: ids as lowercase hex, times in Unix nanoseconds, attributes as plain JSON values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Stored span status, numbered like llama.telemetry.v1.SpanStatus (and OTLP's Status.StatusCode).
STATUS_UNSET = 0
STATUS_OK = 1
STATUS_ERROR = 2


@dataclass(frozen=True)
class StoredSpan:
    trace_id: str
    span_id: str
    # "" for a root span.
    parent_span_id: str
    name: str
    start_ns: int
    # None while the span is open.
    end_ns: int | None
    status: int = STATUS_UNSET
    # Span attributes, with the resource's attributes (service.name, ...) merged in under them.
    attributes: dict[str, Any] = field(default_factory=dict)
