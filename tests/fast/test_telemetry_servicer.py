"""TelemetryService in-process over a real span store: what one call may make the service build."""

from __future__ import annotations

import grpc
import pytest

from llama.telemetry.v1 import telemetry_pb2 as pb
from llama.telemetry.v1 import telemetry_pb2_grpc
from llama_mesh.runtime.errors import error_info
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
