"""The lean SERVER span (server_span.py) and the lean OTLP encoding (span_encoding.py) against the SDK they stand in
for: the same spans, encoded, must make the same OTLP request as the SDK's span and the SDK's encoder."""

from __future__ import annotations

import itertools

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from llama_mesh.runtime.server_span import ServerSpans
from llama_mesh.runtime.span_encoding import encode_spans
from llama_mesh.runtime.trace_context import parse_traceparent, trace_headers

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = "00f067aa0ba902b7"
METHOD = "/llama.agents.v1.AgentsService/GetAgent"
ATTRIBUTES = {"rpc.system": "grpc", "rpc.service": "llama.agents.v1.AgentsService", "rpc.method": "GetAgent"}


class CountingIds(IdGenerator):
    """Ids 1, 2, 3...: the lean and the SDK span of the same call get the same ids."""

    def __init__(self) -> None:
        self._next = itertools.count(1)

    def generate_span_id(self) -> int:
        return next(self._next)

    def generate_trace_id(self) -> int:
        return 0xABC0 + next(self._next)


class Process:
    """A provider with spans kept in memory, the lean spans of its interceptor, and the SDK's tracer."""

    def __init__(self, service: str = "gateway", **provider: object) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(
            resource=Resource({"service.name": service}), id_generator=CountingIds(), **provider
        )
        processor = SimpleSpanProcessor(self.exporter)
        self.provider.add_span_processor(processor)
        self.spans = ServerSpans(self.provider, InstrumentationScope("lean"), [processor])
        self.tracer = self.provider.get_tracer("lean")

    def finished(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


def _parent(flags: str = "01", state: str | None = None) -> SpanContext:
    parent = parse_traceparent(f"00-{TRACE}-{CALLER}-{flags}", state)
    assert parent is not None
    return parent


def _exercise(span: trace.Span) -> None:
    """What a served call may do to its span: every part of the Span API."""
    span.set_attribute("resource_id", "m1")
    span.set_attribute("count", 3)
    span.set_attribute("ratio", 0.5)
    span.set_attribute("flag", True)
    span.set_attribute("tools", ["a", "b"])  # a list: kept as the SDK keeps it (a tuple)
    span.set_attributes({"model_id": "m1", "prompt_tokens": 7})
    span.add_event("started", {"step": 1}, timestamp=5)
    span.add_link(SpanContext(0x1, 0x2, is_remote=True, trace_flags=TraceFlags(1)), {"why": "batch"})
    span.update_name(METHOD + "-renamed")
    span.set_status(Status(StatusCode.ERROR, "NOT_FOUND: agent 'x' does not exist"))
    span.set_status(StatusCode.UNSET)  # ignored
    span.record_exception(ValueError("bad value"), {"where": "handler"}, timestamp=6)


def _without_times(request: ExportTraceServiceRequest) -> ExportTraceServiceRequest:
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                span.start_time_unix_nano = span.end_time_unix_nano = 1
                for event in span.events:
                    event.time_unix_nano = 1
    return request


def test_a_lean_span_exports_what_the_sdks_span_of_the_same_call_exports() -> None:
    lean, sdk = Process(), Process()
    for parent in (_parent("01", "vendor=abc"), None):
        span = lean.spans.start(METHOD, parent, ATTRIBUTES)
        context = trace.set_span_in_context(trace.NonRecordingSpan(parent)) if parent else None
        reference = sdk.tracer.start_span(METHOD, context=context, kind=SpanKind.SERVER, attributes=ATTRIBUTES)
        assert span.get_span_context() == reference.get_span_context()
        for each in (span, reference):
            _exercise(each)
            each.end()
            each.set_attribute("after", "end")  # an ended span is frozen
    assert len(lean.finished()) == 2
    for ours, theirs in zip(lean.finished(), sdk.finished(), strict=True):
        assert ours.attributes == theirs.attributes and "after" not in (ours.attributes or {})
    assert _without_times(sdk_encode_spans(lean.finished())) == _without_times(sdk_encode_spans(sdk.finished()))


def test_a_lean_span_is_current_for_the_calls_it_makes() -> None:
    process = Process()
    span = process.spans.start(METHOD, _parent(), ATTRIBUTES)
    with trace.use_span(span, end_on_exit=True):
        assert trace_headers() == (("traceparent", f"00-{TRACE}-{span.get_span_context().span_id:016x}-01"),)
        with process.tracer.start_as_current_span("agents.turn") as child:  # an SDK span below it
            assert child.parent.span_id == span.get_span_context().span_id  # type: ignore[attr-defined]
    assert [s.name for s in process.finished()] == ["agents.turn", METHOD]


def test_an_unsampled_caller_gets_no_recorded_span_but_the_trace_goes_on() -> None:
    process = Process()
    span = process.spans.start(METHOD, _parent("00"), ATTRIBUTES)
    assert not span.is_recording()
    context = span.get_span_context()
    assert context.trace_id == int(TRACE, 16) and not context.trace_flags.sampled
    with trace.use_span(span, end_on_exit=True):
        assert trace_headers() == (("traceparent", f"00-{TRACE}-{context.span_id:016x}-00"),)
    assert process.finished() == []


@pytest.mark.parametrize(("sampler", "recorded"), [("always_off", False), ("always_on", True)])
def test_a_sampler_set_in_the_environment_decides(
    sampler: str, recorded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    process = Process()
    span = process.spans.start(METHOD, _parent("00"), ATTRIBUTES)  # always_on records even an unsampled caller's
    assert span.is_recording() is recorded
    span.end()
    assert len(process.finished()) == int(recorded)


def test_a_status_set_to_ok_stays() -> None:
    process = Process()
    span = process.spans.start(METHOD, None, ATTRIBUTES)
    span.set_status(StatusCode.OK)
    span.set_status(StatusCode.ERROR, "too late")
    span.end()
    assert process.finished()[0].status.status_code is StatusCode.OK


def test_attribute_limits_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "4")
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "3")
    process = Process()
    span = process.spans.start(METHOD, None, ATTRIBUTES)
    span.set_attribute("long", "abcdef")
    span.set_attribute("dropped", 1)
    span.set_attribute("rpc.system", "http")  # a key it has: replaced, not dropped
    span.end()
    (ended,) = process.finished()
    assert dict(ended.attributes) == {"rpc.system": "htt", "rpc.service": "lla", "rpc.method": "Get", "long": "abc"}
    assert ended.dropped_attributes == 1


def test_the_lean_encoding_makes_the_sdks_request() -> None:
    gateway, inference = Process("gateway"), Process("inference")
    for process in (gateway, inference):
        for index, parent in enumerate((_parent(), _parent("01", "k=v"), None)):
            span = process.spans.start(METHOD, parent, {**ATTRIBUTES, "index": index})
            if index == 1:
                _exercise(span)  # events, links, a list: the SDK's encoder encodes it
            span.end()
        with process.tracer.start_as_current_span("agents.turn", links=[Link(_parent())]) as span:
            span.set_attribute("agent.tool_calls", ["search"])
        process.tracer.start_span("plain", attributes={"n": 1, "x": 2.5, "ok": False, "s": "v" * 300}).end()
    spans = [*gateway.finished(), *inference.finished(), *gateway.finished()]  # a span twice: encoded twice
    assert encode_spans(spans) == sdk_encode_spans(spans)
    assert encode_spans([]) == sdk_encode_spans([])


def test_equal_resources_of_distinct_providers_share_one_entry() -> None:
    first, second = Process("gateway"), Process("gateway")
    for process in (first, second):
        process.spans.start(METHOD, None, ATTRIBUTES).end()
    spans = [*first.finished(), *second.finished()]
    request = encode_spans(spans)
    assert request == sdk_encode_spans(spans)
    assert len(request.resource_spans) == 1 and len(request.resource_spans[0].scope_spans[0].spans) == 2
