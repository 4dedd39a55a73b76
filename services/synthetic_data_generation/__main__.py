"""The synthetic data generation service.  `python -m services.synthetic_data_generation --distribution local-cpu`

Writes candidate answers to dialogs with a registered model, scores and filters them, and returns (or appends to a
dataset) rows ready for fine-tuning; inference, scoring and datasetio are all called through the gateway.
"""

from __future__ import annotations

import argparse

from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.entrypoint import run_main
from llama_mesh.runtime.server import ServiceServer
from services.synthetic_data_generation.providers import SyntheticDataProviders
from services.synthetic_data_generation.servicer import SyntheticDataGenerationServicer


async def serve(config: RunConfig, args: argparse.Namespace) -> None:
    service = config.service(args.service)
    providers = SyntheticDataProviders.from_config(service.providers, config)
    server = ServiceServer(service.name, service.address)
    server.add_api(SyntheticDataGenerationServicer(providers))
    await server.run(shutdown=providers.close)


def main() -> None:
    run_main("llama-mesh synthetic data generation service", "synthetic_data_generation", serve)


if __name__ == "__main__":
    main()
