"""TLS and the service token, set up once per process from the distribution (see `configure`).

- The gateway's public endpoint serves TLS with `gateway.tls` (client certificates required when it names a
  client_ca_file); without it, and with mesh TLS, the gateway serves like every service.
- Mesh TLS (`tls:` at the top level) is mutual: every service serves with its certificate and asks for a client
  certificate signed by the mesh CA; every channel a process opens trusts that CA and presents the certificate.
- With auth on, calls a service makes through the gateway carry the token that `gateway.auth.service_token` names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import grpc

from llama_mesh.runtime.config import ConfigError, MeshTLSConfig, RunConfig
from llama_mesh.runtime.secrets import SecretError

GATEWAY_SERVICE = "gateway"
# Calls the gateway only with each of its callers' own tokens (the bearer token of an HTTP request), never with the
# service token: an edge must not give its clients wider rights than theirs.
OPENAI_EDGE_SERVICE = "openai_edge"


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror}") from exc


def _mesh_identity(mesh: MeshTLSConfig | None) -> tuple[bytes | None, bytes | None]:
    if mesh is None:
        return None, None
    return _read(mesh.key_file, "tls.key_file"), _read(mesh.cert_file, "tls.cert_file")


def server_credentials(config: RunConfig, service: str) -> grpc.ServerCredentials | None:
    """What the named process serves with; None: plaintext."""
    public = config.gateway.tls
    if service == GATEWAY_SERVICE and public is not None:
        pair = (_read(public.key_file, "gateway.tls.key_file"), _read(public.cert_file, "gateway.tls.cert_file"))
        client_ca = _read(public.client_ca_file, "gateway.tls.client_ca_file") if public.client_ca_file else None
        return grpc.ssl_server_credentials([pair], root_certificates=client_ca, require_client_auth=bool(client_ca))
    mesh = config.tls
    if mesh is None:
        return None
    key, cert = _mesh_identity(mesh)
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=_read(mesh.ca_file, "tls.ca_file"), require_client_auth=True
    )


def channel_credentials(config: RunConfig, address: str) -> grpc.ChannelCredentials | None:
    """What a channel to `address` (the gateway or a service of the mesh) uses; None: plaintext."""
    mesh = config.tls
    public = config.gateway.tls
    if address == config.gateway.address and public is not None:
        ca_file = public.ca_file or (mesh.ca_file if mesh else "")
        roots = _read(ca_file, "gateway.tls.ca_file") if ca_file else None  # None: the system's roots
        return grpc.ssl_channel_credentials(roots, *_mesh_identity(mesh))
    return mesh_channel_credentials(config)


def mesh_channel_credentials(config: RunConfig) -> grpc.ChannelCredentials | None:
    """mTLS to the services of the mesh (the telemetry receiver included); None without mesh TLS."""
    mesh = config.tls
    if mesh is None:
        return None
    return grpc.ssl_channel_credentials(_read(mesh.ca_file, "tls.ca_file"), *_mesh_identity(mesh))


def service_token(config: RunConfig) -> str:
    """The token services send to the gateway; empty with auth off."""
    auth = config.gateway.auth
    if not auth.enabled:
        return ""
    entry = next(token for token in auth.tokens if token.name == auth.service_token)
    try:
        return entry.secret()
    except SecretError as exc:
        raise ConfigError(f"gateway.auth.service_token: {exc}") from exc


@dataclass
class ProcessSecurity:
    server: grpc.ServerCredentials | None = None
    gateway_address: str = ""
    gateway_token: str = ""
    channels: dict[str, grpc.ChannelCredentials | None] = field(default_factory=dict)
    config: RunConfig | None = None

    def channel_credentials(self, address: str) -> grpc.ChannelCredentials | None:
        if self.config is None:
            return None
        if address not in self.channels:
            self.channels[address] = channel_credentials(self.config, address)
        return self.channels[address]

    def token_for(self, address: str) -> str:
        return self.gateway_token if address == self.gateway_address else ""


_process = ProcessSecurity()


def configure(config: RunConfig, service: str) -> None:
    """Read this process's certificates and service token (ConfigError if one cannot be read)."""
    global _process
    token = service_token(config) if service not in (GATEWAY_SERVICE, OPENAI_EDGE_SERVICE) else ""
    _process = ProcessSecurity(server_credentials(config, service), config.gateway.address, token, config=config)
    channel_credentials(config, config.gateway.address)  # fail now, not on the first call, if a file is missing


def process_security() -> ProcessSecurity:
    return _process
