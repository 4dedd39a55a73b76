"""llama.telemetry.v1.TelemetryService: checks requests, reads the span store off the event loop, answers."""

from __future__ import annotations

import asyncio

from google.protobuf import struct_pb2

from llama.datasetio.v1 import datasetio_pb2
from llama.registry.v1 import registry_pb2
from llama.telemetry.v1 import telemetry_pb2 as pb
from llama.telemetry.v1 import telemetry_pb2_grpc
from llama_mesh.runtime import paging
from llama_mesh.runtime.caller import owner_filter
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from llama_mesh.runtime.gateway_client import GatewayClient
from services.telemetry import query_terms as terms
from services.telemetry.conversions import node_message, span_message, trace_message
from services.telemetry.owned_spans import owned_spans
from services.telemetry.span_pages import matching_spans
from services.telemetry.span_rows import span_rows
from services.telemetry.span_store import SpanStore, owned_by
from services.telemetry.span_tree import TooManySpans, span_tree
from services.telemetry.stored_span import StoredSpan

_TRACE_ID_DIGITS = 32
_SPAN_ID_DIGITS = 16
# One AppendRows call carries every saved span (all or none).
MAX_SAVED_SPANS = 50_000
# One GetSpanTree answer (about 270 bytes and 20 us to build a span: any caller can grow a tree by sending its calls
# a `traceparent` naming one span); QuerySpans pages through bigger ones.
MAX_TREE_SPANS = 10_000


def _hex_id(value: str, digits: int, field: str) -> str:
    lowered = value.lower()
    if not value:
        raise InvalidArgument(field, "is required")
    if len(lowered) != digits or any(char not in "0123456789abcdef" for char in lowered):
        raise InvalidArgument(field, f"must be {digits} hex digits, got {value!r}")
    return lowered


def _tree_message(spans: list[StoredSpan], span_id: str, depth: int, wanted: frozenset[str] | None) -> pb.SpanNode:
    """The span's tree as a message (a worker thread's work: a big tree takes a while); TooManySpans past the cap."""
    tree = span_tree(spans, span_id, depth, MAX_TREE_SPANS)
    assert tree is not None  # the span is in its own trace
    return node_message(tree, wanted)


class TelemetryServicer(telemetry_pb2_grpc.TelemetryServiceServicer):
    def __init__(self, store: SpanStore, gateway: GatewayClient) -> None:
        self._store = store
        self._gateway = gateway

    async def _visible_spans(self, trace_id: str) -> list[StoredSpan]:
        """The spans of the trace this call's caller sees (owned_spans.py): none of another principal's trace."""
        owner = owner_filter()
        if owner is None:
            return await asyncio.to_thread(self._store.trace_spans, trace_id)
        row = await asyncio.to_thread(self._store.trace, trace_id, owned_by(owner))
        if row is None:
            return []
        return owned_spans(await asyncio.to_thread(self._store.trace_spans, trace_id), row.root_span_id, owner)

    async def QueryTraces(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        conditions = terms.conditions(request.attribute_filters)
        order = terms.order_terms(request.order_by)
        size = paging.page_size(request.page_size)
        listing = "traces:" + terms.query_fingerprint(conditions, order)  # a token is bound to its query
        offset = paging.read_offset(request.page_token, listing)
        conditions = [*conditions, *owned_by(owner_filter())]
        rows = await asyncio.to_thread(self._store.traces, conditions, order, size + 1, offset)
        token = paging.make_token(listing, offset + size) if len(rows) > size else ""
        return pb.QueryTracesResponse(traces=[trace_message(row) for row in rows[:size]], next_page_token=token)

    async def GetTrace(self, request, context):  # noqa: N802, ANN001, ANN201
        trace_id = _hex_id(request.trace_id, _TRACE_ID_DIGITS, "trace_id")
        row = await asyncio.to_thread(self._store.trace, trace_id, owned_by(owner_filter()))
        if row is None:  # another principal's trace is not found either
            raise NotFound(f"no trace {trace_id} has been recorded", reason="TRACE_NOT_FOUND", trace_id=trace_id)
        return trace_message(row)

    async def GetSpan(self, request, context):  # noqa: N802, ANN001, ANN201
        trace_id = _hex_id(request.trace_id, _TRACE_ID_DIGITS, "trace_id")
        span_id = _hex_id(request.span_id, _SPAN_ID_DIGITS, "span_id")
        if owner_filter() is None:
            span = await asyncio.to_thread(self._store.span, trace_id, span_id)
        else:
            span = next((span for span in await self._visible_spans(trace_id) if span.span_id == span_id), None)
        if span is None:
            raise NotFound(
                f"no span {span_id} in trace {trace_id} has been recorded",
                reason="SPAN_NOT_FOUND",
                trace_id=trace_id,
                span_id=span_id,
            )
        return span_message(span)

    async def GetSpanTree(self, request, context):  # noqa: N802, ANN001, ANN201
        span_id = _hex_id(request.span_id, _SPAN_ID_DIGITS, "span_id")
        depth = terms.max_depth(request)
        span = await asyncio.to_thread(self._store.find_span, span_id)
        spans = [] if span is None else await self._visible_spans(span.trace_id)
        if not any(seen.span_id == span_id for seen in spans):
            raise NotFound(f"no span {span_id} has been recorded", reason="SPAN_NOT_FOUND", span_id=span_id)
        wanted = terms.wanted_attributes(request.attributes_to_return)
        try:
            root = await asyncio.to_thread(_tree_message, spans, span_id, depth, wanted)
        except TooManySpans as exc:
            raise FailedPrecondition(
                f"the tree under span {span_id} holds more than {MAX_TREE_SPANS} spans within max_depth {depth}; "
                "lower max_depth, or page through them with QuerySpans",
                reason="TOO_MANY_SPANS",
                span_id=span_id,
            ) from exc
        return pb.GetSpanTreeResponse(root=root)

    async def QuerySpans(self, request, context):  # noqa: N802, ANN001, ANN201
        conditions = terms.conditions(request.attribute_filters)
        depth = terms.max_depth(request)
        size = paging.page_size(request.page_size)
        listing = "spans:" + terms.query_fingerprint(conditions, depth)
        first = terms.span_key(request.page_token, listing)
        page = await asyncio.to_thread(matching_spans, self._store, conditions, owner_filter(), depth, size, first)
        wanted = terms.wanted_attributes(request.attributes_to_return)
        token = terms.span_token(listing, page.next_key) if page.next_key else ""
        return pb.QuerySpansResponse(spans=[span_message(span, wanted) for span in page.spans], next_page_token=token)

    async def SaveSpansToDataset(self, request, context):  # noqa: N802, ANN001, ANN201
        conditions = terms.conditions(request.attribute_filters)
        if not request.attributes_to_save:
            raise InvalidArgument("attributes_to_save", "name at least one attribute")
        if not request.dataset_id:
            raise InvalidArgument("dataset_id", "is required")
        depth = terms.max_depth(request)
        # NOT_FOUND (the registry's error) when the dataset is not registered.
        gateway = self._gateway
        registered = registry_pb2.GetDatasetRequest(dataset_id=request.dataset_id)
        await gateway.call(gateway.registry.GetDataset, registered, context)
        attributes = list(dict.fromkeys(request.attributes_to_save))
        owner = owner_filter()
        rows = await asyncio.to_thread(span_rows, self._store, conditions, owner, depth, attributes, MAX_SAVED_SPANS)
        if rows is None:
            raise FailedPrecondition(
                f"more than {MAX_SAVED_SPANS} spans match; narrow attribute_filters or max_depth",
                reason="TOO_MANY_SPANS",
            )
        if not rows:
            return pb.SaveSpansToDatasetResponse(saved_rows=0)
        structs = []
        for row in rows:
            struct = struct_pb2.Struct()
            struct.update(row)
            structs.append(struct)
        append = datasetio_pb2.AppendRowsRequest(dataset_id=request.dataset_id, rows=structs)  # all or none
        reply = await gateway.call(gateway.datasetio.AppendRows, append, context)
        return pb.SaveSpansToDatasetResponse(saved_rows=reply.appended_rows)
