"""The gateway: the resource registry, inspect, and the proxy to every API's service.  `python -m gateway`"""

from __future__ import annotations

import argparse
import logging

from google.protobuf import json_format

from gateway.auth import BearerAuthInterceptor, TokenTable
from gateway.backends import Backends
from gateway.inspect_servicer import InspectServicer
from gateway.proxy import GatewayProxy
from gateway.registry_servicer import SERVICE_NAME as REGISTRY_SERVICE
from gateway.registry_servicer import Registry, registry_handler
from gateway.registry_store import make_registry_store
from gateway.resource_lifecycle import ResourceLifecycle
from gateway.router import Router
from llama_mesh.resources import KIND_BY_NAME
from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.entrypoint import run_main
from llama_mesh.runtime.errors import AlreadyExists, MeshError
from llama_mesh.runtime.server import ServiceServer, StartupError

log = logging.getLogger("gateway")


async def preregister(registry: Registry, config: RunConfig) -> None:
    """Register the distribution's resources that are not in the registry yet. The services are not asked to prepare
    them: they may still be starting, and they load what their own config lists."""
    for plural, items in config.resources.model_dump().items():
        kind = KIND_BY_NAME[plural[:-1]]
        for item in items:
            resource = json_format.ParseDict(item, kind.message())
            try:
                await registry.register(kind, resource, prepare=False)
            except AlreadyExists:
                continue
            except MeshError as exc:
                raise StartupError(
                    f"cannot pre-register {kind.name} {item.get('identifier')!r}: {exc.message}"
                ) from exc


async def serve(config: RunConfig, args: argparse.Namespace, reuse_port: bool = False) -> None:
    """Serve until a termination signal. `reuse_port`: share the port with other processes that set it too (several
    workers of one gateway; a second mesh, which does not, still fails to start)."""
    store = make_registry_store(config)
    backends = Backends()
    registry = Registry(store, config, ResourceLifecycle(config, backends))
    proxy = GatewayProxy(Router(config, store), backends, config.gateway.default_forward_timeout_s)
    server = ServiceServer("gateway", config.gateway.address, reuse_port=reuse_port)
    if config.gateway.auth.enabled:
        server.interceptors.append(BearerAuthInterceptor(TokenTable(config.gateway.auth)))
    server.add_generic_handlers([registry_handler(registry)], [REGISTRY_SERVICE])
    server.add_api(InspectServicer(config, backends))
    server.add_generic_handlers(proxy.handlers(), proxy.service_names())

    async def startup() -> None:
        await store.open()
        await preregister(registry, config)

    async def shutdown() -> None:
        await backends.close()
        await store.close()

    await server.run(startup, shutdown)


def main() -> None:
    run_main("llama-mesh gateway", "gateway", serve)


if __name__ == "__main__":
    main()
