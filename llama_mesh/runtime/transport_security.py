"""TLS and the service token, set up once per process from the distribution (see `configure`).

- The gateway's public endpoint serves TLS with `gateway.tls` (client certificates required when it names a
  client_ca_file); without it, and with mesh TLS, the gateway serves like every service.
- Mesh TLS (`tls:` at the top level) is mutual: every service serves with its certificate and asks for a client
  certificate signed by the mesh CA; every channel a process opens trusts that CA and presents the certificate.
- With auth on, calls a service makes through the gateway carry the token that `gateway.auth.service_token` names.
- With mesh TLS and gateway.mesh_address, the gateway also serves that address with mesh mTLS only; services call the
  gateway there (checking its certificate like any of the mesh's), and the gateway honours the service token only
  from a caller that proved a mesh identity (mesh_identity.GatewayPeerCheck). The edge keeps the public address.
- Services serve only the gateway and their peers (mesh_identity.py): by certificate with mesh TLS, else by the
  per-mesh secret, which every channel to a process of the mesh sends.
- `{service}` in tls.cert_file / tls.key_file is the process's name, so one run.yaml gives each its own certificate.
- Renewed mesh certificates are used without a restart: servers read the files again (grpc's dynamic credentials)
  for the first handshake after they change on disk, and the channels of `channels.LazyChannel` are opened again
  with them within RENEWAL_CHECK_INTERVAL_S (in-flight calls finish on the old ones). cert-manager renews a mounted
  Secret in place; `make certs ARGS=--force` rewrites the files. The span exporter's channel and gateway.tls keep
  the files read at start.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from llama_mesh.runtime.config import ConfigError, MeshTLSConfig, RunConfig
from llama_mesh.runtime.mesh_identity import GatewayPeerCheck, MeshPeerAuth, mesh_secret, peer_metadata
from llama_mesh.runtime.secrets import SecretError

log = logging.getLogger(__name__)

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
    return _mesh_server_credentials(mesh, service)


class MeshFiles:
    """A process's mesh TLS files (CA, certificate, key), and whether they changed on disk since last asked."""

    def __init__(self, mesh: MeshTLSConfig, process: str) -> None:
        self.mesh = mesh
        self.process = process
        own = (path.replace("{service}", process) for path in (mesh.cert_file, mesh.key_file))
        self._paths = [Path(path).expanduser() for path in (mesh.ca_file, *own)]
        self._seen = self._signature()

    def _signature(self) -> tuple[tuple[int, int, int] | None, ...]:
        """What tells a rewritten file (a renewed Secret is a new file behind the same name): its inode, size and
        modification time; None for a file that cannot be read now (mid-renewal)."""
        signature = []
        for path in self._paths:
            try:
                stat = os.stat(path)
            except OSError:
                signature.append(None)
                continue
            signature.append((stat.st_ino, stat.st_size, stat.st_mtime_ns))
        return tuple(signature)

    def changed(self) -> bool:
        """Whether the files changed since the last call that said so (or since they were first read); files that
        cannot all be read count as unchanged until they can."""
        signature = self._signature()
        if signature == self._seen or None in signature:
            return False
        self._seen = signature
        return True

    def server_configuration(self) -> grpc.ServerCertificateConfiguration:
        key, cert = _mesh_identity(self.mesh, self.process)
        return grpc.ssl_server_certificate_configuration(
            [(key, cert)], root_certificates=_read(self.mesh.ca_file, "tls.ca_file")
        )

    def renewed_server_configuration(self) -> grpc.ServerCertificateConfiguration | None:
        """The files read again if they changed, for grpc's fetcher (None: keep serving the current ones)."""
        if not self.changed():
            return None
        try:
            configuration = self.server_configuration()
        except ConfigError as exc:
            log.warning("%s: renewed mesh certificate not used: %s", self.process, exc)
            return None
        log.info("%s: serving with the renewed mesh certificate", self.process)
        return configuration


def _mesh_server_credentials(mesh: MeshTLSConfig, service: str) -> grpc.ServerCredentials:
    """mTLS with the process's mesh certificate, asking for a client certificate of the mesh CA; the files are read
    again for the first handshake after they change."""
    files = MeshFiles(mesh, service)
    return grpc.dynamic_ssl_server_credentials(
        files.server_configuration(), files.renewed_server_configuration, require_client_authentication=True
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


def gateway_address_for(config: RunConfig, process: str) -> str:
    """Where `process` calls the gateway: its mesh port for the services (when it has one), else its address."""
    if process in (GATEWAY_SERVICE, OPENAI_EDGE_SERVICE) or not config.gateway.mesh_address:
        return config.gateway.address
    return config.gateway.mesh_address


# How often a process's channels look at its mesh files for a renewal: LazyChannel.get (every call a process makes,
# every call the gateway forwards) asks, and three os.stat calls per call would be a cost for nothing.
RENEWAL_CHECK_INTERVAL_S = 1.0

MeshPort = tuple[str, grpc.ServerCredentials, list[grpc.aio.ServerInterceptor]]


@dataclass
class ProcessSecurity:
    server: grpc.ServerCredentials | None = None
    gateway_address: str = ""
    gateway_token: str = ""
    channels: dict[str, grpc.ChannelCredentials | None] = field(default_factory=dict)
    config: RunConfig | None = None
    process: str = GATEWAY_SERVICE
    secret: str = field(default="", repr=False)
    generation: int = 0  # how many times the mesh files were renewed: channels opened before are opened again
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _files: MeshFiles | None = field(default=None, repr=False)
    _next_check: float = field(default=float("-inf"), repr=False)
    _mesh_port: MeshPort | None = field(default=None, repr=False)

    def credentials_generation(self) -> int:
        """The current generation of this process's mesh files; a renewal on disk is noticed within
        RENEWAL_CHECK_INTERVAL_S (the files are looked at no more often)."""
        now = self.clock()
        if now >= self._next_check:
            self._next_check = now + RENEWAL_CHECK_INTERVAL_S
            self.check_renewal()
        return self.generation

    def check_renewal(self) -> int:
        """Look at the mesh files now: a renewal drops the credentials made from the old files and starts a new
        generation. The generation after the check."""
        if self._files is None and self.config is not None and self.config.tls is not None:
            self._files = MeshFiles(self.config.tls, self.process)
        if self._files is not None and self._files.changed():
            self.channels.clear()
            self.generation += 1
            log.info("%s: opening channels with the renewed mesh certificate", self.process)
        return self.generation

    def target(self, address: str) -> str:
        """Where a channel to `address` goes: a service's to the gateway goes to the gateway's mesh port if it has
        one (GatewayClient and every other caller name the gateway by its address)."""
        if self.config is not None and address == self.config.gateway.address:
            return self.gateway_address
        return address

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
        """A service's check of who calls it; on the gateway's port, whether its caller is a process of the mesh (the
        gateway authenticates its callers by token, and believes the service token only from such a process)."""
        if self.config is None:
            return []
        tls = self.config.tls
        if self.process == GATEWAY_SERVICE:
            if tls is None:
                return [GatewayPeerCheck(trusted=True, certificates=False)]
            served_by_mesh_tls = self.config.gateway.tls is None and not self.config.gateway.plaintext
            return [GatewayPeerCheck(trusted=False, certificates=served_by_mesh_tls, trust_domain=tls.trust_domain)]
        if tls is None:
            return [MeshPeerAuth(secret=self.secret, tls=False)]
        return [MeshPeerAuth(secret=self.secret, tls=True, trust_domain=tls.trust_domain)]

    def mesh_port(self) -> MeshPort | None:
        """The gateway's mesh port: its address, credentials and check (only mesh identities); None if it has none.
        Built once (configure builds it, to fail early on a missing file; the server uses that one)."""
        config = self.config
        mesh = config.tls if config is not None else None
        if config is None or mesh is None or self.process != GATEWAY_SERVICE or not config.gateway.mesh_address:
            return None
        if self._mesh_port is None:
            check = GatewayPeerCheck(trusted=False, certificates=True, required=True, trust_domain=mesh.trust_domain)
            self._mesh_port = (config.gateway.mesh_address, _mesh_server_credentials(mesh, GATEWAY_SERVICE), [check])
        return self._mesh_port


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
        gateway_address_for(config, service),
        token,
        config=config,
        process=service,
        secret=secret,
    )
    # fail now, not on the first call, if a file is missing (both are kept for the first channel and the server)
    _process.channel_credentials(_process.gateway_address)
    _process.mesh_port()
    try:
        _process.server_interceptors()
    except SecretError as exc:
        raise ConfigError(f"{service}: {exc}") from exc


def process_security() -> ProcessSecurity:
    return _process
