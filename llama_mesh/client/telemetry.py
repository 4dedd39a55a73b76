"""`client.telemetry`: the traces and spans the telemetry service recorded, sync and async.

    for trace in client.telemetry.iter_traces([("model_id", "eq", "smollm2-135m-instruct")], page_size=20):
        root = client.telemetry.get_span_tree(trace.root_span_id)
        print(trace.trace_id, root.span.name, [child.span.name for child in root.children])

A filter is a QueryCondition proto or a (key, op, value) tuple, op one of "eq", "ne", "gt", "lt" and value a JSON
value; a trace passes when some span of it meets every filter.
"""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from google.protobuf import json_format, struct_pb2

from llama.telemetry.v1 import telemetry_pb2 as pb
from llama.telemetry.v1 import telemetry_pb2_grpc
from llama_mesh.client.conversions import copied, enum_value
from llama_mesh.client.transport import AsyncTransport, Transport

ConditionLike = pb.QueryCondition | tuple[str, str | int, Any]


def to_condition(condition: ConditionLike) -> pb.QueryCondition:
    if isinstance(condition, pb.QueryCondition):
        return copied(condition)
    key, op, value = condition
    return pb.QueryCondition(
        key=key,
        op=enum_value(pb.QueryConditionOp, op, "QUERY_CONDITION_OP_"),
        value=json_format.ParseDict(value, struct_pb2.Value()),
    )


def query_traces_request(filters: Iterable[ConditionLike], order_by: str, page_size: int) -> pb.QueryTracesRequest:
    return pb.QueryTracesRequest(
        attribute_filters=[to_condition(item) for item in filters], order_by=order_by, page_size=page_size
    )


def query_spans_request(
    filters: Iterable[ConditionLike], attributes_to_return: Iterable[str], max_depth: int | None, page_size: int
) -> pb.QuerySpansRequest:
    request = pb.QuerySpansRequest(
        attribute_filters=[to_condition(item) for item in filters],
        attributes_to_return=list(attributes_to_return),
        page_size=page_size,
    )
    if max_depth is not None:
        request.max_depth = max_depth
    return request


def span_tree_request(
    span_id: str, attributes_to_return: Iterable[str], max_depth: int | None
) -> pb.GetSpanTreeRequest:
    request = pb.GetSpanTreeRequest(span_id=span_id, attributes_to_return=list(attributes_to_return))
    if max_depth is not None:
        request.max_depth = max_depth
    return request


class Telemetry:
    """TelemetryService calls through the gateway (blocking)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._stub = telemetry_pb2_grpc.TelemetryServiceStub(transport.channel)

    def iter_traces(
        self,
        filters: Iterable[ConditionLike] = (),
        *,
        order_by: str = "",
        page_size: int = 0,
        timeout: float | None = None,
    ) -> Iterator[pb.Trace]:
        """The traces with a span meeting every filter (newest first unless order_by says otherwise), page after
        page; stop iterating to stop fetching."""
        request = query_traces_request(filters, order_by, page_size)
        return self._transport.pages(self._stub.QueryTraces, request, "traces", timeout)

    def iter_spans(
        self,
        filters: Iterable[ConditionLike] = (),
        *,
        attributes_to_return: Iterable[str] = (),
        max_depth: int | None = None,
        page_size: int = 0,
        timeout: float | None = None,
    ) -> Iterator[pb.Span]:
        """The spans of the traces the filters select, trace by trace, each from its root depth first."""
        request = query_spans_request(filters, attributes_to_return, max_depth, page_size)
        return self._transport.pages(self._stub.QuerySpans, request, "spans", timeout)

    def get_trace(self, trace_id: str, *, timeout: float | None = None) -> pb.Trace:
        return self._transport.unary(self._stub.GetTrace, pb.GetTraceRequest(trace_id=trace_id), timeout)

    def get_span(self, trace_id: str, span_id: str, *, timeout: float | None = None) -> pb.Span:
        request = pb.GetSpanRequest(trace_id=trace_id, span_id=span_id)
        return self._transport.unary(self._stub.GetSpan, request, timeout)

    def get_span_tree(
        self,
        span_id: str,
        *,
        attributes_to_return: Iterable[str] = (),
        max_depth: int | None = None,
        timeout: float | None = None,
    ) -> pb.SpanNode:
        """The span and its descendants (children ordered by start time), `max_depth` levels down (None: all)."""
        request = span_tree_request(span_id, attributes_to_return, max_depth)
        return self._transport.unary(self._stub.GetSpanTree, request, timeout).root


class AsyncTelemetry:
    """The async flavour of `Telemetry`."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport
        self._stub = telemetry_pb2_grpc.TelemetryServiceStub(transport.channel)

    def iter_traces(
        self,
        filters: Iterable[ConditionLike] = (),
        *,
        order_by: str = "",
        page_size: int = 0,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.Trace]:
        request = query_traces_request(filters, order_by, page_size)
        return self._transport.pages(self._stub.QueryTraces, request, "traces", timeout)

    def iter_spans(
        self,
        filters: Iterable[ConditionLike] = (),
        *,
        attributes_to_return: Iterable[str] = (),
        max_depth: int | None = None,
        page_size: int = 0,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.Span]:
        request = query_spans_request(filters, attributes_to_return, max_depth, page_size)
        return self._transport.pages(self._stub.QuerySpans, request, "spans", timeout)

    async def get_trace(self, trace_id: str, *, timeout: float | None = None) -> pb.Trace:
        return await self._transport.unary(self._stub.GetTrace, pb.GetTraceRequest(trace_id=trace_id), timeout)

    async def get_span(self, trace_id: str, span_id: str, *, timeout: float | None = None) -> pb.Span:
        request = pb.GetSpanRequest(trace_id=trace_id, span_id=span_id)
        return await self._transport.unary(self._stub.GetSpan, request, timeout)

    async def get_span_tree(
        self,
        span_id: str,
        *,
        attributes_to_return: Iterable[str] = (),
        max_depth: int | None = None,
        timeout: float | None = None,
    ) -> pb.SpanNode:
        request = span_tree_request(span_id, attributes_to_return, max_depth)
        return (await self._transport.unary(self._stub.GetSpanTree, request, timeout)).root
