"""Metrics export choices of llama_mesh/runtime/metrics.py: `otlp` pushes to the configured OTLP gRPC metrics
endpoint (a real receiver on loopback, the standard MetricsService), `none` installs nothing at all, and `prometheus`
listens where the process's gRPC server would (tests/mesh/test_metrics_mesh.py scrapes a whole mesh)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.sdk.metrics import MeterProvider

from llama_mesh.launcher import free_loopback_port
from llama_mesh.runtime import metrics
from llama_mesh.runtime.config import RunConfig, TelemetryConfig


class _Receiver(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self) -> None:
        self.requests: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.received = threading.Event()

    def Export(self, request, context):  # noqa: N802 - gRPC method
        self.requests.append(request)
        self.received.set()
        return metrics_service_pb2.ExportMetricsServiceResponse()


@pytest.fixture
def receiver() -> Iterator[tuple[_Receiver, str]]:
    servicer = _Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"127.0.0.1:{port}"
    server.stop(0)


def test_otlp_exports_to_the_configured_endpoint(receiver: tuple[_Receiver, str]) -> None:
    servicer, endpoint = receiver
    config = TelemetryConfig(metrics_exporter="otlp", metrics_otlp_endpoint=endpoint)
    provider = MeterProvider(metric_readers=[metrics._otlp_reader(config)])
    try:
        counter = provider.get_meter("llama_mesh").create_counter("llama_mesh.inference.prompt_tokens")
        counter.add(7, {"model": "m"})
        assert provider.force_flush(timeout_millis=10_000)
    finally:
        provider.shutdown()
    assert servicer.received.is_set()
    points = [
        point.as_int
        for request in servicer.requests
        for resource in request.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "llama_mesh.inference.prompt_tokens"
        for point in metric.sum.data_points
    ]
    assert points and set(points) == {7}  # cumulative: each export (flush, shutdown) carries the total


def test_none_installs_no_meter_and_no_interceptor() -> None:
    config = RunConfig.model_validate(
        {
            "distribution": "t",
            "data_dir": "d",
            "cache_dir": "c",
            "gateway": {"registry": {}},
            "services": [],
            "telemetry": {"metrics_exporter": "none"},
        }
    )
    metrics.setup_metrics("gateway", config)
    assert metrics.meter() is None
    assert metrics.metrics_interceptors() == []


def test_prometheus_listens_on_the_bind_host_at_the_address_port(monkeypatch: pytest.MonkeyPatch) -> None:
    # In a container the address names the service (not an interface of its own): LLAMA_MESH_BIND_HOST says where
    # to listen, as for the gRPC port.
    port = free_loopback_port()
    monkeypatch.setenv("LLAMA_MESH_BIND_HOST", "127.0.0.1")
    reader = metrics._prometheus_reader("inference", f"inference.invalid:{port}")
    provider = MeterProvider(metric_readers=[reader])
    try:
        provider.get_meter("llama_mesh").create_counter("rpc.server.requests").add(1, {"rpc.method": "Probe"})
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        provider.shutdown()
    assert "rpc_server_requests_total{" in text and 'rpc_method="Probe"' in text
