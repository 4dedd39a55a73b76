"""The one way a service contacts a URL it was given (a RAG document, an MCP server, a web search API): resolve the
host once, check every address it answers, and connect to the checked address, so that a name that answers a public
address to the check and a loopback one to the connection (DNS rebinding) reaches nothing it should not.

`pinned_client(policy)` is an httpx client whose transport does this for every request it sends (each redirect hop
included): the URL's host is replaced by the checked address, the `Host` header and the TLS server name (SNI, and the
certificate check) stay the original host's. `pinned_client_factory` makes the same for the MCP SDK's `httpx2`.
Addresses that are not public are refused: private, loopback, link-local, multicast, reserved, and the IPv6 forms
that embed an IPv4 address (IPv4-mapped and -compatible `::a.b.c.d`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4
`2002::/16`, Teredo `2001::/32`), whatever address they embed. Hosts the operator trusts skip the check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import httpx

from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument, MeshError

if TYPE_CHECKING:  # httpx2 (the MCP SDK's client) is imported only by the services that speak MCP
    from llama_mesh.runtime.response_caps import ResponseCap

# IPv6 prefixes whose addresses carry an IPv4 address (or tunnel to one): never public for this guard.
_EMBEDDING_IPV4 = tuple(
    ipaddress.ip_network(prefix)
    for prefix in ("::ffff:0:0/96", "::/96", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32")
)

log = logging.getLogger(__name__)


def is_public(address: str) -> bool:
    """Whether `address` (an IP literal) is a public unicast address that embeds no IPv4 address."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and any(ip in prefix for prefix in _EMBEDDING_IPV4):
        return False
    return ip.is_global and not ip.is_multicast


def split_hosts(value: object) -> object:
    """A comma-separated string of hosts (one environment variable) as a list; anything else as it is."""
    if isinstance(value, str):
        return [item.strip().lower() for item in value.split(",") if item.strip()]
    return value


@dataclass(frozen=True)
class UrlPolicy:
    """Which hosts a fetch may reach: public addresses only, except hosts the operator trusts (`allowed_hosts`, as
    written in URLs) or, with `allow_private`, every host. `field` names the request field errors point at;
    `unresolved_reason` / `unresolved_error` are what a host that does not resolve (or a refused connection) is."""

    field: str
    unresolved_reason: str
    unresolved_error: type[MeshError] = FailedPrecondition
    allowed_hosts: Collection[str] = dataclass_field(default_factory=frozenset)
    allow_private: bool = False

    def trusts(self, host: str) -> bool:
        return self.allow_private or host.lower().strip("[]") in self.allowed_hosts


def check_http_url(uri: str, field_name: str) -> tuple[str, int]:
    """The host and port of an http(s) URL; anything else is INVALID_ARGUMENT."""
    parsed = urlparse(uri)
    if "\x00" in uri or parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidArgument(field_name, f"{uri[:200]!r} is not an http(s) URL")
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError as exc:
        raise InvalidArgument(field_name, f"{uri[:200]!r} has an invalid port") from exc
    return parsed.hostname, port


async def checked_address(host: str, port: int, policy: UrlPolicy) -> str:
    """The one address of `host` to connect to, after checking every address it resolves to (one lookup)."""
    try:
        infos = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise policy.unresolved_error(
            f"{policy.field}: cannot resolve {host!r}", reason=policy.unresolved_reason
        ) from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    private = [address for address in addresses if not is_public(address)]
    if private or not addresses:
        log.info("refused %s: it resolves to %s", host, ", ".join(private) or "nothing")  # the caller gets no address
        raise InvalidArgument(
            policy.field,
            f"{host!r} is or resolves to a non-public address; this service does not contact those unless its "
            "provider config allows the host",
            reason="URL_NOT_ALLOWED",
        )
    return addresses[0]


async def check_public_url(uri: str, policy: UrlPolicy) -> None:
    """Refuses (INVALID_ARGUMENT, URL_NOT_ALLOWED) a URL whose host is or resolves to a non-public address, without
    connecting to it; for an early, clear refusal (at registration). The connection itself goes through a pinned
    client, which checks again the address it connects to."""
    host, port = check_http_url(uri, policy.field)
    if not policy.trusts(host):
        await checked_address(host, port, policy)


def _pinned_transport_class(module: ModuleType) -> type:
    class PinnedTransport(module.AsyncBaseTransport):  # type: ignore[name-defined,misc]
        def __init__(self, policy: UrlPolicy) -> None:
            self._policy = policy
            self._inner = module.AsyncHTTPTransport()

        async def handle_async_request(self, request: Any) -> Any:
            host = request.url.host
            if not self._policy.trusts(host):
                port = request.url.port or (443 if request.url.scheme == "https" else 80)
                address = await checked_address(host, port, self._policy)
                request.url = request.url.copy_with(host=address)  # the Host header keeps the name
                if request.url.scheme == "https":
                    request.extensions = {**request.extensions, "sni_hostname": host}
            return await self._inner.handle_async_request(request)

        async def aclose(self) -> None:
            await self._inner.aclose()

    return PinnedTransport


_PinnedHttpx = _pinned_transport_class(httpx)


def pinned_client(policy: UrlPolicy, *, timeout: float) -> httpx.AsyncClient:
    """An httpx client that connects only to checked addresses (see the module doc); redirects are not followed.
    Use one client per host: its connection pool is keyed by address, and two names on one address would share a
    TLS connection made for the first."""
    return httpx.AsyncClient(transport=_PinnedHttpx(policy), timeout=timeout, follow_redirects=False, trust_env=False)


def pinned_client_factory(policy: UrlPolicy, response_cap: ResponseCap | None = None) -> Any:
    """An `httpx_client_factory` for the MCP SDK (which speaks `httpx2`) whose clients connect only to checked
    addresses, and read their answers through `response_cap` where one is given (runtime/response_caps.py)."""
    import httpx2

    transport_class = _pinned_transport_class(httpx2)

    def factory(headers: dict[str, str] | None = None, timeout: Any = None, auth: Any = None) -> Any:
        transport = transport_class(policy)
        if response_cap is not None:
            transport = response_cap.transport(transport)
        kwargs: dict[str, Any] = {"transport": transport, "trust_env": False}
        if headers is not None:
            kwargs["headers"] = headers
        if timeout is not None:
            kwargs["timeout"] = timeout
        if auth is not None:
            kwargs["auth"] = auth
        return httpx2.AsyncClient(**kwargs)

    return factory


async def read_bounded(chunks: AsyncIterator[bytes], limit: int, too_large: Callable[[], MeshError]) -> bytes:
    """The bytes of a streamed body, read in chunks and refused with `too_large()` as soon as they pass `limit`."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large()
        parts.append(chunk)
    return b"".join(parts)
