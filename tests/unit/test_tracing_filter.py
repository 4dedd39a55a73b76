"""Which calls get a trace span: every API call, not health checks, reflection, the OTLP receiver or the Telemetry API
(tracing those would add spans about reading or storing spans)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from llama_mesh.runtime.tracing import _traced


@pytest.mark.parametrize(
    ("method", "traced"),
    [
        ("/llama.inference.v1.InferenceService/StreamChatCompletion", True),
        ("/llama.registry.v1.RegistryService/ListModels", True),
        (b"/llama.inference.v1.InferenceService/GetEngineStatus", True),  # grpc.aio's client call details: bytes
        ("/grpc.health.v1.Health/Check", False),
        ("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", False),
        ("/opentelemetry.proto.collector.trace.v1.TraceService/Export", False),
        (b"/opentelemetry.proto.collector.trace.v1.TraceService/Export", False),
        ("/llama.telemetry.v1.TelemetryService/QueryTraces", False),
    ],
)
def test_api_calls_are_traced_and_the_machinery_is_not(method: str | bytes, traced: bool) -> None:
    assert _traced(SimpleNamespace(method=method)) is traced
