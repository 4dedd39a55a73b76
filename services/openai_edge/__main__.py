"""The OpenAI-compatible HTTP edge.  `python -m services.openai_edge --distribution local-cpu`

Serves OpenAI's HTTP API (uvicorn, on the uvloop event loop every service runs on) at the distribution's
`openai_edge.address` (its port on LLAMA_MESH_BIND_HOST where that is set: containers, pods) and calls the gateway
only, over one shared gRPC channel.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from pathlib import Path

import uvicorn

from llama_mesh.runtime.addresses import BIND_HOST_ENV, listen_address
from llama_mesh.runtime.config import ConfigError, RunConfig
from llama_mesh.runtime.entrypoint import run_main
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.tracing import tracing_enabled
from services.openai_edge.app import create_app
from services.openai_edge.settings import EdgeSettings

# In-flight work (files being added to vector stores) gets this long to finish on shutdown before it is cancelled
# (and found in_progress, then failed, on the next start).
SHUTDOWN_GRACE_SECONDS = 10.0


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"openai_edge.address must be host:port, got {address!r}")
    return host.strip("[]"), int(port)


async def serve(config: RunConfig, args: argparse.Namespace) -> None:
    if config.openai_edge is None:
        raise ConfigError(f"distribution {config.distribution!r} has no openai_edge section")
    try:
        settings = EdgeSettings.model_validate(config.openai_edge.config)
    except ValueError as exc:
        raise ConfigError(f"openai_edge.config: {exc}") from exc
    host, port = split_address(listen_address(config.openai_edge.address, os.environ.get(BIND_HOST_ENV) or None))
    gateway = GatewayClient(config.gateway.address)
    data_dir = Path(config.data_path("openai_edge", "openai_edge.db")).parent
    app = create_app(gateway, settings, data_dir, traced=tracing_enabled())
    await app.state.store.beat()
    await app.state.store.sweep_scratch()
    heartbeat = asyncio.create_task(app.state.store.beat_forever())
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level=args.log_level.lower(), access_log=False, lifespan="off")
    )
    try:
        await server.serve()
    finally:
        tasks = list(app.state.tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        await gateway.close()
        await app.state.store.close()


def main() -> None:
    run_main("llama-mesh OpenAI-compatible HTTP edge", "openai_edge", serve)


if __name__ == "__main__":
    main()
