"""OpenTelemetry set-up shared by every service: a tracer provider, and one span per call each server serves.

A traced call gets one SERVER span, named after its full method, a child of the caller's span when the call's
`traceparent` names one (trace_context.py), current while the handler runs and ended when it returns or its stream
ends (so a service's span ends before the span of the gateway that forwarded the call). It carries `rpc.system`,
`rpc.service`, `rpc.method` and `rpc.grpc.status_code` (CANCELLED or DEADLINE_EXCEEDED for a call stopped from
outside); span_status.record_failure marks a failure (the error mapping and the gateway's proxy call it for every
error status they send). Calls made while serving it carry its `traceparent` (channels.py and the gateway's proxy
add it), so the span of the service they reach is its child: client -> gateway -> service -> gateway -> service, one
span per hop.

What a span costs a call is kept small (every hop of every call pays it): the span is server_span.ServerSpan, not the
SDK's, and the export thread encodes spans with span_encoding.py (it holds the GIL the event loop needs meanwhile).
"""

from __future__ import annotations

import asyncio
import os

import grpc
from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from llama_mesh.runtime.config import TelemetryConfig
from llama_mesh.runtime.interceptors import ScopedCallInterceptor
from llama_mesh.runtime.server_span import ServerSpans
from llama_mesh.runtime.span_status import STATUS_CODE_ATTRIBUTE
from llama_mesh.runtime.trace_context import remote_span

# Left untraced: health checks and reflection; the OTLP receiver (tracing an Export would export more spans, a loop);
# and the Telemetry API (reading traces should not add traces of its own).
_UNTRACED_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.",
    "/opentelemetry.proto.collector.",
    "/llama.telemetry.",
)


def traced_method(method: str) -> bool:
    """Whether a call of `method` (its full name) gets a span: one prefix test."""
    return not method.startswith(_UNTRACED_PREFIXES)


_DEFAULT_OTLP_ENDPOINT = "http://127.0.0.1:4317"


_tracer: trace.Tracer | None = None
_server_spans: ServerSpans | None = None


def _otlp_processor(
    endpoint: str,
    config: TelemetryConfig,
    credentials: grpc.ChannelCredentials | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> BatchSpanProcessor:
    from llama_mesh.runtime.span_encoding import SpanExporter  # the OTLP exporter is heavy: loaded when used

    insecure = credentials is None and not endpoint.startswith("https://")
    exporter = SpanExporter(
        endpoint=endpoint,
        insecure=insecure,
        credentials=credentials,
        headers=headers or None,
        timeout=config.export_timeout_seconds,
    )
    # Export runs on the processor's own thread; a receiver that is down costs at most export_timeout_seconds there
    # per batch (spans beyond the queue are dropped), never time on the service's event loop.
    return BatchSpanProcessor(
        exporter,
        schedule_delay_millis=config.export_delay_ms,
        export_timeout_millis=config.export_timeout_seconds * 1000,
    )


def _resource(service: str) -> Resource:
    """What every span of this process says about its source: `service.name`, `service.instance.id` (which replica)
    and OTEL_RESOURCE_ATTRIBUTES; not the SDK's own name and version (`telemetry.sdk.*`), which would be stored as
    three more searchable attributes of every span."""
    resource = Resource.create({"service.name": f"llama-mesh.{service}"})
    attributes = {key: value for key, value in resource.attributes.items() if not key.startswith("telemetry.sdk.")}
    return Resource(attributes, resource.schema_url)


def setup_tracing(
    service: str,
    config: TelemetryConfig,
    mesh_credentials: grpc.ChannelCredentials | None = None,
    mesh_headers: tuple[tuple[str, str], ...] = (),
) -> TracerProvider:
    """Install a tracer provider for this process; exports per `config`. With exporter "none" no call gets a span
    and no `traceparent` is sent, so an untraced mesh pays nothing for tracing. `mesh_credentials` (mesh mTLS)
    and `mesh_headers` (the mesh secret) go only with the export to `otlp_endpoint`, the mesh's own telemetry
    service, never to the extra endpoints."""
    global _tracer, _server_spans
    provider = TracerProvider(resource=_resource(service))
    processors: list[BatchSpanProcessor] = []
    if config.exporter == "console":
        processors.append(BatchSpanProcessor(ConsoleSpanExporter(), schedule_delay_millis=config.export_delay_ms))
    elif config.exporter == "otlp":
        endpoints = config.otlp_endpoints() or [os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", _DEFAULT_OTLP_ENDPOINT)]
        for endpoint in endpoints:
            own = endpoint == config.otlp_endpoint
            processors.append(
                _otlp_processor(endpoint, config, mesh_credentials if own else None, mesh_headers if own else ())
            )
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _tracer = provider.get_tracer(__name__) if config.exporter != "none" else None
    _server_spans = ServerSpans(provider, InstrumentationScope(__name__), processors) if _tracer else None
    return provider


def tracing_enabled() -> bool:
    return _tracer is not None


class TracingInterceptor(ScopedCallInterceptor):
    """One SERVER span per traced call (see the module's docstring)."""

    def __init__(self, spans: ServerSpans) -> None:
        self._spans = spans
        self._attributes: dict[str, dict[str, str | int]] = {}  # per method served: one entry per handler

    def applies_to(self, method: str) -> bool:
        return traced_method(method)

    def _attributes_of(self, method: str) -> dict[str, str | int]:
        attributes = self._attributes.get(method)
        if attributes is None:
            service, _, name = method.lstrip("/").rpartition("/")
            attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name, STATUS_CODE_ATTRIBUTE: 0}
            self._attributes[method] = attributes
        return attributes

    def scope(self, method: str, call: grpc.aio.ServicerContext) -> _Serving:
        span = self._spans.start(method, remote_span(call.invocation_metadata()), self._attributes_of(method))
        return _Serving(span, call)


class _Serving:
    """A call's span, current (for the handler and the calls it makes) from `with` until it ends."""

    __slots__ = ("_call", "_span", "_token")

    def __init__(self, span: trace.Span, call: grpc.aio.ServicerContext) -> None:
        self._span = span
        self._call = call
        self._token = context.attach(trace.set_span_in_context(span))

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _: object) -> None:
        if kind is not None and issubclass(kind, asyncio.CancelledError):  # stopped from outside
            remaining = self._call.time_remaining()
            expired = remaining is not None and remaining <= 0
            code = grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
            self._span.set_attribute(STATUS_CODE_ATTRIBUTE, code.value[0])
        self._span.end()
        context.detach(self._token)


def server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    return [TracingInterceptor(_server_spans)] if _server_spans is not None else []
