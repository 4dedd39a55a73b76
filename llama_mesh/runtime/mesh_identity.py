"""Who may call a service of the mesh: the gateway, and (for the span receiver only) a peer service; nobody else.

Every service gets this from ServiceServer, with no code of its own. A caller proves which process of the mesh it is:
- with mesh TLS (`tls:` in the distribution), by its client certificate: the mesh CA signed it and it carries the URI
  SAN `spiffe://<trust_domain>/<process>` (`spiffe://llama-mesh/gateway` for the gateway);
- without it, by the per-mesh secret (LLAMA_MESH_SECRET, or a file named by LLAMA_MESH_SECRET_FILE) that the launcher
  makes at start-up: every channel a process opens to the mesh sends it, with the process's name, and services
  compare it in constant time.

Only the gateway may call the APIs, send internal metadata (the resolved resource, the caller it acts for) and call
ResourceLifecycleService; a peer service may only export spans and metrics. Health checks stay open: they say only
whether a service serves, and probes (k8s, compose) call them without a mesh identity. Without TLS and without a
secret a service does not start.

The gateway, with mesh TLS, also serves a port of its own to the mesh's processes (gateway.mesh_address), mTLS only:
GatewayPeerCheck refuses there any caller without a mesh identity, and notes for the gateway's token check whether
the call came from one (`from_mesh_peer`): the services' token counts only then.
"""

from __future__ import annotations

import contextvars
import hmac
import os
from typing import Any

import grpc

from llama_mesh.runtime.errors import PermissionDenied, Unauthenticated
from llama_mesh.runtime.interceptors import BeforeCallInterceptor
from llama_mesh.runtime.secrets import SecretError, read_secret

SECRET_ENV = "LLAMA_MESH_SECRET"
SECRET_FILE_ENV = "LLAMA_MESH_SECRET_FILE"
PEER_HEADER = "llama-mesh-peer"
SECRET_HEADER = "llama-mesh-peer-secret"
GATEWAY = "gateway"
DEFAULT_TRUST_DOMAIN = "llama-mesh"
# Left open: health checks (they tell only SERVING / NOT_SERVING).
OPEN_METHODS = ("/grpc.health.v1.Health/",)
# What a peer service (not the gateway) may call: the OTLP receivers, for the spans and metrics it exports.
PEER_METHODS = ("/opentelemetry.proto.collector.",)
INTERNAL_PREFIX = "llama-mesh-"


def spiffe_id(process: str, trust_domain: str = DEFAULT_TRUST_DOMAIN) -> str:
    """The URI SAN a mesh certificate carries for `process` (gateway, inference, ...)."""
    return f"spiffe://{trust_domain}/{process}"


def mesh_secret(environ: dict[str, str] | None = None) -> str:
    """The per-mesh secret from LLAMA_MESH_SECRET or the file LLAMA_MESH_SECRET_FILE names; empty if neither is set."""
    env = os.environ if environ is None else environ
    if env.get(SECRET_ENV):
        return env[SECRET_ENV]
    if env.get(SECRET_FILE_ENV):
        return read_secret(SECRET_FILE_ENV, file=env[SECRET_FILE_ENV])
    return ""


def _metadata(context: grpc.aio.ServicerContext) -> tuple[tuple[str, Any], ...]:
    return tuple(context.invocation_metadata() or ())


def certificate_identities(context: grpc.aio.ServicerContext, prefix: str) -> list[str]:
    """The mesh processes the caller's certificate names (its URI SANs under `prefix`, spiffe://<trust domain>/);
    the server verified the certificate against the mesh CA."""
    auth = context.auth_context() or {}
    sans = [value.decode(errors="replace") for value in auth.get("peer_uri", ())]
    return [san.removeprefix(prefix) for san in sans if san.startswith(prefix)]


def not_a_mesh_peer(context: grpc.aio.ServicerContext, serves: str) -> Unauthenticated | PermissionDenied:
    """The error for a caller whose certificate (if any) names no mesh identity; `serves`: whom the port serves."""
    if not (context.auth_context() or {}).get("x509_pem_cert"):
        return Unauthenticated(f"{serves}: present a mesh certificate", reason="NOT_A_MESH_PEER")
    return PermissionDenied(
        f"{serves}: the client certificate names no mesh identity (a URI SAN spiffe://<trust domain>/<process>)",
        reason="NOT_A_MESH_PEER",
    )


class MeshPeerAuth(BeforeCallInterceptor):
    """Serves a call only if its caller proved it is the gateway, or a peer service calling a PEER_METHODS method;
    UNAUTHENTICATED without proof, PERMISSION_DENIED for a proven caller that may not make the call."""

    def __init__(self, *, secret: str, tls: bool, trust_domain: str = DEFAULT_TRUST_DOMAIN) -> None:
        if not secret and not tls:
            raise SecretError(
                f"this service would serve anyone: give the mesh a secret ({SECRET_ENV} or {SECRET_FILE_ENV}; "
                "`make up` and LocalMesh make one) or mesh TLS (`tls:` in the distribution)"
            )
        self._secret = secret.encode()
        self._tls = tls
        self._prefix = f"spiffe://{trust_domain}/"

    def applies_to(self, method: str) -> bool:
        return not method.startswith(OPEN_METHODS)

    def _from_certificate(self, context: grpc.aio.ServicerContext) -> str:
        names = certificate_identities(context, self._prefix)
        if not names:
            raise not_a_mesh_peer(context, "this service serves only the gateway and its peer services")
        return GATEWAY if GATEWAY in names else names[0]

    def _from_secret(self, context: grpc.aio.ServicerContext) -> str:
        metadata = _metadata(context)
        given = next((value for key, value in metadata if key == SECRET_HEADER), "")
        if not isinstance(given, str) or not given or not hmac.compare_digest(given.encode(), self._secret):
            raise Unauthenticated(
                "this service serves only the gateway and its peer services; call it through the gateway",
                reason="NOT_A_MESH_PEER",
            )
        peer = next((value for key, value in metadata if key == PEER_HEADER), "")
        return peer if isinstance(peer, str) and peer else "unnamed"

    def before_method(self, context: grpc.aio.ServicerContext, method: str) -> None:
        peer = self._from_certificate(context) if self._tls else self._from_secret(context)
        if peer == GATEWAY:
            return
        internal = sorted(
            {key for key, _ in _metadata(context) if key.startswith(INTERNAL_PREFIX)} - {PEER_HEADER, SECRET_HEADER}
        )
        if internal:
            raise PermissionDenied(
                f"internal metadata ({', '.join(internal)}) is honoured only from the gateway",
                reason="INTERNAL_METADATA_REFUSED",
            )
        if not method.startswith(PEER_METHODS):
            raise PermissionDenied(
                f"{method} is served only to the gateway; call it through the gateway", reason="GATEWAY_ONLY"
            )


def peer_metadata(process: str, secret: str) -> tuple[tuple[str, str], ...]:
    """What a channel of `process` sends to the mesh in secret mode (nothing with mesh TLS: the certificate says)."""
    return ((PEER_HEADER, process), (SECRET_HEADER, secret)) if secret else ()


_mesh_peer: contextvars.ContextVar[bool] = contextvars.ContextVar("llama_mesh_from_mesh_peer", default=False)


def from_mesh_peer() -> bool:
    """Whether the call the gateway serves came from a process of the mesh (see GatewayPeerCheck)."""
    return _mesh_peer.get()


class GatewayPeerCheck(BeforeCallInterceptor):
    """On each port of the gateway: whether its caller is a process of the mesh (`from_mesh_peer`).

    - `trusted` (no mesh TLS: `make up`'s loopback mesh): every caller counts as one, as before mesh TLS;
    - `certificates` (the port asks for client certificates of the mesh CA): a caller whose certificate names a
      mesh identity; `required` (the mesh port): nobody else is served (health checks aside);
    - neither (the public port in plaintext or with gateway.tls, under mesh TLS): no caller is one.
    """

    def __init__(
        self, *, trusted: bool, certificates: bool, required: bool = False, trust_domain: str = DEFAULT_TRUST_DOMAIN
    ) -> None:
        self._trusted = trusted
        self._certificates = certificates
        self._required = required
        self._prefix = f"spiffe://{trust_domain}/"

    def applies_to(self, method: str) -> bool:
        return not method.startswith(OPEN_METHODS)

    def before(self, context: grpc.aio.ServicerContext) -> None:
        peer = self._trusted or (self._certificates and bool(certificate_identities(context, self._prefix)))
        if self._required and not peer:
            raise not_a_mesh_peer(context, "the gateway's mesh port serves only the processes of the mesh")
        _mesh_peer.set(peer)
