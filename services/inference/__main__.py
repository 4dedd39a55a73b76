"""The inference service.  `python -m services.inference --distribution local-cpu`"""

from __future__ import annotations

import argparse
import os
from collections.abc import MutableMapping

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


# llama.cpp's CPU backend (OpenMP: libgomp) makes a waiting thread spin at every barrier of a decode step, by default
# for 300,000 rounds. On a machine whose cores are busy with other work a spinning thread takes the core from the one
# it waits for, and a one-token step took up to 30x longer. Sleeping at once (OMP_WAIT_POLICY=passive) cures that but
# costs a quiet machine two thirds of a stream's speed: every barrier then waits for a wake-up. A short spin keeps
# both (SmolLM2 Q4_1, 2 threads on 2 cores, greedy tok/s): quiet 89 (full spin 89, passive 30); beside four CPU hogs
# 15 (full spin 5.5, passive 17). libgomp reads these once, when it loads, so they are set before any model is; an
# operator's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
OPENMP_SPIN_COUNT = "1000"


def set_openmp_waits(environ: MutableMapping[str, str]) -> None:
    """A short OpenMP spin for llama.cpp's threads, unless the environment already says how they wait."""
    if "OMP_WAIT_POLICY" not in environ and "GOMP_SPINCOUNT" not in environ:
        environ["GOMP_SPINCOUNT"] = OPENMP_SPIN_COUNT


def main() -> None:
    set_openmp_waits(os.environ)
    run_main("llama-mesh inference service", "inference", serve)


if __name__ == "__main__":
    main()
