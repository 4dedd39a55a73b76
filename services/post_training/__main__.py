"""The post-training service.  `python -m services.post_training --distribution local-cpu`

Fine-tunes models registered in the gateway (LoRA or full, and DPO) with TRL and PEFT, each job in its own process;
reads training rows through the gateway (datasetio). Jobs are kept in SQLite under <data_dir>/post_training/,
checkpoints under <data_dir>/post_training/checkpoints/ (servable by the inference service's llama-cpp provider).
"""

from __future__ import annotations

import argparse

from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.entrypoint import run_main
from llama_mesh.runtime.server import ServiceServer
from services.post_training.providers import PostTrainingProviders
from services.post_training.servicer import PostTrainingServicer


async def serve(config: RunConfig, args: argparse.Namespace) -> None:
    service = config.service(args.service)
    providers = PostTrainingProviders.from_config(service.providers, config)
    server = ServiceServer(service.name, service.address)
    server.add_api(PostTrainingServicer(providers))
    await server.run(startup=providers.start, shutdown=providers.close)


def main() -> None:
    run_main("llama-mesh post-training service", "post_training", serve)


if __name__ == "__main__":
    main()
