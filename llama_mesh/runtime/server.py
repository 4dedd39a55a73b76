"""The one server bootstrap every service and the gateway use.

grpc.aio server with raised message limits, error mapping and tracing interceptors, gRPC health (`""` is liveness and
SERVING as soon as the port is open; each service name is readiness and SERVING once start-up work is done;
everything NOT_SERVING while draining), server reflection, and graceful shutdown on SIGTERM / SIGINT.

A service's address is where others reach it; in a container or a pod that name (`inference:50061`) is not one the
process can listen on, so LLAMA_MESH_BIND_HOST (e.g. `0.0.0.0`) makes it listen on that host at the address's port.
The gateway may serve a second port, its mesh port (gateway.mesh_address, mTLS only): the same APIs and health, behind
a check that admits only the mesh's processes (transport_security.ProcessSecurity.mesh_port).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from llama_mesh.runtime.addresses import BIND_HOST_ENV, HEALTH_PORT_ENV, listen_address
from llama_mesh.runtime.caller import CallerCapture
from llama_mesh.runtime.channels import CHANNEL_OPTIONS
from llama_mesh.runtime.interceptors import ErrorMappingInterceptor
from llama_mesh.runtime.metrics import metrics_interceptors
from llama_mesh.runtime.tracing import server_interceptors
from llama_mesh.runtime.transport_security import process_security

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]
Creds = grpc.ServerCredentials | None


class StartupError(Exception):
    """Start-up work failed; the process exits with a message instead of serving half-ready."""


@dataclass
class ServiceServer:
    """Collects servicers, then serves them until a termination signal."""

    name: str
    address: str
    grace_seconds: float = 5.0
    bind_host: str | None = field(default_factory=lambda: os.environ.get(BIND_HOST_ENV) or None)
    _registrations: list[Callable[[grpc.aio.Server], None]] = field(default_factory=list)
    _service_names: list[str] = field(default_factory=list)
    bound_port: int | None = None
    mesh_port: int | None = None  # the gateway's mesh port, where it serves one
    health_port: int = field(default_factory=lambda: int(os.environ.get(HEALTH_PORT_ENV) or 0))
    # Run after error mapping, so that their MeshErrors become statuses (the gateway's auth).
    interceptors: list[grpc.aio.ServerInterceptor] = field(default_factory=list)
    # SO_REUSEPORT: off, so a port another process holds (a second mesh) stops start-up instead of splitting the
    # traffic between two servers; on only for deliberate sharing (several worker processes of one gateway).
    reuse_port: bool = False

    def add_servicer(
        self, add_to_server: Callable[[object, grpc.aio.Server], None], servicer: object, service_full_name: str
    ) -> None:
        """Register a generated `add_XServicer_to_server` function with its servicer."""
        self._registrations.append(lambda server: add_to_server(servicer, server))
        self._service_names.append(service_full_name)

    def add_api(self, servicer: object) -> None:
        """Serve `servicer`, an instance of a subclass of a generated `<Name>Servicer` (its module and full service
        name are read from that base class)."""
        base = next(
            (
                cls
                for cls in type(servicer).__mro__
                if cls.__module__.endswith("_pb2_grpc") and cls.__name__.endswith("Servicer")
            ),
            None,
        )
        if base is None:
            raise TypeError(f"{type(servicer).__name__} does not subclass a generated gRPC servicer")
        generated = sys.modules[base.__module__]
        messages = importlib.import_module(base.__module__.removesuffix("_grpc"))
        full_name = messages.DESCRIPTOR.services_by_name[base.__name__.removesuffix("Servicer")].full_name
        self.add_servicer(getattr(generated, f"add_{base.__name__}_to_server"), servicer, full_name)

    def add_generic_handlers(self, handlers: Iterable[grpc.GenericRpcHandler], service_names: Iterable[str]) -> None:
        handler_list = list(handlers)
        self._registrations.append(lambda server: server.add_generic_rpc_handlers(handler_list))
        self._service_names.extend(service_names)

    def _server(
        self, security: list[grpc.aio.ServerInterceptor], health: HealthServicer, address: str, credentials: Creds
    ) -> tuple[grpc.aio.Server, int]:
        """A server of every registered API and health on `address`, `security` checking its callers; and its port."""
        # Outermost first: tracing, RPC metrics (they see the status error mapping gives), error mapping, the rest.
        interceptors = [
            *server_interceptors(),
            *metrics_interceptors(),
            ErrorMappingInterceptor(),
            *security,  # who may call: the gateway, peers for span export; on the gateway, mesh processes or not
            CallerCapture(),
            *self.interceptors,
        ]
        options = [*CHANNEL_OPTIONS, ("grpc.so_reuseport", int(self.reuse_port))]
        server = grpc.aio.server(interceptors=interceptors, options=options)
        for register in self._registrations:
            register(server)
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        reflection.enable_server_reflection(
            [*self._service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
            server,
        )
        listen = listen_address(address, self.bind_host)
        try:
            port = (
                server.add_insecure_port(listen) if credentials is None else server.add_secure_port(listen, credentials)
            )
        except RuntimeError:
            port = 0
        if not port:
            raise StartupError(f"{self.name}: cannot listen on {listen} (is another process, or mesh, using it?)")
        log.info(
            "%s listening on %s (port %s, %s)", self.name, listen, port, "plaintext" if credentials is None else "TLS"
        )
        return server, port

    async def run(self, startup: Hook | None = None, shutdown: Hook | None = None) -> None:
        security = process_security()
        health = HealthServicer()
        server, self.bound_port = self._server(security.server_interceptors(), health, self.address, security.server)
        servers = [server]
        mesh_port = security.mesh_port()
        if mesh_port is not None:
            mesh_address, mesh_credentials, mesh_check = mesh_port
            mesh_server, self.mesh_port = self._server(mesh_check, health, mesh_address, mesh_credentials)
            servers.append(mesh_server)
        for service_name in [self.name, *self._service_names]:
            await health.set(service_name, health_pb2.HealthCheckResponse.NOT_SERVING)
        health_only = self._health_only_server(health)
        for each in servers:
            await each.start()
        if health_only is not None:
            await health_only.start()

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            if startup is not None:
                await startup()
            for service_name in [self.name, *self._service_names]:
                await health.set(service_name, health_pb2.HealthCheckResponse.SERVING)
            log.info("%s ready", self.name)
            await stop.wait()
        finally:
            log.info("%s draining", self.name)
            await health.enter_graceful_shutdown()
            await asyncio.gather(*(each.stop(self.grace_seconds) for each in servers))
            if health_only is not None:
                await health_only.stop(None)
            if shutdown is not None:
                await shutdown()
            log.info("%s stopped", self.name)

    def _health_only_server(self, health: HealthServicer) -> grpc.aio.Server | None:
        """With LLAMA_MESH_HEALTH_PORT: the same health statuses, alone and in plaintext, on that port."""
        if not self.health_port:
            return None
        server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        listen = f"{self.bind_host or '127.0.0.1'}:{self.health_port}"
        if not server.add_insecure_port(listen):
            raise StartupError(f"{self.name}: cannot serve health checks on {listen}")
        log.info("%s serves health checks alone on %s (plaintext)", self.name, listen)
        return server
