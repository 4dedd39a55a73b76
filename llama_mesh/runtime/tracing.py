"""OpenTelemetry set-up shared by every service: a tracer provider and the gRPC interceptors that use it."""

from __future__ import annotations

import os

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from opentelemetry.instrumentation.grpc.filters import any_of, negate, service_name, service_prefix
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from llama_mesh.runtime.config import TelemetryConfig

_HEALTH_AND_REFLECTION = negate(any_of(service_name("grpc.health.v1.Health"), service_prefix("grpc.reflection.")))


_tracing_enabled = False


def setup_tracing(service: str, config: TelemetryConfig) -> TracerProvider:
    """Install a tracer provider for this process; exports per `config`. With exporter "none" the gRPC tracing
    interceptors are left out altogether, so an untraced mesh pays nothing for tracing."""
    global _tracing_enabled
    _tracing_enabled = config.exporter != "none"
    provider = TracerProvider(resource=Resource.create({"service.name": f"llama-mesh.{service}"}))
    if config.exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif config.exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        endpoint = config.otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
    trace.set_tracer_provider(provider)
    return provider


def server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    return [aio_server_interceptor(filter_=_HEALTH_AND_REFLECTION)] if _tracing_enabled else []


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    return list(aio_client_interceptors(filter_=_HEALTH_AND_REFLECTION)) if _tracing_enabled else []
