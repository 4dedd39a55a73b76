"""The datasetio service.  `python -m services.datasetio --distribution local-cpu`"""

from __future__ import annotations

import argparse

from llama_mesh.orphan_sweep import registry_lister
from llama_mesh.resources import KIND_BY_NAME
from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.entrypoint import run_main
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.server import ServiceServer
from services.datasetio.orphans import appended_rows_sweep, kept_at_start
from services.datasetio.providers import DatasetProviders
from services.datasetio.resource_lifecycle import DatasetLifecycleServicer
from services.datasetio.servicer import DatasetIOServicer


async def serve(config: RunConfig, args: argparse.Namespace) -> None:
    service = config.service(args.service)
    providers = DatasetProviders.from_config(service.providers, config)
    gateway = GatewayClient(config.gateway.address)
    server = ServiceServer(service.name, service.address)
    server.add_api(DatasetIOServicer(providers))
    server.add_api(DatasetLifecycleServicer(providers))
    sweep = appended_rows_sweep(config.gateway.auth, providers, registry_lister(gateway, KIND_BY_NAME["dataset"]))

    async def startup() -> None:
        sweep.start(await kept_at_start(providers))

    async def shutdown() -> None:
        await sweep.stop()
        await gateway.close()
        await providers.close()

    await server.run(startup=startup, shutdown=shutdown)


def main() -> None:
    run_main("llama-mesh datasetio service", "datasetio", serve)


if __name__ == "__main__":
    main()
