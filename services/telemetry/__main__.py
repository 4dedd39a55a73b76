"""The telemetry service.  `python -m services.telemetry --distribution local-cpu`

Receives OTLP spans from every service (and any OpenTelemetry SDK or collector) on its gRPC port, stores them in
SQLite under <data_dir>/telemetry/traces.db, and serves llama.telemetry.v1.TelemetryService over them.
"""

from __future__ import annotations

import argparse
import asyncio

from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.entrypoint import run_main
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.server import ServiceServer
from services.telemetry.receiver import OtlpTraceReceiver
from services.telemetry.servicer import TelemetryServicer
from services.telemetry.span_store import SpanStore


async def serve(config: RunConfig, args: argparse.Namespace) -> None:
    service = config.service(args.service)
    store = await asyncio.to_thread(SpanStore, config.data_path("telemetry", "traces.db"))
    gateway = GatewayClient(config.gateway.address)
    server = ServiceServer(service.name, service.address)
    server.add_api(OtlpTraceReceiver(store))
    server.add_api(TelemetryServicer(store, gateway))

    async def close() -> None:
        await gateway.close()
        await asyncio.to_thread(store.close)

    await server.run(shutdown=close)


def main() -> None:
    run_main("llama-mesh telemetry service", "telemetry", serve)


if __name__ == "__main__":
    main()
