"""Finished spans as an OTLP ExportTraceServiceRequest, the same message the SDK's `encode_spans` makes, in about a
third of its time: it runs on each process's export thread, holding the GIL that the process's event loop needs.

A service's spans repeat the same attributes (`rpc.service`, `rpc.method`, `target_service`, a model id...), so each
scalar key/value pair is encoded once and kept (up to _MAX_CACHED_VALUES of them), as are the resource and scope of
each (resource, scope) pair; a span this does not cover (events, links, dropped items, a list or bytes value) is
encoded by the SDK.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, SpanFlags
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as OtlpStatus
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

_KINDS = {
    SpanKind.INTERNAL: OtlpSpan.SPAN_KIND_INTERNAL,
    SpanKind.SERVER: OtlpSpan.SPAN_KIND_SERVER,
    SpanKind.CLIENT: OtlpSpan.SPAN_KIND_CLIENT,
    SpanKind.PRODUCER: OtlpSpan.SPAN_KIND_PRODUCER,
    SpanKind.CONSUMER: OtlpSpan.SPAN_KIND_CONSUMER,
}
_LOCAL_PARENT = SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_REMOTE_PARENT = _LOCAL_PARENT | SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK

_NONE: dict[str, object] = {}
_MAX_CACHED_VALUES = 4096  # key/value pairs kept encoded; past it the cache starts again
_MAX_CACHED_CHARS = 256  # longer strings are encoded each time, never kept

_values: dict[tuple[str, type, object], KeyValue] = {}
_statuses: dict[int, OtlpStatus] = {}
# (id(resource), id(scope)) -> (resource, scope, an empty ResourceSpans of them): the objects are kept with their ids
_envelopes: dict[tuple[int, int], tuple[object, object, ResourceSpans]] = {}


class _NotCovered(Exception):
    """A span for the SDK's encoder."""


def _key_value(key: str, value: object) -> KeyValue:
    kind = value.__class__
    cached = _values.get((key, kind, value))
    if cached is not None:
        return cached
    if kind is str:
        encoded = KeyValue(key=key, value=AnyValue(string_value=value))  # type: ignore[arg-type]
    elif kind is bool:
        encoded = KeyValue(key=key, value=AnyValue(bool_value=value))  # type: ignore[arg-type]
    elif kind is int:
        encoded = KeyValue(key=key, value=AnyValue(int_value=value))  # type: ignore[arg-type]
    elif kind is float:
        encoded = KeyValue(key=key, value=AnyValue(double_value=value))  # type: ignore[arg-type]
    else:
        raise _NotCovered
    if kind is not str or len(value) <= _MAX_CACHED_CHARS:  # type: ignore[arg-type]
        if len(_values) >= _MAX_CACHED_VALUES:
            _values.clear()
        _values[(key, kind, value)] = encoded
    return encoded


def _status(span: ReadableSpan) -> OtlpStatus:
    status = span.status
    code = status.status_code.value
    if status.description is not None:
        return OtlpStatus(code=code, message=status.description)
    cached = _statuses.get(code)
    if cached is None:
        cached = _statuses[code] = OtlpStatus(code=code)
    return cached


def _span(span: ReadableSpan) -> OtlpSpan:
    if span.events or span.links or span.dropped_attributes or span.dropped_events or span.dropped_links:
        raise _NotCovered
    context = span.context
    parent = span.parent
    state = context.trace_state
    return OtlpSpan(
        trace_id=context.trace_id.to_bytes(16, "big"),
        span_id=context.span_id.to_bytes(8, "big"),
        trace_state=",".join(f"{key}={value}" for key, value in state.items()) if state is not None else None,
        parent_span_id=parent.span_id.to_bytes(8, "big") if parent is not None else None,
        name=span.name,
        kind=_KINDS[span.kind],
        start_time_unix_nano=span.start_time,
        end_time_unix_nano=span.end_time,
        attributes=[_key_value(key, value) for key, value in (span.attributes or _NONE).items()],
        status=_status(span),
        flags=_REMOTE_PARENT if parent is not None and parent.is_remote else _LOCAL_PARENT,
    )


def _envelope(span: ReadableSpan) -> ResourceSpans:
    """An empty ResourceSpans of the span's resource and scope, as the SDK encodes them."""
    resource, scope = span.resource, span.instrumentation_scope
    key = (id(resource), id(scope))
    cached = _envelopes.get(key)
    if cached is None:
        envelope = sdk_encode_spans([span]).resource_spans[0]
        del envelope.scope_spans[0].spans[:]
        cached = _envelopes[key] = (resource, scope, envelope)
    return cached[2]


def encode_spans(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """The request the SDK's `encode_spans` makes of `spans`: grouped by resource, then by instrumentation scope."""
    groups: dict[tuple[int, int], tuple[ReadableSpan, list[OtlpSpan]]] = {}  # by the objects' identity: cheap
    for span in spans:
        try:
            encoded = _span(span)
        except _NotCovered:
            encoded = sdk_encode_spans([span]).resource_spans[0].scope_spans[0].spans[0]
        key = (id(span.resource), id(span.instrumentation_scope))
        group = groups.get(key)
        if group is None:
            groups[key] = (span, [encoded])
        else:
            group[1].append(encoded)
    # then by equality, as the SDK groups them (equal resources of distinct objects are rare: a few groups at most)
    resources: list[tuple[ReadableSpan, list[tuple[ReadableSpan, list[OtlpSpan]]]]] = []
    for first, encoded_spans in groups.values():
        for resource_first, scopes in resources:
            if resource_first.resource == first.resource:
                for scope_first, scope_spans in scopes:
                    if scope_first.instrumentation_scope == first.instrumentation_scope:
                        scope_spans.extend(encoded_spans)
                        break
                else:
                    scopes.append((first, encoded_spans))
                break
        else:
            resources.append((first, [(first, encoded_spans)]))
    request = ExportTraceServiceRequest()
    for resource_first, scopes in resources:
        envelope = _envelope(resource_first)
        resource_spans = request.resource_spans.add(resource=envelope.resource, schema_url=envelope.schema_url)
        for scope_first, scope_spans in scopes:
            template = _envelope(scope_first).scope_spans[0]
            resource_spans.scope_spans.add(scope=template.scope, schema_url=template.schema_url, spans=scope_spans)
    return request


class SpanExporter(OTLPSpanExporter):
    """The SDK's OTLP gRPC span exporter (retries, timeouts, credentials) with the encoding above."""

    def _translate_data(self, data: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
        return encode_spans(data)
