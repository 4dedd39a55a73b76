"""The runtime's URL fetcher against the attacks it exists for: DNS rebinding (a name that answers a public address to
the check and loopback to the connection), IPv6 forms that embed an IPv4 address, and bodies larger than the cap.
Loopback HTTP servers record every contact, so "refused" means "never reached"."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from llama_mesh.runtime import url_fetch
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument, without_paths
from llama_mesh.runtime.url_fetch import UrlPolicy, is_public, pinned_client, pinned_client_factory, read_bounded
from services.tool_runtime import document_sources
from services.tool_runtime.document_sources import SourcePolicy, allowed_path, fetch_url

PUBLIC = "8.8.8.8"


class _Recording(http.server.BaseHTTPRequestHandler):
    contacts: list[str]
    body: bytes

    def do_GET(self) -> None:
        self.contacts.append(self.headers.get("Host", ""))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[int, list[str], type[_Recording]]]:
    handler = type("Handler", (_Recording,), {"contacts": [], "body": b"the document"})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], handler.contacts, handler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A resolver where `<name>` answers the addresses queued for it, one lookup at a time (the last one repeats);
    other names resolve as usual. Returns the queues, keyed by name; `calls[name]` counts lookups."""
    real = socket.getaddrinfo
    answers: dict[str, list[str]] = {}
    calls: dict[str, int] = {}

    def fake(host, port, *args, **kwargs):  # noqa: ANN002
        if isinstance(host, bytes):
            host = host.decode("ascii")  # anyio passes IDNA-encoded names
        if host not in answers:
            return real(host, port, *args, **kwargs)
        calls[host] = calls.get(host, 0) + 1
        queue = answers[host]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    answers["calls"] = calls  # type: ignore[assignment]
    return answers


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a9fe:a9fe",  # NAT64 of the cloud metadata address
        "64:ff9b:1::a9fe:a9fe",
        "2002:a9fe:a9fe::1",  # 6to4
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:8.8.8.8",  # embeds a public address, still refused: the form itself is the bypass
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "127.0.0.1",
        "169.254.169.254",
        "10.0.0.1",
        "fe80::1%eth0",
        "::1",
        "224.0.0.1",
    ],
)
def test_addresses_that_are_or_embed_non_public_ones_are_refused(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert is_public(address)


def test_a_rebinding_name_never_reaches_loopback(server, lookups) -> None:
    """The name answers a public address to the check and 127.0.0.1 afterwards: the fetch connects to the checked
    address (which fails here), never looks the name up again, and the loopback server is never contacted."""
    port, contacts, _ = server
    lookups["rebind.example"] = [PUBLIC, "127.0.0.1"]
    with pytest.raises(FailedPrecondition):
        asyncio.run(
            fetch_url(f"http://rebind.example:{port}/doc", SourcePolicy((), fetch_timeout_s=2.0), "documents[0].uri")
        )
    assert contacts == []
    assert lookups["calls"]["rebind.example"] == 1  # type: ignore[index]


def test_the_mcp_client_factory_is_pinned_too(server, lookups) -> None:
    port, contacts, _ = server
    lookups["rebind.example"] = [PUBLIC, "127.0.0.1"]
    policy = UrlPolicy("uri", "UNREACHABLE")

    async def get() -> None:
        async with pinned_client_factory(policy)(timeout=httpx2.Timeout(2.0)) as client:
            await client.get(f"http://rebind.example:{port}/mcp")

    with pytest.raises(httpx2.TransportError):
        asyncio.run(get())
    assert contacts == []
    assert lookups["calls"]["rebind.example"] == 1  # type: ignore[index]


@pytest.mark.parametrize("flavour", ["httpx", "httpx2"])
def test_the_checked_address_is_the_one_connected_and_the_host_header_is_kept(
    server, lookups, monkeypatch: pytest.MonkeyPatch, flavour: str
) -> None:
    """With loopback counted as public for this test, a name answering 127.0.0.1 and then a private address is
    fetched from 127.0.0.1, asking for the name in `Host`."""
    port, contacts, _ = server
    monkeypatch.setattr(url_fetch, "is_public", lambda address: address == "127.0.0.1")
    lookups["docs.example"] = ["127.0.0.1", "10.9.9.9"]
    policy = UrlPolicy("uri", "UNREACHABLE")

    async def get() -> bytes:
        if flavour == "httpx":
            async with pinned_client(policy, timeout=5.0) as client:
                return (await client.get(f"http://docs.example:{port}/a")).content
        async with pinned_client_factory(policy)(timeout=httpx2.Timeout(5.0)) as client:
            return (await client.get(f"http://docs.example:{port}/a")).content

    assert asyncio.run(get()) == b"the document"
    assert contacts == [f"docs.example:{port}"]
    assert lookups["calls"]["docs.example"] == 1  # type: ignore[index]


def test_a_name_resolving_to_loopback_is_refused_before_contact(server, lookups) -> None:
    port, contacts, _ = server
    lookups["inside.example"] = ["127.0.0.1"]
    with pytest.raises(InvalidArgument) as caught:
        asyncio.run(fetch_url(f"http://inside.example:{port}/doc", SourcePolicy(()), "documents[0].uri"))
    assert caught.value.reason == "URL_NOT_ALLOWED"
    assert "127.0.0.1" not in caught.value.message  # what an internal name resolves to is the log's, not the caller's
    assert contacts == []


def test_a_body_past_the_cap_is_refused_while_streaming(server, monkeypatch: pytest.MonkeyPatch) -> None:
    port, contacts, handler = server
    handler.body = b"x" * 1_000_000
    monkeypatch.setattr(document_sources, "MAX_DOCUMENT_BYTES", 10_000)
    with pytest.raises(InvalidArgument) as caught:
        asyncio.run(fetch_url(f"http://127.0.0.1:{port}/big", SourcePolicy((), allow_private_urls=True), "uri"))
    assert caught.value.reason == "DOCUMENT_TOO_LARGE"
    assert len(contacts) == 1


def test_bounded_reads_stop_at_the_first_chunk_past_the_limit() -> None:
    consumed: list[int] = []

    async def chunks():
        for number in range(100):
            consumed.append(number)
            yield b"y" * 100

    with pytest.raises(InvalidArgument):
        asyncio.run(read_bounded(chunks(), 250, lambda: InvalidArgument("uri", "body is larger than 250 bytes")))
    assert consumed == [0, 1, 2]


def test_the_data_dir_is_never_a_document_source(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "documents").mkdir(parents=True)
    (data_dir / "registry.db").write_bytes(b"SQLite format 3\x00")
    (data_dir / "documents" / "ok.md").write_text("fine")
    policy = SourcePolicy((data_dir, tmp_path), data_dir=data_dir)  # even an operator listing the data dir
    inside = (f"{data_dir}/registry.db", f"file://{data_dir}/registry.db-wal", f"{data_dir}/documents/../registry.db")
    for uri in inside:
        with pytest.raises(InvalidArgument) as caught:
            allowed_path(uri, policy, "documents[0].uri")
        assert caught.value.reason == "PATH_NOT_ALLOWED"
    assert allowed_path(f"{data_dir}/documents/ok.md", policy, "f") == (data_dir / "documents" / "ok.md").resolve()


def test_a_nul_byte_in_a_path_is_an_invalid_argument(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        allowed_path(f"{tmp_path}/a\x00b", SourcePolicy((tmp_path,)), "documents[0].uri")


def test_only_http_urls_are_fetched() -> None:
    for uri in ("ftp://x/y", "file:///etc/passwd", "http://a\x00b/"):
        with pytest.raises(InvalidArgument):
            asyncio.run(url_fetch.check_public_url(uri, UrlPolicy("uri", "UNREACHABLE")))


def test_library_text_keeps_urls_and_loses_directories() -> None:
    text = "Could not open '/srv/mesh/data/rows.parquet' ([Errno 2] No such file: /cache/hf/x) from http://h:80/v1/a"
    assert without_paths(text) == "Could not open 'rows.parquet' ([Errno 2] No such file: x) from http://h:80/v1/a"
    assert without_paths("tokens/s, and/or file:///abs/path.jsonl") == "tokens/s, and/or file:///abs/path.jsonl"
