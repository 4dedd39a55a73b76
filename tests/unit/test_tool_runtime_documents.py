"""tool_runtime's document handling without a mesh: token chunking, context formatting, source checks."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument
from llama_mesh.runtime.url_fetch import UrlPolicy, check_public_url
from services.tool_runtime.chunking import split_into_chunks, whitespace_spans
from services.tool_runtime.document_sources import (
    SourcePolicy,
    allowed_path,
    decode,
    document_text,
    html_text,
    read_path,
)
from services.tool_runtime.knowledge_context import RetrievedChunk, build_context
from tests.pdf_fixture import text_pdf


def test_chunks_share_the_overlap_tokens() -> None:
    text = " ".join(f"t{i}" for i in range(10))
    assert split_into_chunks(text, 4, 1, whitespace_spans) == ["t0 t1 t2 t3", "t3 t4 t5 t6", "t6 t7 t8 t9"]
    with pytest.raises(ValueError):
        split_into_chunks(text, 4, 4, whitespace_spans)


def test_context_keeps_braces_and_respects_the_budget() -> None:
    chunks = [RetrievedChunk("a {weird} text", {"document_id": "d1"}, 0.9), RetrievedChunk("x " * 500, {}, 0.5)]
    context, used = build_context("q", chunks, "", max_tokens=100)
    assert [chunk.document_id for chunk in used] == ["d1"]
    assert "Content: a {weird} text" in context and '"document_id": "d1"' in context


def test_paths_must_be_inside_allowed_dirs(tmp_path: Path) -> None:
    policy = SourcePolicy((tmp_path / "ok",))
    (tmp_path / "ok").mkdir()
    assert allowed_path(f"file://{tmp_path}/ok/a.md", policy, "f") == (tmp_path / "ok" / "a.md").resolve()
    for uri in (f"{tmp_path}/ok/../secret", "/etc/passwd", "relative.txt"):
        with pytest.raises(InvalidArgument):
            allowed_path(uri, policy, "f")
    (tmp_path / "ok" / "link").symlink_to("/etc")
    with pytest.raises(InvalidArgument):
        allowed_path(f"{tmp_path}/ok/link/passwd", policy, "f")


@pytest.mark.parametrize("swapped", ["directory", "file"])
def test_a_symlink_swapped_in_after_the_check_reads_nothing(tmp_path: Path, swapped: str) -> None:
    """Someone who may write in an allowed dir names a harmless file there, and between the check and the read puts
    a symlink to the mesh's data dir in the place of its directory (or of the file itself): the read must not follow
    it to the registry's database."""
    data_dir, shared = tmp_path / "data", tmp_path / "shared"
    (data_dir / "documents").mkdir(parents=True)
    (data_dir / "registry.db").write_bytes(b"SQLite format 3\x00 the mesh's secrets")
    (shared / "notes").mkdir(parents=True)
    (shared / "notes" / "registry.db").write_text("harmless")
    uri = f"file://{shared}/notes/registry.db"
    path = allowed_path(uri, SourcePolicy((shared,), data_dir=data_dir), "documents[0].uri")
    if swapped == "directory":
        (shared / "notes").rename(shared / "was-notes")
        (shared / "notes").symlink_to(data_dir, target_is_directory=True)
    else:
        (shared / "notes" / "registry.db").unlink()
        (shared / "notes" / "registry.db").symlink_to(data_dir / "registry.db")
    with pytest.raises(FailedPrecondition) as caught:
        asyncio.run(read_path(path, uri, "documents[0].uri"))
    assert caught.value.reason == "DOCUMENT_UNREADABLE" and "changed after it was checked" in caught.value.message
    assert uri in caught.value.message and str(data_dir) not in caught.value.message


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/x", "http://10.1.2.3/", "http://169.254.169.254/latest", "http://[::1]/", "ftp://a/b"]
)
def test_private_and_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidArgument):
        asyncio.run(check_public_url(url, UrlPolicy("uri", "DOCUMENT_UNREACHABLE")))


def test_html_text_drops_scripts() -> None:
    assert html_text("<html><script>x()</script><p>Hello</p><p>world</p></html>") == "Hello\nworld"


def test_pdf_text_is_read_page_by_page() -> None:
    pdf = text_pdf(["Kiwis (the birds) cannot fly.", "Page two is about ferns."])
    assert decode(pdf, "application/pdf", "f") == "Kiwis (the birds) cannot fly.\n\nPage two is about ferns."


def test_broken_pdf_is_an_invalid_argument() -> None:
    with pytest.raises(InvalidArgument) as caught:
        decode(b"%PDF-1.4 not really", "application/pdf", "documents[0].uri")
    assert caught.value.field == "documents[0].uri"


def test_data_urls_are_read_by_their_media_type() -> None:
    pdf = base64.b64encode(text_pdf(["Kiwis (the birds) cannot fly."])).decode()
    policy = SourcePolicy(())
    assert asyncio.run(document_text(f"data:application/pdf;base64,{pdf}", "", policy, "u")) == (
        "Kiwis (the birds) cannot fly."
    )
    html = "data:text/html,%3Cp%3EHello%3C%2Fp%3E"
    assert asyncio.run(document_text(html, "", policy, "u")) == "Hello"
    with pytest.raises(InvalidArgument) as caught:
        asyncio.run(document_text("data:text/plain;base64", "", policy, "documents[0].uri"))
    assert caught.value.field == "documents[0].uri"
