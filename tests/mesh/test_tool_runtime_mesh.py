"""The tool_runtime service in the default distribution: builtin::rag over the vector_io service (through the
gateway), document sources refused before they are read or contacted, and an MCP tool group served by a real MCP
server that the test starts."""

from __future__ import annotations

import http.server
import math
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from llama.common.v1 import content_pb2, resources_pb2
from llama.registry.v1 import registry_pb2
from llama.tool_runtime.v1 import tool_runtime_pb2 as pb
from llama_mesh.launcher import LocalMesh, free_loopback_port
from tests.mesh.helpers import EMBEDDING_MODEL, expect_error, reason_and_field, struct
from tests.mesh.mcp_servers import mcp_add_server
from tests.pdf_fixture import text_pdf

RAG = "builtin::rag"


def text(value: str) -> content_pb2.Content:
    return content_pb2.Content(text=value)


@pytest.fixture(scope="module")
def allowed_dir(local_mesh: LocalMesh) -> Path:
    """A directory inside the mesh's data dir, where the rag-runtime provider may read documents by default."""
    path = Path(local_mesh.env["LLAMA_MESH_DATA_DIR"]) / "documents"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def rag_db(registry, tools, allowed_dir: Path) -> Iterator[str]:
    registry.RegisterVectorDB(
        registry_pb2.RegisterVectorDBRequest(
            vector_db=resources_pb2.VectorDB(identifier="rag-docs", embedding_model=EMBEDDING_MODEL)
        )
    )
    guide = allowed_dir / "sourdough.md"
    guide.write_text("# Sourdough\n\nFeed the **starter** with flour and water, then let the dough rise overnight.\n")
    reply = tools.InsertDocuments(
        pb.InsertDocumentsRequest(
            vector_db_id="rag-docs",
            documents=[
                pb.RAGDocument(
                    document_id="eiffel",
                    content=text("The Eiffel Tower in Paris was completed in 1889 for the World's Fair."),
                    metadata=struct(source="inline"),
                ),
                pb.RAGDocument(document_id="sourdough", uri=f"file://{guide}"),
                pb.RAGDocument(
                    document_id="python", content=text("Python is a programming language with dynamic typing.")
                ),
            ],
            chunk_size_in_tokens=64,
        )
    )
    assert reply.chunks_inserted == 3
    yield "rag-docs"
    registry.UnregisterVectorDB(registry_pb2.UnregisterVectorDBRequest(vector_db_id="rag-docs"))


def test_builtin_rag_is_preregistered_and_lists_its_tools(tools) -> None:
    reply = tools.ListRuntimeTools(pb.ListRuntimeToolsRequest(tool_group_id=RAG))
    assert [tool.definition.name for tool in reply.tools] == ["knowledge_search", "insert"]
    assert reply.tools[0].definition.parameters["required"] == ["query"]
    assert reply.next_page_token == ""


def test_query_knowledge_returns_context_with_document_ids(tools, rag_db) -> None:
    reply = tools.QueryKnowledge(
        pb.QueryKnowledgeRequest(
            vector_db_ids=[rag_db],
            content=text("When was the Eiffel Tower completed?"),
            query_config=pb.RAGQueryConfig(max_chunks=2),
        )
    )
    assert reply.document_ids[0] == "eiffel" and len(reply.document_ids) == len(reply.scores) == 2
    context = reply.content.text
    assert "completed in 1889" in context and '"document_id": "eiffel"' in context and '"source": "inline"' in context
    assert context.startswith("knowledge_search tool found 2 chunks")


@pytest.mark.parametrize(
    ("query_config", "field"),
    [
        (pb.RAGQueryConfig(chunk_template="Result {index} {metadata}"), "query_config.chunk_template"),
        (pb.RAGQueryConfig(chunk_template="{chunk.content}" * 1000), "query_config.chunk_template"),
        (pb.RAGQueryConfig(max_chunks=1_000_000), "query_config.max_chunks"),
        (pb.RAGQueryConfig(max_tokens_in_context=-1), "query_config.max_tokens_in_context"),
    ],
)
def test_query_configs_past_their_caps_are_refused(tools, rag_db, query_config, field: str) -> None:
    """A template without {chunk.content} would hand the model empty context while reporting ids and scores."""
    error = expect_error(
        lambda: tools.QueryKnowledge(
            pb.QueryKnowledgeRequest(vector_db_ids=[rag_db], content=text("Eiffel"), query_config=query_config)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error)[1] == field


@pytest.mark.parametrize(
    ("size", "overlap", "field"),
    [(64, 63, "chunk_overlap_in_tokens"), (64, 33, "chunk_overlap_in_tokens"), (100_000, 0, "chunk_size_in_tokens")],
)
def test_chunk_sizes_past_their_caps_are_refused(tools, rag_db, size: int, overlap: int, field: str) -> None:
    error = expect_error(
        lambda: tools.InsertDocuments(
            pb.InsertDocumentsRequest(
                vector_db_id=rag_db,
                chunk_size_in_tokens=size,
                chunk_overlap_in_tokens=overlap,
                documents=[pb.RAGDocument(document_id="x", content=text("one token per chunk " * 50))],
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error)[1] == field


def test_document_metadata_holding_nan_is_refused_before_anything_is_stored(tools, rag_db) -> None:
    good = pb.RAGDocument(document_id="nan-first", content=text("The first document is fine."))
    bad = pb.RAGDocument(document_id="nan-second", content=text("The second one is not."))
    bad.metadata.update({"rank": math.nan})
    error = expect_error(
        lambda: tools.InsertDocuments(pb.InsertDocumentsRequest(vector_db_id=rag_db, documents=[good, bad])),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error) == ("NON_FINITE_NUMBER", "documents[1].metadata")
    found = tools.QueryKnowledge(
        pb.QueryKnowledgeRequest(vector_db_ids=[rag_db], content=text("The first document is fine."))
    )
    assert "nan-first" not in found.document_ids


def test_markdown_file_is_chunked_and_found(tools, rag_db) -> None:
    reply = tools.InvokeTool(
        pb.InvokeToolRequest(
            tool_group_id=RAG,
            tool_name="knowledge_search",
            kwargs=struct(query="how long should bread dough rise?", vector_db_ids=[rag_db]),
        )
    )
    assert not reply.error_message
    assert "rise overnight" in reply.content.text and '"document_id": "sourdough"' in reply.content.text
    assert reply.metadata["document_ids"][0] == "sourdough"


def test_pdf_document_text_reaches_the_vector_db(tools, registry, allowed_dir: Path) -> None:
    registry.RegisterVectorDB(
        registry_pb2.RegisterVectorDBRequest(
            vector_db=resources_pb2.VectorDB(identifier="rag-pdf", embedding_model=EMBEDDING_MODEL)
        )
    )
    try:
        pdf = allowed_dir / "birds.pdf"
        pdf.write_bytes(text_pdf(["Kiwis are flightless birds from New Zealand.", "Ferns grow in damp forests."]))
        reply = tools.InsertDocuments(
            pb.InsertDocumentsRequest(
                vector_db_id="rag-pdf", documents=[pb.RAGDocument(document_id="birds", uri=f"file://{pdf}")]
            )
        )
        assert reply.chunks_inserted >= 1
        found = tools.QueryKnowledge(
            pb.QueryKnowledgeRequest(vector_db_ids=["rag-pdf"], content=text("Which birds cannot fly?"))
        )
        assert found.document_ids[0] == "birds" and "Kiwis are flightless birds" in found.content.text
    finally:
        registry.UnregisterVectorDB(registry_pb2.UnregisterVectorDBRequest(vector_db_id="rag-pdf"))


def test_chunks_overlap_by_tokens(tools, registry, allowed_dir: Path) -> None:
    registry.RegisterVectorDB(
        registry_pb2.RegisterVectorDBRequest(
            vector_db=resources_pb2.VectorDB(identifier="rag-chunks", embedding_model=EMBEDDING_MODEL)
        )
    )
    try:
        words = " ".join(["cat"] * 120)  # one MiniLM token per word
        reply = tools.InsertDocuments(
            pb.InsertDocumentsRequest(
                vector_db_id="rag-chunks",
                documents=[pb.RAGDocument(document_id="words", content=text(words))],
                chunk_size_in_tokens=40,
                chunk_overlap_in_tokens=10,
            )
        )
        assert reply.chunks_inserted == 4  # 120 tokens, chunks starting at 0, 30, 60 and 90
    finally:
        registry.UnregisterVectorDB(registry_pb2.UnregisterVectorDBRequest(vector_db_id="rag-chunks"))


def test_path_outside_allowed_dirs_is_refused(tools, rag_db, tmp_path: Path, allowed_dir: Path) -> None:
    """Refused naming the path as the caller gave it, never the directories the service may read."""
    secret = tmp_path / "secret.txt"
    secret.write_text("do not index me")
    database = allowed_dir.parent / "registry.db"  # inside the data dir, outside its documents folder
    for uri in (
        f"file://{secret}",
        str(secret),
        f"file://{Path(secret.parent, '..', secret.parent.name, 'x.txt')}",
        f"file://{database}",
    ):
        error = expect_error(
            lambda uri=uri: tools.InsertDocuments(
                pb.InsertDocumentsRequest(vector_db_id=rag_db, documents=[pb.RAGDocument(document_id="s", uri=uri)])
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert reason_and_field(error) == ("PATH_NOT_ALLOWED", "documents[0].uri")
        assert uri in error.details() and str(allowed_dir) not in error.details(), error.details()


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    contacted: list[str] = []

    def do_GET(self) -> None:
        self.contacted.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"internal secret")

    def log_message(self, *args: object) -> None:
        pass


def test_url_to_a_private_address_is_refused_without_contacting_it(tools, rag_db) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _RecordingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        for url in (f"http://127.0.0.1:{port}/doc.txt", f"http://localhost:{port}/doc.txt"):
            error = expect_error(
                lambda url=url: tools.InsertDocuments(
                    pb.InsertDocumentsRequest(
                        vector_db_id=rag_db, documents=[pb.RAGDocument(document_id="private", uri=url)]
                    )
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
            )
            assert reason_and_field(error) == ("URL_NOT_ALLOWED", "documents[0].uri")
        assert _RecordingHandler.contacted == []
    finally:
        server.shutdown()
        server.server_close()


def test_unknown_vector_db_and_tool_group_are_not_found(tools) -> None:
    expect_error(
        lambda: tools.InsertDocuments(
            pb.InsertDocumentsRequest(
                vector_db_id="nope", documents=[pb.RAGDocument(document_id="a", content=text("x"))]
            )
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    expect_error(
        lambda: tools.ListRuntimeTools(pb.ListRuntimeToolsRequest(tool_group_id="no-such-group")),
        grpc.StatusCode.NOT_FOUND,
    )
    expect_error(
        lambda: tools.InvokeTool(pb.InvokeToolRequest(tool_group_id=RAG, tool_name="no_such_tool")),
        grpc.StatusCode.NOT_FOUND,
    )


@pytest.fixture(scope="module")
def mcp_endpoint() -> Iterator[str]:
    with mcp_add_server() as endpoint:
        yield endpoint


def register_mcp(registry, identifier: str, uri: str) -> resources_pb2.ToolGroup:
    return registry.RegisterToolGroup(
        registry_pb2.RegisterToolGroupRequest(
            tool_group=resources_pb2.ToolGroup(
                identifier=identifier,
                provider_id="model-context-protocol",
                mcp_endpoint=resources_pb2.McpEndpoint(uri=uri),
            )
        )
    )


def test_mcp_tool_group_end_to_end(registry, tools, mcp_endpoint: str) -> None:
    register_mcp(registry, "mcp::adder", mcp_endpoint)
    try:
        listed = tools.ListRuntimeTools(pb.ListRuntimeToolsRequest(tool_group_id="mcp::adder"))
        assert [tool.definition.name for tool in listed.tools] == ["add"]
        assert set(listed.tools[0].definition.parameters["properties"]) == {"a", "b"}
        reply = tools.InvokeTool(
            pb.InvokeToolRequest(tool_group_id="mcp::adder", tool_name="add", kwargs=struct(a=2, b=40))
        )
        assert not reply.error_message and reply.content.text == "42"
        expect_error(
            lambda: tools.InvokeTool(
                pb.InvokeToolRequest(tool_group_id="mcp::adder", tool_name="add", kwargs=struct(a="two"))
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        expect_error(
            lambda: tools.InvokeTool(pb.InvokeToolRequest(tool_group_id="mcp::adder", tool_name="multiply")),
            grpc.StatusCode.NOT_FOUND,
        )
    finally:
        registry.UnregisterToolGroup(registry_pb2.UnregisterToolGroupRequest(tool_group_id="mcp::adder"))


def test_unreachable_mcp_server_is_refused_and_not_stored(registry) -> None:
    uri = f"http://127.0.0.1:{free_loopback_port()}/mcp"
    error = expect_error(lambda: register_mcp(registry, "mcp::down", uri), grpc.StatusCode.UNAVAILABLE)
    # the endpoint as registered, and the kind of failure; the library's text (addresses it tried) stays in the log
    assert re.fullmatch(
        rf"MCP server {re.escape(uri)} of tool group 'mcp::down' is not reachable \(\w+\)", error.details()
    )
    expect_error(
        lambda: registry.GetToolGroup(registry_pb2.GetToolGroupRequest(tool_group_id="mcp::down")),
        grpc.StatusCode.NOT_FOUND,
    )
