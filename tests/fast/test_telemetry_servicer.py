"""TelemetryService in-process over a real span store: what one call may make the service build."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable

import grpc
import pytest

from llama.telemetry.v1 import telemetry_pb2 as pb
from llama.telemetry.v1 import telemetry_pb2_grpc
from llama_mesh.runtime.caller import ADMIN_SCOPE, CALLER_HEADER, CALLER_SCOPE_HEADER
from llama_mesh.runtime.errors import error_info
from services.telemetry.query_terms import MAX_TREE_DEPTH
from services.telemetry.servicer import MAX_TREE_SPANS, TelemetryServicer
from services.telemetry.span_store import SpanStore
from tests.fast.harness import connected
from tests.telemetry.test_span_store import _span


async def test_a_span_tree_past_the_cap_is_refused_not_built() -> None:
    # Any caller can hang its calls under one span (a `traceparent` naming it): 100,000 children made one answer of
    # 27 MB that took 2 s of the telemetry service's event loop, OTLP exports from every service waiting meanwhile.
    store = SpanStore(":memory:")
    store.insert([_span(1, 1)] + [_span(1, 10 + index, parent=1, start=index) for index in range(MAX_TREE_SPANS)])
    root = f"{1:016x}"
    async with connected(
        (telemetry_pb2_grpc.add_TelemetryServiceServicer_to_server, TelemetryServicer(store, None))
    ) as (channel):
        stub = telemetry_pb2_grpc.TelemetryServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetSpanTree(pb.GetSpanTreeRequest(span_id=root), timeout=30)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_info(refused.value).reason == "TOO_MANY_SPANS"
        assert f"more than {MAX_TREE_SPANS} spans" in refused.value.details()

        alone = await stub.GetSpanTree(pb.GetSpanTreeRequest(span_id=root, max_depth=0), timeout=30)
        assert alone.root.span.span_id == root and not alone.root.children
        child = await stub.GetSpanTree(pb.GetSpanTreeRequest(span_id=f"{10:016x}"), timeout=30)
        assert child.root.span.span_id == f"{10:016x}"

    at_the_cap = SpanStore(":memory:")
    at_the_cap.insert(
        [_span(1, 1)] + [_span(1, 10 + index, parent=1, start=index) for index in range(MAX_TREE_SPANS - 1)]
    )
    async with connected(
        (telemetry_pb2_grpc.add_TelemetryServiceServicer_to_server, TelemetryServicer(at_the_cap, None))
    ) as channel:
        stub = telemetry_pb2_grpc.TelemetryServiceStub(channel)
        whole = await stub.GetSpanTree(pb.GetSpanTreeRequest(span_id=root), timeout=30)
    assert len(whole.root.children) == MAX_TREE_SPANS - 1


def _as(caller: str, admin: bool = False) -> tuple[tuple[str, str], ...]:
    """The headers the gateway adds to a call it forwards for `caller`."""
    scope = ((CALLER_SCOPE_HEADER, ADMIN_SCOPE),) if admin else ()
    return ((CALLER_HEADER, caller), *scope)


def _ids(spans: Iterable[pb.Span]) -> list[int]:
    return [int(span.span_id, 16) for span in spans]


def _tree_ids(node: pb.SpanNode) -> list[int]:
    return [int(node.span.span_id, 16), *(span for child in node.children for span in _tree_ids(child))]


async def _not_found(call: Awaitable[object]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


async def test_another_callers_spans_in_a_trace_are_never_shown_to_its_owner() -> None:
    # bob sends his calls with a `traceparent` naming alice's trace (and her root span): the gateway's span of each
    # names bob, and it and the spans of the services that served it land in alice's trace.
    store = SpanStore(":memory:")
    store.insert(
        [
            _span(1, 11, start=0, caller="alice"),  # alice's call at the gateway
            _span(1, 12, parent=11, start=1, model_id="m1"),  # the inference service serving it
            _span(1, 13, parent=11, start=2, caller="bob"),  # bob's call, a child of alice's root
            _span(1, 14, parent=13, start=3, model_id="forged"),  # the service serving bob's call
            _span(1, 15, parent=99, start=4, caller="bob"),  # bob's call as a second root
            # Trace 2: alice's inference span came in, her gateway span (21) not yet: bob's earlier call would be the
            # root, and bob its owner.
            _span(2, 22, parent=21, start=11, model_id="secret"),
            _span(2, 23, parent=98, start=10, caller="bob"),
        ]
    )
    trace_1, trace_2 = f"{1:032x}", f"{2:032x}"
    async with connected(
        (telemetry_pb2_grpc.add_TelemetryServiceServicer_to_server, TelemetryServicer(store, None))
    ) as channel:
        stub = telemetry_pb2_grpc.TelemetryServiceStub(channel)
        alice = _as("alice")
        tree = await stub.GetSpanTree(pb.GetSpanTreeRequest(span_id=f"{11:016x}"), metadata=alice, timeout=30)
        assert _tree_ids(tree.root) == [11, 12]
        spans = await stub.QuerySpans(pb.QuerySpansRequest(), metadata=alice, timeout=30)
        assert _ids(spans.spans) == [11, 12]
        for model, found in (("m1", [trace_1]), ("forged", [])):  # bob's spans match none of alice's filters
            condition = pb.QueryCondition(key="model_id", op=pb.QUERY_CONDITION_OP_EQ)
            condition.value.string_value = model
            traces = await stub.QueryTraces(pb.QueryTracesRequest(attribute_filters=[condition]), metadata=alice)
            assert [trace.trace_id for trace in traces.traces] == found
        for span_id in (f"{span:016x}" for span in (13, 14, 15)):
            await _not_found(stub.GetSpan(pb.GetSpanRequest(trace_id=trace_1, span_id=span_id), metadata=alice))
            await _not_found(stub.GetSpanTree(pb.GetSpanTreeRequest(span_id=span_id), metadata=alice))

        bob = _as("bob")
        await _not_found(stub.GetTrace(pb.GetTraceRequest(trace_id=trace_1), metadata=bob))
        await _not_found(stub.GetSpanTree(pb.GetSpanTreeRequest(span_id=f"{13:016x}"), metadata=bob))
        # The trace bob's span roots shows bob his own call alone, never alice's span in it.
        await _not_found(stub.GetSpan(pb.GetSpanRequest(trace_id=trace_2, span_id=f"{22:016x}"), metadata=bob))
        await _not_found(stub.GetSpanTree(pb.GetSpanTreeRequest(span_id=f"{22:016x}"), metadata=bob))
        spans = await stub.QuerySpans(pb.QuerySpansRequest(), metadata=bob, timeout=30)
        assert _ids(spans.spans) == [23]

        # An admin sees every span, as before.
        admin = _as("root", admin=True)
        tree = await stub.GetSpanTree(pb.GetSpanTreeRequest(span_id=f"{11:016x}"), metadata=admin, timeout=30)
        assert _tree_ids(tree.root) == [11, 12, 13, 14]
        span = await stub.GetSpan(pb.GetSpanRequest(trace_id=trace_2, span_id=f"{22:016x}"), metadata=admin)
        assert span.attributes["model_id"] == "secret"


async def test_parent_cycles_and_long_chains_answer_at_once() -> None:
    # A span its own parent, two spans each other's parent (neither reachable from a root), and a chain of 5000 spans.
    chain = [_span(3, 1000 + index, parent=1000 + index - 1 if index else 0, start=index) for index in range(5000)]
    store = SpanStore(":memory:")
    store.insert(
        [
            _span(1, 11, start=0, caller="alice"),
            _span(1, 12, parent=12, start=1, looped=True),
            _span(2, 21, parent=22, start=2),
            _span(2, 22, parent=21, start=3),
            _span(2, 23, parent=22, start=4),
            *chain,
        ]
    )
    async with connected(
        (telemetry_pb2_grpc.add_TelemetryServiceServicer_to_server, TelemetryServicer(store, None))
    ) as channel:
        stub = telemetry_pb2_grpc.TelemetryServiceStub(channel)
        # Each span once: the tree stops where a span would be its own descendant.
        tree = await stub.GetSpanTree(pb.GetSpanTreeRequest(span_id=f"{12:016x}"), timeout=30)
        assert _tree_ids(tree.root) == [12]
        tree = await stub.GetSpanTree(pb.GetSpanTreeRequest(span_id=f"{21:016x}"), timeout=30)
        assert _tree_ids(tree.root) == [21, 22, 23]
        tree = await stub.GetSpanTree(pb.GetSpanTreeRequest(span_id=f"{1000:016x}"), timeout=30)
        assert _tree_ids(tree.root) == list(range(1000, 1000 + MAX_TREE_DEPTH + 1))
        leaf = await stub.GetSpanTree(pb.GetSpanTreeRequest(span_id=f"{5999:016x}"), timeout=30)
        assert _tree_ids(leaf.root) == [5999]
        traces = await stub.QueryTraces(pb.QueryTracesRequest(page_size=10), timeout=30)
        assert [int(trace.trace_id, 16) for trace in traces.traces] == [3, 1]  # trace 2 has no root
        spans = await stub.QuerySpans(pb.QuerySpansRequest(page_size=1000), timeout=30)
        assert _ids(spans.spans) == [*range(1000, 1000 + MAX_TREE_DEPTH + 1), 11]
        # A filter a span in a cycle meets: its ancestors are looked at once each (whose call it is).
        looped = pb.QueryCondition(key="looped", op=pb.QUERY_CONDITION_OP_EQ)
        looped.value.bool_value = True
        request = pb.QueryTracesRequest(attribute_filters=[looped])
        traces = await stub.QueryTraces(request, metadata=_as("alice"), timeout=30)
        assert [int(trace.trace_id, 16) for trace in traces.traces] == [1]
