"""OpenTelemetry metrics shared by every service and the gateway.

`telemetry.metrics_exporter` picks the export: `none` (the default) sets nothing up and installs no interceptor, so a
mesh without metrics pays nothing for them; `prometheus` serves the process's metrics as Prometheus text at
http://<metrics_address>/metrics (each service entry and the gateway name their own `metrics_address`); `otlp`
pushes them to an OTLP gRPC metrics receiver (`metrics_otlp_endpoint`) every `metrics_export_interval_ms`.

Every process counts its RPCs and their latency (server side, labels rpc.service, rpc.method and
rpc.grpc.status_code; health checks and reflection left out). Services add their own instruments on `meter()`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
from opentelemetry import metrics
from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from llama_mesh.runtime.addresses import BIND_HOST_ENV, listen_address
from llama_mesh.runtime.config import ConfigError, RunConfig, TelemetryConfig
from llama_mesh.runtime.interceptors import ScopedCallInterceptor

log = logging.getLogger(__name__)

_UNMEASURED_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
_DEFAULT_OTLP_ENDPOINT = "http://127.0.0.1:4317"

_meter: Meter | None = None


def meter() -> Meter | None:
    """The process's meter; None when metrics are off (callers then record nothing)."""
    return _meter


def metrics_address(config: RunConfig, process: str) -> str:
    """Where `process` (the gateway or a service entry's name) serves Prometheus text; empty when not set."""
    if process == "gateway":
        return config.gateway.metrics_address
    return config.service(process).metrics_address


def _prometheus_reader(process: str, address: str) -> MetricReader:
    """Serves /metrics at `address`, or at its port on LLAMA_MESH_BIND_HOST where that is set (containers, pods)."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import start_http_server

    listen = listen_address(address, os.environ.get(BIND_HOST_ENV) or None)
    host, _, port = listen.rpartition(":")
    try:
        start_http_server(int(port), addr=host.strip("[]") or "0.0.0.0")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{process}: cannot serve metrics on {listen!r}: {exc}") from exc
    log.info("%s: Prometheus metrics at http://%s/metrics", process, listen)
    return PrometheusMetricReader()


def _otlp_reader(config: TelemetryConfig) -> MetricReader:
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

    endpoint = config.metrics_otlp_endpoint or os.environ.get(
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", _DEFAULT_OTLP_ENDPOINT
    )
    exporter = OTLPMetricExporter(
        endpoint=endpoint, insecure=not endpoint.startswith("https://"), timeout=config.export_timeout_seconds
    )
    # Export runs on the reader's own thread, never on the service's event loop.
    return PeriodicExportingMetricReader(
        exporter,
        export_interval_millis=config.metrics_export_interval_ms,
        export_timeout_millis=config.export_timeout_seconds * 1000,
    )


def setup_metrics(process: str, config: RunConfig) -> None:
    """Install this process's meter provider per `config.telemetry.metrics_exporter`; `none` installs nothing."""
    global _meter
    telemetry = config.telemetry
    if telemetry.metrics_exporter == "none":
        _meter = None
        return
    if telemetry.metrics_exporter == "prometheus":
        address = metrics_address(config, process)
        if not address:
            log.warning(
                "%s: metrics_exporter is prometheus but this process has no metrics_address: no metrics", process
            )
            _meter = None
            return
        reader = _prometheus_reader(process, address)
    else:
        reader = _otlp_reader(telemetry)
    provider = MeterProvider(
        resource=Resource.create({"service.name": f"llama-mesh.{process}"}), metric_readers=[reader]
    )
    metrics.set_meter_provider(provider)
    _meter = provider.get_meter("llama_mesh")


def _status_name(context: grpc.aio.ServicerContext, failure: BaseException | None) -> str:
    if isinstance(failure, asyncio.CancelledError | GeneratorExit):  # the caller went away
        return grpc.StatusCode.CANCELLED.name
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    return grpc.StatusCode.UNKNOWN.name if failure is not None else grpc.StatusCode.OK.name


class RpcMetricsInterceptor(ScopedCallInterceptor):
    """Counts every RPC this server answers and how long it took (a stream: until its last message)."""

    def __init__(self, meter: Meter) -> None:
        self._requests = meter.create_counter(
            "rpc.server.requests", unit="{request}", description="RPCs answered, by method and status code"
        )
        self._duration = meter.create_histogram(
            "rpc.server.duration", unit="ms", description="Time from an RPC's start to its status, by method"
        )

    @contextmanager
    def scope(self, method: str, context: grpc.aio.ServicerContext) -> Iterator[None]:
        started, failure = time.perf_counter(), None
        try:
            yield
        except BaseException as exc:
            failure = exc
            raise
        finally:
            service, _, name = method.lstrip("/").partition("/")
            status = _status_name(context, failure)
            labels = {"rpc.service": service, "rpc.method": name, "rpc.grpc.status_code": status}
            self._requests.add(1, labels)
            self._duration.record((time.perf_counter() - started) * 1000, labels)

    def applies_to(self, method: str) -> bool:
        return not method.startswith(_UNMEASURED_PREFIXES)


def metrics_interceptors() -> list[grpc.aio.ServerInterceptor]:
    """The RPC metrics interceptor when metrics are on; none at all when they are off."""
    return [RpcMetricsInterceptor(_meter)] if _meter is not None else []
