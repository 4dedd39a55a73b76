"""OpenTelemetry set-up shared by every service: a tracer provider and the gRPC interceptors that use it."""

from __future__ import annotations

import os

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace import Status, StatusCode

from llama_mesh.runtime.config import TelemetryConfig

# Left untraced: health checks and reflection; the OTLP receiver (tracing an Export would export more spans, a loop);
# and the Telemetry API (reading traces should not add traces of its own).
_UNTRACED_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.",
    "/opentelemetry.proto.collector.",
    "/llama.telemetry.",
)


def _traced(details: grpc.HandlerCallDetails | grpc.aio.ClientCallDetails) -> bool:
    """Whether a call gets a span: one prefix test on its full method name (the instrumentation's own filters parse
    the name several times per call, a measurable part of what tracing cost a forwarded call)."""
    method = details.method
    if isinstance(method, bytes):  # grpc.aio fills ClientCallDetails.method with bytes
        method = method.decode()
    return not method.startswith(_UNTRACED_PREFIXES)


_DEFAULT_OTLP_ENDPOINT = "http://127.0.0.1:4317"


_tracing_enabled = False


def _otlp_processor(
    endpoint: str,
    config: TelemetryConfig,
    credentials: grpc.ChannelCredentials | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> BatchSpanProcessor:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    insecure = credentials is None and not endpoint.startswith("https://")
    exporter = OTLPSpanExporter(
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


def setup_tracing(
    service: str,
    config: TelemetryConfig,
    mesh_credentials: grpc.ChannelCredentials | None = None,
    mesh_headers: tuple[tuple[str, str], ...] = (),
) -> TracerProvider:
    """Install a tracer provider for this process; exports per `config`. With exporter "none" the gRPC tracing
    interceptors are left out altogether, so an untraced mesh pays nothing for tracing. `mesh_credentials` (mesh mTLS)
    and `mesh_headers` (the mesh secret) go only with the export to `otlp_endpoint`, the mesh's own telemetry
    service, never to the extra endpoints."""
    global _tracing_enabled
    _tracing_enabled = config.exporter != "none"
    provider = TracerProvider(resource=Resource.create({"service.name": f"llama-mesh.{service}"}))
    if config.exporter == "console":
        provider.add_span_processor(
            BatchSpanProcessor(ConsoleSpanExporter(), schedule_delay_millis=config.export_delay_ms)
        )
    elif config.exporter == "otlp":
        endpoints = config.otlp_endpoints() or [os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", _DEFAULT_OTLP_ENDPOINT)]
        for endpoint in endpoints:
            own = endpoint == config.otlp_endpoint
            provider.add_span_processor(
                _otlp_processor(endpoint, config, mesh_credentials if own else None, mesh_headers if own else ())
            )
    trace.set_tracer_provider(provider)
    return provider


def server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    return [aio_server_interceptor(filter_=_traced)] if _tracing_enabled else []


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    return list(aio_client_interceptors(filter_=_traced)) if _tracing_enabled else []


def record_failure(message: str, reason: str) -> None:
    """Mark the current call's span as failed, with the ErrorInfo reason. The gRPC instrumentation alone leaves server
    spans of caller errors (NOT_FOUND, INVALID_ARGUMENT...) unset, per OpenTelemetry's conventions; in the mesh a call
    that failed is what a person looks for in a trace, so every failure is marked."""
    span = trace.get_current_span()
    span.set_attribute("error.reason", reason)
    span.set_status(Status(StatusCode.ERROR, message))
