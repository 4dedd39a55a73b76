"""TLS and the service token, set up once per process from the distribution (see `configure`).

- The gateway's public endpoint serves TLS with `gateway.tls` (client certificates required when it names a
  client_ca_file); without it, and with mesh TLS, the gateway serves like every service.
- Mesh TLS (`tls:` at the top level) is mutual: every service serves with its certificate and asks for a client
  certificate signed by the mesh CA; every channel a process opens trusts that CA and presents the certificate.
- With auth on, calls a service makes through the gateway carry the token that `gateway.auth.service_token` names.
- Services serve only the gateway and their peers (mesh_identity.py): by certificate with mesh TLS, else by the
  per-mesh secret, which every channel to a process of the mesh sends.
- `{service}` in tls.cert_file / tls.key_file is the process's name, so one run.yaml gives each its own certificate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import grpc

from llama_mesh.runtime.config import ConfigError, MeshTLSConfig, RunConfig
from llama_mesh.runtime.mesh_identity import MeshPeerAuth, mesh_secret, peer_metadata
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


def _mesh_identity(mesh: MeshTLSConfig | None, process: str) -> tuple[bytes | None, bytes | None]:
    if mesh is None:
        return None, None
    key_file, cert_file = (path.replace("{service}", process) for path in (mesh.key_file, mesh.cert_file))
    return _read(key_file, "tls.key_file"), _read(cert_file, "tls.cert_file")


def server_credentials(config: RunConfig, service: str) -> grpc.ServerCredentials | None:
    """What the named process serves with; None: plaintext."""
    public = config.gateway.tls
    if service == GATEWAY_SERVICE and public is not None:
        pair = (_read(public.key_file, "gateway.tls.key_file"), _read(public.cert_file, "gateway.tls.cert_file"))
        client_ca = _read(public.client_ca_file, "gateway.tls.client_ca_file") if public.client_ca_file else None
        return grpc.ssl_server_credentials([pair], root_certificates=client_ca, require_client_auth=bool(client_ca))
    mesh = config.tls
    if mesh is None or (service == GATEWAY_SERVICE and config.gateway.plaintext):
        return None
    key, cert = _mesh_identity(mesh, service)
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=_read(mesh.ca_file, "tls.ca_file"), require_client_auth=True
    )


def channel_credentials(
    config: RunConfig, address: str, process: str = GATEWAY_SERVICE
) -> grpc.ChannelCredentials | None:
    """What a channel of `process` to `address` (the gateway or a service of the mesh) uses; None: plaintext. The
    launcher's readiness checks present the gateway's certificate (health checks ask for no identity)."""
    mesh = config.tls
    public = config.gateway.tls
    if address == config.gateway.address and public is None and config.gateway.plaintext:
        return None
    if address == config.gateway.address and public is not None:
        ca_file = public.ca_file or (mesh.ca_file if mesh else "")
        roots = _read(ca_file, "gateway.tls.ca_file") if ca_file else None  # None: the system's roots
        return grpc.ssl_channel_credentials(roots, *_mesh_identity(mesh, process))
    return mesh_channel_credentials(config, process)


def mesh_channel_credentials(config: RunConfig, process: str = GATEWAY_SERVICE) -> grpc.ChannelCredentials | None:
    """mTLS to the services of the mesh (the telemetry receiver included); None without mesh TLS."""
    mesh = config.tls
    if mesh is None:
        return None
    return grpc.ssl_channel_credentials(_read(mesh.ca_file, "tls.ca_file"), *_mesh_identity(mesh, process))


def mesh_addresses(config: RunConfig) -> frozenset[str]:
    """Where the processes of the mesh are reached: the only addresses the mesh secret is sent to."""
    return frozenset([config.gateway.address, *(service.address for service in config.services)])


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
    process: str = GATEWAY_SERVICE
    secret: str = field(default="", repr=False)

    def channel_credentials(self, address: str) -> grpc.ChannelCredentials | None:
        if self.config is None:
            return None
        if address not in self.channels:
            self.channels[address] = channel_credentials(self.config, address, self.process)
        return self.channels[address]

    def token_for(self, address: str) -> str:
        return self.gateway_token if address == self.gateway_address else ""

    def peer_metadata_for(self, address: str) -> tuple[tuple[str, str], ...]:
        """The proof of this process's identity a call to `address` carries: the mesh secret, and only to the mesh."""
        if self.config is None or self.config.tls is not None or address not in mesh_addresses(self.config):
            return ()
        return peer_metadata(self.process, self.secret)

    def server_interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        """A service's check of who calls it (the gateway authenticates its own callers by token)."""
        if self.config is None or self.process == GATEWAY_SERVICE:
            return []
        tls = self.config.tls
        if tls is None:
            return [MeshPeerAuth(secret=self.secret, tls=False)]
        return [MeshPeerAuth(secret=self.secret, tls=True, trust_domain=tls.trust_domain)]


_process = ProcessSecurity()


def configure(config: RunConfig, service: str) -> None:
    """Read this process's certificates, service token and mesh secret (ConfigError if one cannot be read, or if a
    service would serve without either mesh TLS or the secret)."""
    global _process
    token = service_token(config) if service not in (GATEWAY_SERVICE, OPENAI_EDGE_SERVICE) else ""
    try:
        secret = mesh_secret()
    except SecretError as exc:
        raise ConfigError(str(exc)) from exc
    _process = ProcessSecurity(
        server_credentials(config, service),
        config.gateway.address,
        token,
        config=config,
        process=service,
        secret=secret,
    )
    channel_credentials(config, config.gateway.address, service)  # fail now, not on the first call, if one is missing
    try:
        _process.server_interceptors()
    except SecretError as exc:
        raise ConfigError(f"{service}: {exc}") from exc


def process_security() -> ProcessSecurity:
    return _process
