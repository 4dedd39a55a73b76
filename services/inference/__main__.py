"""The inference service.  `python -m services.inference --distribution local-cpu`"""

from __future__ import annotations

import argparse
import os

from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.entrypoint import run_main
from llama_mesh.runtime.server import ServiceServer
from services.inference import usage_metrics
from services.inference.providers import ProviderSet
from services.inference.resource_lifecycle import ModelLifecycleServicer
from services.inference.servicer import InferenceServicer


async def serve(config: RunConfig, args: argparse.Namespace) -> None:
    service = config.service(args.service)
    providers = ProviderSet.from_config(service.providers, config)
    usage_metrics.install(providers)
    server = ServiceServer(service.name, service.address)
    server.add_api(InferenceServicer(providers))
    server.add_api(ModelLifecycleServicer(providers))
    await server.run(startup=providers.preload, shutdown=providers.close)


# llama.cpp's CPU backend (OpenMP) makes its threads spin at every barrier of a decode step: on a machine whose cores
# are busy with other work, a spinning thread takes the core from the one it waits for, and a step took up to 30x
# longer (bench/README.md, llama_batching). Waiting threads sleep instead. libgomp reads this once, when it is first
# loaded, so it is set before any model is; an operator's own value wins.
OPENMP_WAIT_POLICY = "passive"


def main() -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", OPENMP_WAIT_POLICY)
    run_main("llama-mesh inference service", "inference", serve)


if __name__ == "__main__":
    main()
