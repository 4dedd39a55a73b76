"""Bearer-token auth at the gateway: who calls (UNAUTHENTICATED without a known token) and which resources that
caller may use (PERMISSION_DENIED otherwise). Off when the distribution lists no tokens.

Tokens are kept only as SHA-256 digests and never logged or put on spans; the caller's name goes on the call's span.
Health checks and reflection stay open.

The services' token (gateway.auth.service_token), which may act for the caller a service serves (CALLER_HEADER),
counts only from a process of the mesh (mesh_identity.from_mesh_peer): under mesh TLS, a caller whose certificate
names a mesh identity (the gateway's mesh port); without it, anyone holding the token on the loopback mesh. A stolen
or sniffed service token is worth nothing on the public port of an mTLS mesh.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import grpc
from opentelemetry import trace

from llama_mesh.resources import KINDS, ResourceKind
from llama_mesh.runtime.caller import ADMIN_SCOPE, CALLER_HEADER, CALLER_SCOPE_HEADER
from llama_mesh.runtime.config import AuthConfig
from llama_mesh.runtime.errors import PermissionDenied, Unauthenticated
from llama_mesh.runtime.interceptors import BeforeCallInterceptor
from llama_mesh.runtime.mesh_identity import from_mesh_peer
from llama_mesh.runtime.secrets import SecretError
from llama_mesh.runtime.server import StartupError

OPEN_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
_BEARER = "bearer "


@dataclass(frozen=True)
class Caller:
    """A token's holder: its name, and per resource kind the id patterns it may use (None: every resource)."""

    name: str
    patterns: dict[int, tuple[str, ...]] | None
    admin: bool = False  # sees every principal's records (agents, sessions, jobs, traces) and may alias resources

    def may_use(self, kind: ResourceKind, identifier: str) -> bool:
        if self.patterns is None:
            return True
        return any(fnmatchcase(identifier, pattern) for pattern in self.patterns.get(kind.kind, ()))


_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("llama_mesh_caller", default=None)


def may_use(kind: ResourceKind, identifier: str) -> bool:
    """Whether this call's caller may use the resource (always, with auth off)."""
    caller = _caller.get()
    return caller is None or caller.may_use(kind, identifier)


def require_access(kind: ResourceKind, identifier: str, field: str | None = None) -> None:
    """PERMISSION_DENIED unless this call's caller may use the resource; checked before the resource is looked up,
    so a caller learns nothing about resources it may not use. `field`: the request field that names it, where that
    is not the resource's own id (a provider_resource_id)."""
    caller = _caller.get()
    if caller is not None and not caller.may_use(kind, identifier):
        named_by = f" (named by {field})" if field else ""
        raise PermissionDenied(
            f"token {caller.name!r} may not use {kind.name} {identifier!r}{named_by}",
            reason="RESOURCE_NOT_ALLOWED",
            kind=kind.name,
            identifier=identifier,
            field=field,
        )


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


_KINDS_BY_PLURAL = {kind.plural: kind for kind in KINDS}


def _patterns(name: str, resources: Any) -> dict[int, tuple[str, ...]] | None:
    if resources == "all":
        return None
    patterns: dict[int, tuple[str, ...]] = {}
    for plural, ids in resources.items():
        if plural not in _KINDS_BY_PLURAL:
            known = ", ".join(_KINDS_BY_PLURAL)
            raise StartupError(f"gateway.auth token {name!r}: unknown resource kind {plural!r} (use one of {known})")
        patterns[_KINDS_BY_PLURAL[plural].kind] = tuple(ids)
    return patterns


def current_caller() -> Caller | None:
    """This call's caller; None with auth off."""
    return _caller.get()


def caller_headers() -> list[tuple[str, str]]:
    """The headers that name this call's caller (and its admin scope) to a service the gateway calls for it, so that
    the service acts for that caller and keeps its records as that caller's; none with auth off."""
    caller = _caller.get()
    if caller is None:
        return []
    return [(CALLER_HEADER, caller.name), *([(CALLER_SCOPE_HEADER, ADMIN_SCOPE)] if caller.admin else [])]


class TokenTable:
    def __init__(self, config: AuthConfig) -> None:
        self._callers: dict[bytes, Caller] = {}
        self._by_name: dict[str, Caller] = {}
        self._service = config.service_token
        for token in config.tokens:
            try:
                secret = token.secret()
            except SecretError as exc:
                raise StartupError(str(exc)) from exc
            caller = Caller(token.name, _patterns(token.name, token.resources), token.admin)
            self._callers[_digest(secret)] = caller
            self._by_name[token.name] = caller

    def caller(self, metadata: tuple[tuple[str, str | bytes], ...], mesh_peer: bool) -> Caller:
        """The caller the metadata's token names (or, for the services' token, the caller it acts for); `mesh_peer`:
        whether the call came from a process of the mesh, without which the services' token is refused."""
        header = next((value for key, value in metadata if key == "authorization"), None)
        if not isinstance(header, str) or not header.lower().startswith(_BEARER):
            raise Unauthenticated(
                "this gateway needs a token: send the metadata `authorization: Bearer <token>` "
                "(llama-mesh --token / LLAMA_MESH_TOKEN)",
                reason="TOKEN_MISSING",
            )
        digest = _digest(header[len(_BEARER) :].strip())
        caller = next((caller for known, caller in self._callers.items() if hmac.compare_digest(known, digest)), None)
        if caller is None:
            raise Unauthenticated("the token is not valid for this gateway", reason="TOKEN_INVALID")
        if caller.name == self._service and not mesh_peer:
            raise PermissionDenied(
                f"token {caller.name!r} is the mesh services' own: it counts only from a process of the mesh, on the "
                "gateway's mesh port; use a token of your own",
                reason="SERVICE_TOKEN_REFUSED",
            )
        on_behalf_of = next((value for key, value in metadata if key == CALLER_HEADER), "")
        if caller.name != self._service or not on_behalf_of:
            return caller  # only the services' token may act for a caller the gateway named to them
        if on_behalf_of not in self._by_name:
            raise PermissionDenied(f"no token is named {on_behalf_of!r}", reason="UNKNOWN_CALLER")
        return self._by_name[on_behalf_of]


class BearerAuthInterceptor(BeforeCallInterceptor):
    """Authenticates every call except health and reflection; the caller is known to the handler via `may_use`."""

    def __init__(self, tokens: TokenTable) -> None:
        self._tokens = tokens

    def applies_to(self, method: str) -> bool:
        return not method.startswith(OPEN_SERVICES)

    def before(self, context: grpc.aio.ServicerContext) -> None:
        caller = self._tokens.caller(tuple(context.invocation_metadata() or ()), from_mesh_peer())
        _caller.set(caller)
        trace.get_current_span().set_attribute("caller", caller.name)
