"""Tracing across the real local mesh: spans from the gateway and the inference service reach the telemetry service,
which stores them and answers trace queries. Spans are exported in batches, so tests poll (bounded), never time."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import grpc
import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from llama.common.v1 import resources_pb2
from llama.datasetio.v1 import datasetio_pb2, datasetio_pb2_grpc
from llama.inference.v1 import inference_pb2 as inference_pb
from llama.inference.v1 import inference_pb2_grpc
from llama.registry.v1 import registry_pb2, registry_pb2_grpc
from llama.telemetry.v1 import telemetry_pb2 as pb
from llama.telemetry.v1 import telemetry_pb2_grpc
from llama_mesh.launcher import LocalMesh
from llama_mesh.runtime.mesh_identity import peer_metadata
from tests.mesh.helpers import CHAT_MODEL, expect_error, greedy, reason_and_field, run_cli, user

T = TypeVar("T")
WAIT_SECONDS = 60.0


def eventually(probe: Callable[[], T | None], what: str) -> T:
    """Poll `probe` until it returns something (spans arrive in batches); fail after a bounded wait."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def telemetry(gateway: grpc.Channel) -> telemetry_pb2_grpc.TelemetryServiceStub:
    return telemetry_pb2_grpc.TelemetryServiceStub(gateway)


@pytest.fixture(scope="module")
def telemetry_address(local_mesh: LocalMesh) -> str:
    return local_mesh.config.service("telemetry").address


class _PeerReceiver:
    """The OTLP receiver, called as a peer service of the mesh calls it: with the mesh secret."""

    def __init__(self, channel: grpc.Channel, secret: str) -> None:
        self._stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        self._metadata = peer_metadata("tests", secret)

    def Export(self, request, **kwargs):  # noqa: N802 - the stub's method
        return self._stub.Export(request, metadata=self._metadata, **kwargs)


@pytest.fixture(scope="module")
def otlp(local_mesh: LocalMesh, telemetry_address: str) -> Iterator[_PeerReceiver]:
    with grpc.insecure_channel(telemetry_address) as channel:
        yield _PeerReceiver(channel, local_mesh.secret)


def traceparent() -> tuple[str, tuple[tuple[str, str], ...]]:
    """A new trace id and the W3C header that makes the gateway's span part of it."""
    trace_id = secrets.token_hex(16)
    return trace_id, (("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-01"),)


def flat(node: pb.SpanNode, parent: pb.Span | None = None) -> Iterator[tuple[pb.Span, pb.Span | None]]:
    yield node.span, parent
    for child in node.children:
        yield from flat(child, node.span)


def tree_of(telemetry: telemetry_pb2_grpc.TelemetryServiceStub, trace_id: str) -> pb.SpanNode | None:
    try:
        trace = telemetry.GetTrace(pb.GetTraceRequest(trace_id=trace_id))
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
    return telemetry.GetSpanTree(pb.GetSpanTreeRequest(span_id=trace.root_span_id)).root


def service_of(span: pb.Span) -> str:
    return span.attributes["service.name"]


@pytest.fixture(scope="module")
def chat_trace(inference_stub, telemetry):
    """One chat through the gateway under a known trace id, once its spans have arrived: (trace id, reply, the
    trace's tree, the inference span, that span's parent)."""
    trace_id, metadata = traceparent()
    reply = inference_stub.ChatCompletion(
        inference_pb.ChatCompletionRequest(model_id=CHAT_MODEL, messages=[user("Say hi.")], sampling_params=greedy(8)),
        metadata=metadata,
    )

    def inference_span() -> tuple[pb.SpanNode, pb.Span, pb.Span] | None:
        tree = tree_of(telemetry, trace_id)
        # Each service exports on its own schedule: until the gateway's spans arrive, the inference span looks like
        # the root.
        if tree is None or service_of(tree.span) != "llama-mesh.gateway":
            return None
        for span, parent in flat(tree):
            if service_of(span) == "llama-mesh.inference" and span.name.endswith("/ChatCompletion"):
                return tree, span, parent  # type: ignore[return-value]
        return None

    tree, span, parent = eventually(inference_span, "the inference span of the chat")
    return trace_id, reply, tree, span, parent


def test_one_chat_is_one_trace_from_gateway_to_inference(chat_trace, telemetry) -> None:
    trace_id, reply, tree, span, parent = chat_trace
    root = tree.span
    assert root.trace_id == trace_id
    assert service_of(root) == "llama-mesh.gateway"
    assert root.name == "/llama.inference.v1.InferenceService/ChatCompletion"
    assert root.attributes["resource_id"] == CHAT_MODEL
    assert root.attributes["target_service"] == "inference"
    # One span per hop: the inference span is the child of the gateway's span of the call, which forwarded it.
    assert service_of(parent) == "llama-mesh.gateway" and parent.span_id == root.span_id
    assert root.attributes["rpc.service"] == "llama.inference.v1.InferenceService"
    assert root.attributes["rpc.method"] == "ChatCompletion" and root.attributes["rpc.grpc.status_code"] == 0
    assert span.trace_id == trace_id
    assert span.attributes["model_id"] == CHAT_MODEL
    assert span.attributes["provider_id"] == "llama-cpp"
    assert span.attributes["prompt_tokens"] == reply.usage.prompt_tokens
    assert span.attributes["completion_tokens"] == reply.usage.completion_tokens
    assert span.attributes["time_to_first_token_ms"] > 0
    assert span.status != pb.SPAN_STATUS_ERROR
    assert root.end_time.ToNanoseconds() >= span.end_time.ToNanoseconds() > span.start_time.ToNanoseconds()

    # The same trace is found by filters on attributes of its spans, service.name from the resource included.
    filters = [
        pb.QueryCondition(key="service.name", op=pb.QUERY_CONDITION_OP_EQ),
        pb.QueryCondition(key="model_id", op=pb.QUERY_CONDITION_OP_EQ),
        pb.QueryCondition(key="completion_tokens", op=pb.QUERY_CONDITION_OP_GT),
    ]
    filters[0].value.string_value = "llama-mesh.inference"
    filters[1].value.string_value = CHAT_MODEL
    filters[2].value.number_value = 0
    found = telemetry.QueryTraces(pb.QueryTracesRequest(attribute_filters=filters, page_size=1000))
    assert trace_id in {trace.trace_id for trace in found.traces}


def test_cli_lists_and_shows_the_chat_trace(local_mesh: LocalMesh, chat_trace) -> None:
    trace_id = chat_trace[0]
    listed = run_cli(
        local_mesh,
        "--json",
        "traces",
        "list",
        "--limit",
        "1000",
        "--filter",
        f"model_id={CHAT_MODEL}",
        timeout=120,
        columns=300,
    )
    assert listed.returncode == 0, listed.stderr
    assert trace_id in {trace["trace_id"] for trace in json.loads(listed.stdout)}
    shown = run_cli(local_mesh, "traces", "show", trace_id, timeout=120, columns=300)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("/llama.inference.v1.InferenceService/ChatCompletion") == 2  # gateway, inference
    assert f"model_id={CHAT_MODEL}" in shown.stdout and " ms" in shown.stdout
    missing = run_cli(local_mesh, "traces", "show", "ab" * 16, timeout=120, columns=300)
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr


def test_a_failed_call_records_the_error(inference_stub, telemetry) -> None:
    trace_id, metadata = traceparent()
    expect_error(
        lambda: inference_stub.ChatCompletion(
            inference_pb.ChatCompletionRequest(model_id="no-such-model", messages=[user("hi")]), metadata=metadata
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    tree = eventually(lambda: tree_of(telemetry, trace_id), "the failed call's trace")
    assert tree.span.status == pb.SPAN_STATUS_ERROR
    assert "no-such-model" in tree.span.attributes["otel.status_description"]
    assert tree.span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]


def _export(otlp, run: str, count: int, trace_id: bytes | None = None) -> list[str]:
    """Send `count` one-span traces tagged run=<run>, n=<index>, straight to the receiver; their trace ids."""
    spans = []
    for index in range(count):
        spans.append(
            trace_pb2.Span(
                trace_id=trace_id or secrets.token_bytes(16),
                span_id=secrets.token_bytes(8),
                name=f"synthetic-{index}",
                start_time_unix_nano=1_700_000_000_000_000_000 + index * 1_000_000,
                end_time_unix_nano=1_700_000_000_000_000_000 + index * 1_000_000 + 500,
                attributes=[
                    KeyValue(key="run", value=AnyValue(string_value=run)),
                    KeyValue(key="n", value=AnyValue(int_value=index)),
                ],
            )
        )
    request = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[trace_pb2.ResourceSpans(scope_spans=[trace_pb2.ScopeSpans(spans=spans)])]
    )
    otlp.Export(request, timeout=10)
    return [span.trace_id.hex() for span in spans]


def _condition(key: str, op: int, value: str | float) -> pb.QueryCondition:
    condition = pb.QueryCondition(key=key, op=op)  # type: ignore[arg-type]
    if isinstance(value, str):
        condition.value.string_value = value
    else:
        condition.value.number_value = value
    return condition


def test_filters_order_and_paging(otlp, telemetry) -> None:
    run = uuid.uuid4().hex
    ids = _export(otlp, run, 5)
    mine = _condition("run", pb.QUERY_CONDITION_OP_EQ, run)

    pages: list[list[str]] = []
    token = ""
    while True:
        page = telemetry.QueryTraces(
            pb.QueryTracesRequest(attribute_filters=[mine], page_size=2, page_token=token, order_by="start_time")
        )
        pages.append([trace.trace_id for trace in page.traces])
        token = page.next_page_token
        if not token:
            break
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [trace_id for page in pages for trace_id in page] == ids

    newest_first = telemetry.QueryTraces(pb.QueryTracesRequest(attribute_filters=[mine]))
    assert [trace.trace_id for trace in newest_first.traces] == ids[::-1]

    late = telemetry.QueryTraces(
        pb.QueryTracesRequest(
            attribute_filters=[mine, _condition("n", pb.QUERY_CONDITION_OP_GT, 2)], order_by="start_time asc"
        )
    )
    assert [trace.trace_id for trace in late.traces] == ids[3:]

    spans = telemetry.QuerySpans(
        pb.QuerySpansRequest(
            attribute_filters=[mine, _condition("n", pb.QUERY_CONDITION_OP_LT, 2)], attributes_to_return=["n"]
        )
    )
    assert [span.trace_id for span in spans.spans] == ids[1::-1]
    assert [dict(span.attributes) for span in spans.spans] == [{"n": 1}, {"n": 0}]


def test_bad_queries_and_unknown_ids(telemetry) -> None:
    error = expect_error(
        lambda: telemetry.QueryTraces(pb.QueryTracesRequest(attribute_filters=[pb.QueryCondition(key="x")])),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error)[1] == "attribute_filters[0].op"
    error = expect_error(
        lambda: telemetry.QueryTraces(pb.QueryTracesRequest(order_by="name")), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert reason_and_field(error)[1] == "order_by"
    expect_error(lambda: telemetry.GetTrace(pb.GetTraceRequest(trace_id="ab" * 16)), grpc.StatusCode.NOT_FOUND)
    expect_error(
        lambda: telemetry.GetSpan(pb.GetSpanRequest(trace_id="ab" * 16, span_id="cd" * 8)), grpc.StatusCode.NOT_FOUND
    )
    expect_error(lambda: telemetry.GetSpanTree(pb.GetSpanTreeRequest(span_id="cd" * 8)), grpc.StatusCode.NOT_FOUND)
    error = expect_error(
        lambda: telemetry.SaveSpansToDataset(pb.SaveSpansToDatasetRequest(dataset_id="d", attributes_to_save=["n"])),
        grpc.StatusCode.NOT_FOUND,
    )
    assert "dataset 'd' is not registered" in error.details()


def test_spans_are_saved_to_a_dataset(otlp, telemetry, gateway) -> None:
    run = uuid.uuid4().hex
    ids = _export(otlp, run, 3)
    registry = registry_pb2_grpc.RegistryServiceStub(gateway)
    dataset = resources_pb2.Dataset(
        identifier=f"test/spans-{run}", source=resources_pb2.DataSource(rows=resources_pb2.RowsSource())
    )
    registry.RegisterDataset(registry_pb2.RegisterDatasetRequest(dataset=dataset), timeout=30)
    saved = telemetry.SaveSpansToDataset(
        pb.SaveSpansToDatasetRequest(
            dataset_id=dataset.identifier,
            attributes_to_save=["n", "absent"],
            attribute_filters=[_condition("run", pb.QUERY_CONDITION_OP_EQ, run)],
        ),
        timeout=30,
    )
    assert saved.saved_rows == 3
    page = datasetio_pb2_grpc.DatasetIOServiceStub(gateway).IterRows(
        datasetio_pb2.IterRowsRequest(dataset_id=dataset.identifier), timeout=30
    )
    rows = [json_format.MessageToDict(row) for row in page.rows]
    assert [row["trace_id"] for row in rows] == ids[::-1]  # newest first, as QuerySpans orders them
    assert [(row["n"], row["absent"], row["name"]) for row in rows] == [
        (2, None, "synthetic-2"),
        (1, None, "synthetic-1"),
        (0, None, "synthetic-0"),
    ]
    assert rows[-1]["start_time"] == "2023-11-14T22:13:20Z" and rows[-1]["parent_span_id"] == ""
    nothing = telemetry.SaveSpansToDataset(
        pb.SaveSpansToDatasetRequest(
            dataset_id=dataset.identifier,
            attributes_to_save=["n"],
            attribute_filters=[_condition("run", pb.QUERY_CONDITION_OP_EQ, "no-such-run")],
        ),
        timeout=30,
    )
    assert nothing.saved_rows == 0


def test_registering_a_resource_traces_its_preparation_by_the_service(gateway, telemetry) -> None:
    trace_id, metadata = traceparent()
    dataset = resources_pb2.Dataset(
        identifier=f"test/traced-{uuid.uuid4().hex}", source=resources_pb2.DataSource(rows=resources_pb2.RowsSource())
    )
    registry = registry_pb2_grpc.RegistryServiceStub(gateway)
    registry.RegisterDataset(registry_pb2.RegisterDatasetRequest(dataset=dataset), metadata=metadata, timeout=30)

    def preparation() -> pb.Span | None:
        """The datasetio span of preparing the dataset, once it and the gateway's span of the call have arrived."""
        tree = tree_of(telemetry, trace_id)
        if tree is None or not tree.span.name.endswith("/RegisterDataset"):
            return None
        return next((span for span, parent in flat(tree) if parent is not None and parent == tree.span), None)

    span = eventually(preparation, "the span of the dataset's preparation")
    assert span.name == "/llama.provider.v1.ResourceLifecycleService/PrepareResource"
    assert service_of(span) == "llama-mesh.datasetio" and span.trace_id == trace_id


def test_a_plain_opentelemetry_exporter_is_accepted(telemetry, telemetry_address: str, local_mesh: LocalMesh) -> None:
    """Any OpenTelemetry SDK exports to the receiver, given the mesh's proof of identity (here the secret)."""
    provider = TracerProvider(resource=Resource.create({"service.name": "plain-sdk-client"}))
    exporter = OTLPSpanExporter(
        endpoint=telemetry_address, insecure=True, headers=peer_metadata("plain-sdk-client", local_mesh.secret)
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("outer") as outer, tracer.start_as_current_span("inner") as inner:
        inner.set_attribute("answer", 42)
    provider.shutdown()
    trace_id = f"{outer.get_span_context().trace_id:032x}"

    def both_spans() -> pb.SpanNode | None:
        """The trace once both spans are stored (until "outer" is, "inner" would look like the root)."""
        tree = tree_of(telemetry, trace_id)
        return tree if tree is not None and tree.span.name == "outer" and tree.children else None

    tree = eventually(both_spans, "the SDK's two spans")
    assert tree.span.name == "outer"
    assert tree.span.attributes["service.name"] == "plain-sdk-client"
    (child,) = tree.children
    assert child.span.name == "inner"
    assert child.span.span_id == f"{inner.get_span_context().span_id:016x}"
    assert child.span.attributes["answer"] == 42


def test_malformed_otlp_is_rejected_and_stored_spans_remain(otlp, telemetry) -> None:
    run = uuid.uuid4().hex
    (kept,) = _export(otlp, run, 1)
    good = trace_pb2.Span(
        trace_id=secrets.token_bytes(16),
        span_id=secrets.token_bytes(8),
        name="good",
        start_time_unix_nano=1,
        end_time_unix_nano=2,
    )
    bad = trace_pb2.Span(
        trace_id=b"\x01\x02\x03",
        span_id=secrets.token_bytes(8),
        name="bad",
        start_time_unix_nano=1,
        end_time_unix_nano=2,
    )
    request = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[trace_pb2.ResourceSpans(scope_spans=[trace_pb2.ScopeSpans(spans=[good, bad])])]
    )
    error = expect_error(lambda: otlp.Export(request, timeout=10), grpc.StatusCode.INVALID_ARGUMENT)
    assert "trace_id" in error.details()

    # Nothing of the refused request was stored; what was stored before is still there.
    expect_error(
        lambda: telemetry.GetTrace(pb.GetTraceRequest(trace_id=good.trace_id.hex())), grpc.StatusCode.NOT_FOUND
    )
    assert telemetry.GetTrace(pb.GetTraceRequest(trace_id=kept)).trace_id == kept


@pytest.fixture(scope="module")
def inference_stub(gateway: grpc.Channel) -> inference_pb2_grpc.InferenceServiceStub:
    return inference_pb2_grpc.InferenceServiceStub(gateway)
