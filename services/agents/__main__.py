"""The agents service.  `python -m services.agents --distribution local-cpu`"""

from __future__ import annotations

import argparse
import asyncio
import logging

from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.entrypoint import run_main
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.server import ServiceServer
from services.agents.agent_book import AgentBook
from services.agents.agent_store import AgentStore
from services.agents.batch_jobs import BatchJobs
from services.agents.config import AgentsSettings
from services.agents.response_store import ResponseStore
from services.agents.responses import ResponseBook
from services.agents.servicer import AgentsServicer, ConversationsServicer, ResponsesServicer

log = logging.getLogger(__name__)


def settings_of(config: RunConfig, service_name: str) -> AgentsSettings:
    providers = config.service(service_name).providers
    if len(providers) > 1:
        raise ValueError(f"the agents service takes one provider entry, got {len(providers)}")
    return AgentsSettings.model_validate(providers[0].config if providers else {})


async def serve(config: RunConfig, args: argparse.Namespace) -> None:
    service = config.service(args.service)
    settings = settings_of(config, args.service)
    disk = AgentStore(config.data_path(settings.store))
    memory = AgentStore(":memory:")
    mesh = GatewayClient(config.gateway.address)
    book = AgentBook(mesh, settings, disk, memory)
    jobs = BatchJobs(book, disk)
    response_store = ResponseStore(config.data_path(settings.responses_store))
    responses = ResponseBook(mesh, settings, response_store)

    async def startup() -> None:
        turns = await asyncio.to_thread(book.mark_interrupted)
        batch = await asyncio.to_thread(jobs.mark_interrupted)
        answers = await asyncio.to_thread(responses.mark_interrupted)
        if turns or batch or answers:
            log.warning("marked %d interrupted turns, %d batch jobs and %d responses as failed", turns, batch, answers)

    async def shutdown() -> None:
        await jobs.close()
        await mesh.close()
        disk.close()
        memory.close()
        response_store.close()

    server = ServiceServer(service.name, service.address)
    server.add_api(AgentsServicer(book, jobs))
    server.add_api(ResponsesServicer(responses))
    server.add_api(ConversationsServicer(responses))
    await server.run(startup=startup, shutdown=shutdown)


def main() -> None:
    run_main("llama-mesh agents service", "agents", serve)


if __name__ == "__main__":
    main()
