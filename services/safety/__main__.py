"""The safety service.  `python -m services.safety --distribution local-cpu`"""

from __future__ import annotations

import argparse

from llama.provider.v1 import provider_pb2, provider_pb2_grpc
from llama.safety.v1 import safety_pb2, safety_pb2_grpc
from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.entrypoint import run_main
from llama_mesh.runtime.server import ServiceServer
from services.safety.providers import ShieldProviders
from services.safety.resource_lifecycle import ShieldLifecycleServicer
from services.safety.servicer import SafetyServicer


async def serve(config: RunConfig, args: argparse.Namespace) -> None:
    service = config.service(args.service)
    providers = ShieldProviders.from_config(service.providers, config)
    server = ServiceServer(service.name, service.address)
    server.add_servicer(
        safety_pb2_grpc.add_SafetyServiceServicer_to_server,
        SafetyServicer(providers),
        safety_pb2.DESCRIPTOR.services_by_name["SafetyService"].full_name,
    )
    server.add_servicer(
        provider_pb2_grpc.add_ResourceLifecycleServiceServicer_to_server,
        ShieldLifecycleServicer(providers),
        provider_pb2.DESCRIPTOR.services_by_name["ResourceLifecycleService"].full_name,
    )
    await server.run(shutdown=providers.close)


def main() -> None:
    run_main("llama-mesh safety service", "safety", serve)


if __name__ == "__main__":
    main()
