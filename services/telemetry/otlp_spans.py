"""OTLP ExportTraceServiceRequest -> StoredSpan, refusing the whole request when any span is malformed.

Besides the span's own attributes each stored span carries its resource's attributes (so `service.name` can be
filtered on), `span.kind` and, for a failed span, `otel.status_description` (the names Jaeger and Zipkin use).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as OtlpStatus

from llama_mesh.runtime.errors import InvalidArgument
from services.telemetry.stored_span import STATUS_ERROR, STATUS_OK, STATUS_UNSET, StoredSpan

TRACE_ID_BYTES = 16
SPAN_ID_BYTES = 8
# OTLP times are unsigned 64-bit nanoseconds; the store (SQLite) and google.protobuf.Timestamp keep signed ones.
MAX_TIME_NS = 2**63 - 1  # April 2262

_STATUS = {
    OtlpStatus.STATUS_CODE_UNSET: STATUS_UNSET,
    OtlpStatus.STATUS_CODE_OK: STATUS_OK,
    OtlpStatus.STATUS_CODE_ERROR: STATUS_ERROR,
}
_KIND_NAMES = {
    OtlpSpan.SPAN_KIND_INTERNAL: "internal",
    OtlpSpan.SPAN_KIND_SERVER: "server",
    OtlpSpan.SPAN_KIND_CLIENT: "client",
    OtlpSpan.SPAN_KIND_PRODUCER: "producer",
    OtlpSpan.SPAN_KIND_CONSUMER: "consumer",
}


def any_value(value: AnyValue) -> Any:
    """An OTLP attribute value as plain JSON data (bytes as hex)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return key_values(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def key_values(items: Any) -> dict[str, Any]:
    return {item.key: any_value(item.value) for item in items}


def _check_id(raw: bytes, size: int, field: str, *, optional: bool = False) -> str:
    if optional and not raw:
        return ""
    if len(raw) != size:
        allowed = f"0 or {size}" if optional else str(size)
        raise InvalidArgument(field, f"must be {allowed} bytes, got {len(raw)}", reason="MALFORMED_SPAN")
    if not any(raw):
        raise InvalidArgument(field, "must not be all zeros", reason="MALFORMED_SPAN")
    return raw.hex()


def _stored(span: OtlpSpan, resource: dict[str, Any], field: str) -> StoredSpan:
    trace_id = _check_id(span.trace_id, TRACE_ID_BYTES, f"{field}.trace_id")
    span_id = _check_id(span.span_id, SPAN_ID_BYTES, f"{field}.span_id")
    parent = _check_id(span.parent_span_id, SPAN_ID_BYTES, f"{field}.parent_span_id", optional=True)
    if not span.start_time_unix_nano:
        raise InvalidArgument(f"{field}.start_time_unix_nano", "is required", reason="MALFORMED_SPAN")
    for name in ("start_time_unix_nano", "end_time_unix_nano"):
        if getattr(span, name) > MAX_TIME_NS:
            raise InvalidArgument(
                f"{field}.{name}", f"must be at most {MAX_TIME_NS} (the year 2262)", reason="MALFORMED_SPAN"
            )
    end = span.end_time_unix_nano or None
    if end is not None and end < span.start_time_unix_nano:
        raise InvalidArgument(f"{field}.end_time_unix_nano", "is before start_time_unix_nano", reason="MALFORMED_SPAN")
    attributes: dict[str, Any] = {**resource, **key_values(span.attributes)}
    if span.kind in _KIND_NAMES:
        attributes["span.kind"] = _KIND_NAMES[span.kind]
    if span.status.code == OtlpStatus.STATUS_CODE_ERROR and span.status.message:
        attributes["otel.status_description"] = span.status.message
    return StoredSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=span.name,
        start_ns=span.start_time_unix_nano,
        end_ns=end,
        status=_STATUS.get(span.status.code, STATUS_UNSET),
        attributes=attributes,
    )


def spans_of_request(request: ExportTraceServiceRequest) -> list[StoredSpan]:
    """Every span of an Export request; InvalidArgument naming the first malformed field."""
    spans: list[StoredSpan] = []
    for r, resource_spans in enumerate(request.resource_spans):
        resource = key_values(resource_spans.resource.attributes)
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            for k, span in enumerate(scope_spans.spans):
                spans.append(_stored(span, resource, f"resource_spans[{r}].scope_spans[{s}].spans[{k}]"))
    return spans
