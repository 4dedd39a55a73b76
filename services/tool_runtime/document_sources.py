"""The text of a RAG document: given inline, read from an allowed local path, or fetched from an allowed URL.

Every check happens before anything is read or contacted: a path must resolve (symlinks followed) inside one of the
allowed directories and, inside the mesh's data dir (its databases), in its documents folder or an allowed directory
there (llama_mesh/readable_paths.py, whose `open_checked` then opens just the file that was checked); a URL is
fetched with the runtime's pinned client (llama_mesh/runtime/url_fetch.py), which connects only to the public address
it checked unless the config allows private ones, so a document URI cannot be used to reach the mesh's own network
(SSRF). Bodies are read in chunks and refused past MAX_DOCUMENT_BYTES.
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
import os
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import httpx

from llama_mesh.readable_paths import LocalFiles, open_checked, readable_path
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument
from llama_mesh.runtime.url_fetch import UrlPolicy, check_http_url, pinned_client, read_bounded

TEXT_TYPES = {"text/plain", "text/markdown", "text/x-markdown", "text/csv", "application/json"}
HTML_TYPES = {"text/html", "application/xhtml+xml"}
PDF_TYPE = "application/pdf"
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
DOCUMENTS_FOLDER = "documents"
DOCUMENT_FILES = LocalFiles(
    folder=DOCUMENTS_FOLDER,
    nul="a document path must not contain a NUL byte",
    not_absolute="a local document path must be absolute",
    in_data_dir="{uri!r} is inside the mesh's data dir, whose files are its own databases; put documents in its "
    f"{DOCUMENTS_FOLDER!r} folder",
    outside="{uri!r} is outside the directories this service may read (its provider's allowed_dirs, which the "
    "operator of the mesh sets)",
)


@dataclass(frozen=True)
class SourcePolicy:
    allowed_dirs: tuple[Path, ...]
    allow_private_urls: bool = False
    fetch_timeout_s: float = 30.0
    # The mesh's data dir: its databases (registry, agents, traces and their -wal files) are never documents, even
    # where an allowed dir contains it; only its `documents` folder (and an allowed dir inside it) is readable.
    data_dir: Path | None = None


class _HTMLText(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def html_text(html: str) -> str:
    parser = _HTMLText()
    parser.feed(html)
    return "\n".join(parser.parts)


def pdf_text(data: bytes, field: str) -> str:
    """The text of a PDF, page by page (blocking: callers run it in a worker thread)."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError as exc:
        raise InvalidArgument(field, "PDF documents need the `pypdf` package, not installed here") from exc
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError) as exc:
        raise InvalidArgument(field, f"not a readable PDF: {exc}", reason="DOCUMENT_UNREADABLE") from exc
    return "\n\n".join(page.strip() for page in pages if page.strip())


def decode(data: bytes, mime_type: str, field: str) -> str:
    """The text of a document's bytes by its MIME type; unsupported types: INVALID_ARGUMENT."""
    if mime_type == PDF_TYPE:
        return pdf_text(data, field)
    text = data.decode("utf-8", errors="replace")
    if mime_type in HTML_TYPES:
        return html_text(text)
    if mime_type in TEXT_TYPES or mime_type.startswith("text/"):
        return text
    raise InvalidArgument(field, f"unsupported document type {mime_type!r}")


def guess_type(location: str, given: str) -> str:
    if given:
        return given.split(";")[0].strip().lower()
    guessed, _ = mimetypes.guess_type(location)
    if location.lower().endswith((".md", ".markdown")):
        return "text/markdown"
    return guessed or "text/plain"


def allowed_path(uri: str, policy: SourcePolicy, field: str) -> Path:
    """The local file a file:// URI or absolute path names, if it lies inside an allowed directory."""
    return readable_path(uri, field, DOCUMENT_FILES, policy.allowed_dirs, policy.data_dir)


async def read_path(path: Path, uri: str, field: str) -> bytes:
    """The file's bytes; errors name `uri` as the caller gave it, never the resolved path."""

    def read() -> bytes:
        with open_checked(path) as file:
            too_large = os.fstat(file.fileno()).st_size > MAX_DOCUMENT_BYTES
            data: bytes = b"" if too_large else file.read(MAX_DOCUMENT_BYTES + 1)
        if too_large or len(data) > MAX_DOCUMENT_BYTES:  # (a file may grow while it is read)
            raise InvalidArgument(field, f"documents are at most {MAX_DOCUMENT_BYTES} bytes")
        return data

    try:
        return await asyncio.to_thread(read)
    except OSError as exc:
        raise FailedPrecondition(
            f"{field}: cannot read {uri!r}: {exc.strerror or type(exc).__name__}", reason="DOCUMENT_UNREADABLE"
        ) from exc


async def fetch_url(uri: str, policy: SourcePolicy, field: str) -> tuple[bytes, str]:
    """The body and content type of an allowed URL. Redirects are not followed (each hop would need checking)."""
    check_http_url(uri, field)
    url_policy = UrlPolicy(field, "DOCUMENT_UNREACHABLE", allow_private=policy.allow_private_urls)
    try:
        async with (
            pinned_client(url_policy, timeout=policy.fetch_timeout_s) as client,
            client.stream("GET", uri, headers={"Accept-Encoding": "identity"}) as response,
        ):
            if response.status_code != 200:
                raise FailedPrecondition(
                    f"{field}: fetching {uri!r} answered HTTP {response.status_code}", reason="DOCUMENT_UNREACHABLE"
                )
            too_large = InvalidArgument(
                field, f"document {uri!r} is larger than {MAX_DOCUMENT_BYTES} bytes", reason="DOCUMENT_TOO_LARGE"
            )
            body = await read_bounded(response.aiter_bytes(), MAX_DOCUMENT_BYTES, lambda: too_large)
            return body, response.headers.get("content-type", "")
    except httpx.HTTPError as exc:
        # httpx's text may name the address the host resolved to: the kind of failure only
        raise FailedPrecondition(
            f"{field}: cannot fetch {uri!r} ({type(exc).__name__})", reason="DOCUMENT_UNREACHABLE"
        ) from exc


def data_url(uri: str, field: str) -> tuple[bytes, str]:
    """The bytes and media type of a data: URL (RFC 2397), decoded by the standard library's handler."""
    try:
        with urllib.request.urlopen(uri) as response:  # only data: URLs come here: nothing is fetched
            data = response.read(MAX_DOCUMENT_BYTES + 1)
            kind = response.headers.get_content_type()
    except (ValueError, OSError) as exc:  # bad base64 is a ValueError (binascii.Error)
        raise InvalidArgument(field, f"is not a valid data: URL ({exc})") from exc
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidArgument(field, f"documents are at most {MAX_DOCUMENT_BYTES} bytes")
    return data, kind


async def document_text(uri: str, mime_type: str, policy: SourcePolicy, field: str) -> str:
    """The text of the document at `uri` (checked first, see the module doc)."""
    if uri.startswith(("http://", "https://")):
        data, served_type = await fetch_url(uri, policy, field)
        kind = guess_type(uri, mime_type or served_type)
    elif uri.startswith("data:"):
        data, served_type = await asyncio.to_thread(data_url, uri, field)
        kind = guess_type("", mime_type or served_type)
    elif uri.startswith("file://") or uri.startswith("/"):
        path = allowed_path(uri, policy, field)
        data = await read_path(path, uri, field)
        kind = guess_type(str(path), mime_type)
    else:
        raise InvalidArgument(field, f"unsupported document URI {uri!r}: use http(s)://, file://, data: or a path")
    return await asyncio.to_thread(decode, data, kind, field)
