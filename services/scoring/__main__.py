"""The scoring service.  `python -m services.scoring --distribution local-cpu`"""

from __future__ import annotations

import argparse

from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.entrypoint import run_main
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.server import ServiceServer
from services.scoring.providers import ScoringProviders
from services.scoring.resource_lifecycle import ScoringFunctionLifecycleServicer
from services.scoring.rows_scoring import RowsScorer
from services.scoring.servicer import ScoringServicer


async def serve(config: RunConfig, args: argparse.Namespace) -> None:
    service = config.service(args.service)
    providers = ScoringProviders.from_config(service.providers, config)
    gateway = GatewayClient(config.gateway.address)
    server = ServiceServer(service.name, service.address)
    server.add_api(ScoringServicer(RowsScorer(providers, gateway), gateway))
    server.add_api(ScoringFunctionLifecycleServicer(providers))

    async def shutdown() -> None:
        await gateway.close()
        await providers.close()

    await server.run(shutdown=shutdown)


def main() -> None:
    run_main("llama-mesh scoring service", "scoring", serve)


if __name__ == "__main__":
    main()
