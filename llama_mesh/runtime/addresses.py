"""Service addresses: where others reach a service, and where its process listens."""

from __future__ import annotations

BIND_HOST_ENV = "LLAMA_MESH_BIND_HOST"
# A port where a process also serves gRPC health alone, in plaintext: for probes (Kubernetes, compose) that cannot
# present a mesh certificate when the mesh runs mTLS.
HEALTH_PORT_ENV = "LLAMA_MESH_HEALTH_PORT"


def listen_address(address: str, bind_host: str | None) -> str:
    """Where to listen for `address` (`host:port`, `[v6]:port` or `dns:///host:port`): the address itself, or
    `bind_host` at its port."""
    if not bind_host:
        return address
    return f"{bind_host}:{address.rsplit(':', 1)[-1]}"


def address_env_var(service: str) -> str:
    """The variable the distributions read a service's address from: LLAMA_MESH_VECTOR_IO_ADDRESS for vector_io."""
    return f"LLAMA_MESH_{service.upper()}_ADDRESS"
