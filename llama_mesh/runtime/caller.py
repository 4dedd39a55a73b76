"""Whose call a service is serving: so that the calls it makes through the gateway on that caller's behalf are
limited to what the caller may use, and so that the records it keeps (agents, sessions, jobs, traces) have an owner.

The gateway names the authenticated caller in the CALLER_HEADER of every call it forwards, and CALLER_SCOPE_HEADER
`admin` for a token with the admin scope (it drops every `llama-mesh-` header that clients send). Services believe
these only from the gateway (mesh_identity.py refuses them from anyone else). Each service keeps them for the call it
serves (CallerCapture), and its channels to the gateway send the caller back with the service token; the gateway then
applies that caller's resources instead of the service token's.

With auth off at the gateway no caller is named: every record is everyone's.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

import grpc

from llama_mesh.runtime.interceptors import BeforeCallInterceptor

CALLER_HEADER = "llama-mesh-caller"
CALLER_SCOPE_HEADER = "llama-mesh-caller-scope"
ADMIN_SCOPE = "admin"


@dataclass(frozen=True)
class Principal:
    name: str = ""  # empty: auth is off
    admin: bool = False


_NOBODY = Principal()
_caller: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("llama_mesh_on_behalf_of", default=None)


def current_principal() -> Principal:
    """The caller this task serves (a nameless one with auth off)."""
    return _caller.get() or _NOBODY


def on_behalf_of() -> str:
    """The caller named by the gateway for the call this task serves; empty if none."""
    return current_principal().name


def record_owner() -> str:
    """The owner of a record this call creates: its caller ('' with auth off)."""
    return current_principal().name


def owner_filter() -> str | None:
    """Whose records this call may see: its caller's, or None for every record (auth off, or an admin caller)."""
    principal = current_principal()
    return None if principal.admin or not principal.name else principal.name


def may_see(owner: str) -> bool:
    """Whether this call's caller may see a record of `owner` (others get NOT_FOUND, as if it did not exist)."""
    wanted = owner_filter()
    return wanted is None or wanted == owner


def acting_for(principal: Principal) -> contextvars.Token[Principal | None]:
    """Serve the rest of this task for `principal` (tests, and work resumed for a stored owner)."""
    return _caller.set(principal)


class CallerCapture(BeforeCallInterceptor):
    """Keeps the CALLER_HEADER (and the admin scope) of each incoming call for the calls made while serving it."""

    def before(self, context: grpc.aio.ServicerContext) -> None:
        metadata = tuple(context.invocation_metadata() or ())
        name = next((value for key, value in metadata if key == CALLER_HEADER), "")
        scope = next((value for key, value in metadata if key == CALLER_SCOPE_HEADER), "")
        name = name if isinstance(name, str) else ""
        _caller.set(Principal(name, admin=bool(name) and scope == ADMIN_SCOPE))
