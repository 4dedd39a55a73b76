"""The vector_io service.  `python -m services.vector_io --distribution local-cpu`"""

from __future__ import annotations

import argparse
import asyncio

from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.entrypoint import run_main
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.server import ServiceServer
from services.vector_io.orphans import registry_lister, stored_at_start, sweep_orphans
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
    sweeps: list[asyncio.Task[list[str]]] = []

    async def startup() -> None:
        await stores.start()
        if not config.gateway.auth.enabled:  # with auth, a token may not see every vector DB: nothing is swept
            candidates = await stored_at_start(stores)
            sweeps.append(asyncio.create_task(sweep_orphans(stores, candidates, registry_lister(gateway))))

    async def shutdown() -> None:
        for sweep in sweeps:
            sweep.cancel()
        await asyncio.gather(*sweeps, return_exceptions=True)
        await gateway.close()
        await stores.close()

    await server.run(startup=startup, shutdown=shutdown)


def main() -> None:
    run_main("llama-mesh vector_io service", "vector_io", serve)


if __name__ == "__main__":
    main()
