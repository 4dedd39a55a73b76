"""The vector_io service.  `python -m services.vector_io --distribution local-cpu`"""

from __future__ import annotations

import argparse

from llama.provider.v1 import provider_pb2, provider_pb2_grpc
from llama.vector_io.v1 import vector_io_pb2, vector_io_pb2_grpc
from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.entrypoint import run_main
from llama_mesh.runtime.server import ServiceServer
from services.vector_io.embeddings import GatewayEmbedder
from services.vector_io.providers import VectorStores
from services.vector_io.resource_lifecycle import VectorDBLifecycleServicer
from services.vector_io.servicer import VectorIOServicer


async def serve(config: RunConfig, args: argparse.Namespace) -> None:
    service = config.service(args.service)
    stores = VectorStores.from_config(service.providers, config)
    embedder = GatewayEmbedder(config.gateway.address)
    server = ServiceServer(service.name, service.address)
    server.add_servicer(
        vector_io_pb2_grpc.add_VectorIOServiceServicer_to_server,
        VectorIOServicer(stores, embedder),
        vector_io_pb2.DESCRIPTOR.services_by_name["VectorIOService"].full_name,
    )
    server.add_servicer(
        provider_pb2_grpc.add_ResourceLifecycleServiceServicer_to_server,
        VectorDBLifecycleServicer(stores),
        provider_pb2.DESCRIPTOR.services_by_name["ResourceLifecycleService"].full_name,
    )

    async def shutdown() -> None:
        await embedder.close()
        await stores.close()

    await server.run(startup=stores.start, shutdown=shutdown)


def main() -> None:
    run_main("llama-mesh vector_io service", "vector_io", serve)


if __name__ == "__main__":
    main()
