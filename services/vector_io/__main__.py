"""The vector_io service.  `python -m services.vector_io --distribution local-cpu`"""

from __future__ import annotations

import argparse

from llama_mesh.orphan_sweep import registry_lister
from llama_mesh.resources import KIND_BY_NAME
from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.entrypoint import run_main
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.server import ServiceServer
from services.vector_io.orphans import collection_sweep, stored_at_start
from services.vector_io.providers import VectorStores
from services.vector_io.resource_lifecycle import VectorDBLifecycleServicer
from services.vector_io.servicer import VectorIOServicer


async def serve(config: RunConfig, args: argparse.Namespace) -> None:
    service = config.service(args.service)
    stores = VectorStores.from_config(service.providers, config)
    gateway = GatewayClient(config.gateway.address)
    server = ServiceServer(service.name, service.address)
    server.add_api(VectorIOServicer(stores, gateway))
    server.add_api(VectorDBLifecycleServicer(stores))
    sweep = collection_sweep(config.gateway.auth, stores, registry_lister(gateway, KIND_BY_NAME["vector_db"]))

    async def startup() -> None:
        await stores.start()
        sweep.start(await stored_at_start(stores))

    async def shutdown() -> None:
        await sweep.stop()
        await gateway.close()
        await stores.close()

    await server.run(startup=startup, shutdown=shutdown)


def main() -> None:
    run_main("llama-mesh vector_io service", "vector_io", serve)


if __name__ == "__main__":
    main()
