"""`client.tool_runtime`: list and invoke the tools of a registered tool group, and builtin::rag (insert documents
into vector DBs, query them for context); sync and async.

    for tool in client.tool_runtime.iter_tools("builtin::rag"):
        print(tool.definition.name)
    result = client.tool_runtime.invoke_tool("mcp::demo", "add", {"a": 2, "b": 3})
    client.tool_runtime.insert_documents("docs", [{"document_id": "paris", "content": "Paris is in France."}])
    reply = client.tool_runtime.query_knowledge(["docs"], "Where is Paris?", max_chunks=3)
    print(reply.content.text, reply.document_ids)

A document is a RAGDocument proto or a dict with "document_id" and one of "content" (see conversions.to_content) or
"uri" (http(s)://, file:// or data:), and optionally "mime_type" and "metadata".
"""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from llama.tool_runtime.v1 import tool_runtime_pb2 as pb
from llama.tool_runtime.v1 import tool_runtime_pb2_grpc
from llama_mesh.client.conversions import ContentLike, copied, to_content, to_struct
from llama_mesh.client.transport import AsyncTransport, Transport
from llama_mesh.client.vector_io import search_mode

DocumentLike = pb.RAGDocument | Mapping[str, Any]
_DOCUMENT_KEYS = frozenset({"document_id", "content", "uri", "mime_type", "metadata"})


def to_document(document: DocumentLike) -> pb.RAGDocument:
    if isinstance(document, pb.RAGDocument):
        return copied(document)
    unknown = set(document) - _DOCUMENT_KEYS
    if unknown or ("content" in document) == ("uri" in document):
        raise ValueError(
            f"a document dict needs 'document_id' and one of 'content' and 'uri' (may have "
            f"'mime_type', 'metadata'); got keys {sorted(document)}"
        )
    proto = pb.RAGDocument(
        document_id=str(document.get("document_id", "")), mime_type=str(document.get("mime_type", ""))
    )
    if "content" in document:
        proto.content.CopyFrom(to_content(document["content"]))
    else:
        proto.uri = str(document["uri"])
    if document.get("metadata") is not None:
        proto.metadata.CopyFrom(to_struct(document["metadata"]))
    return proto


def insert_documents_request(
    vector_db_id: str, documents: Iterable[DocumentLike], chunk_size_in_tokens: int, chunk_overlap_in_tokens: int | None
) -> pb.InsertDocumentsRequest:
    request = pb.InsertDocumentsRequest(
        vector_db_id=vector_db_id,
        documents=[to_document(d) for d in documents],
        chunk_size_in_tokens=chunk_size_in_tokens,
    )
    if chunk_overlap_in_tokens is not None:
        request.chunk_overlap_in_tokens = chunk_overlap_in_tokens
    return request


def query_knowledge_request(vector_db_ids: Iterable[str], query: ContentLike, max_chunks: int,
                            mode: str | int | None, query_config: pb.RAGQueryConfig | None,
                            ) -> pb.QueryKnowledgeRequest:  # fmt: skip
    config = copied(query_config) if query_config is not None else pb.RAGQueryConfig()
    if max_chunks:
        config.max_chunks = max_chunks
    if mode is not None:
        config.mode = search_mode(mode)
    return pb.QueryKnowledgeRequest(vector_db_ids=list(vector_db_ids), content=to_content(query), query_config=config)


def _invoke_request(tool_group_id: str, tool_name: str, kwargs: Mapping[str, Any] | None) -> pb.InvokeToolRequest:
    return pb.InvokeToolRequest(tool_group_id=tool_group_id, tool_name=tool_name, kwargs=to_struct(kwargs))


class ToolRuntime:
    """ToolRuntimeService calls through the gateway (blocking)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._stub = tool_runtime_pb2_grpc.ToolRuntimeServiceStub(transport.channel)

    def iter_tools(
        self, tool_group_id: str, *, page_size: int = 0, timeout: float | None = None
    ) -> Iterator[pb.RuntimeTool]:
        """Every tool of the group, page after page."""
        request = pb.ListRuntimeToolsRequest(tool_group_id=tool_group_id, page_size=page_size)
        return self._transport.pages(self._stub.ListRuntimeTools, request, "tools", timeout)

    def list_tools(self, tool_group_id: str, *, timeout: float | None = None) -> list[pb.RuntimeTool]:
        return list(self.iter_tools(tool_group_id, timeout=timeout))

    def invoke_tool(
        self,
        tool_group_id: str,
        tool_name: str,
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> pb.InvokeToolResponse:
        """Call one tool; a tool that failed sets error_message (and maybe error_code) rather than raising."""
        request = _invoke_request(tool_group_id, tool_name, kwargs)
        return self._transport.unary(self._stub.InvokeTool, request, timeout)

    def insert_documents(
        self,
        vector_db_id: str,
        documents: Iterable[DocumentLike],
        *,
        chunk_size_in_tokens: int = 0,
        chunk_overlap_in_tokens: int | None = None,
        timeout: float | None = None,
    ) -> pb.InsertDocumentsResponse:
        """Fetch, chunk (0: 512 tokens) and insert the documents into the vector DB."""
        request = insert_documents_request(vector_db_id, documents, chunk_size_in_tokens, chunk_overlap_in_tokens)
        return self._transport.unary(self._stub.InsertDocuments, request, timeout)

    def query_knowledge(
        self,
        vector_db_ids: Iterable[str],
        query: ContentLike,
        *,
        max_chunks: int = 0,
        mode: str | int | None = None,
        query_config: pb.RAGQueryConfig | None = None,
        timeout: float | None = None,
    ) -> pb.QueryKnowledgeResponse:
        """The context builtin::rag retrieves for the query; max_chunks and mode override query_config's."""
        request = query_knowledge_request(vector_db_ids, query, max_chunks, mode, query_config)
        return self._transport.unary(self._stub.QueryKnowledge, request, timeout)


class AsyncToolRuntime:
    """The async flavour of `ToolRuntime`."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport
        self._stub = tool_runtime_pb2_grpc.ToolRuntimeServiceStub(transport.channel)

    def iter_tools(
        self, tool_group_id: str, *, page_size: int = 0, timeout: float | None = None
    ) -> AsyncIterator[pb.RuntimeTool]:
        request = pb.ListRuntimeToolsRequest(tool_group_id=tool_group_id, page_size=page_size)
        return self._transport.pages(self._stub.ListRuntimeTools, request, "tools", timeout)

    async def list_tools(self, tool_group_id: str, *, timeout: float | None = None) -> list[pb.RuntimeTool]:
        return [tool async for tool in self.iter_tools(tool_group_id, timeout=timeout)]

    async def invoke_tool(
        self,
        tool_group_id: str,
        tool_name: str,
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> pb.InvokeToolResponse:
        request = _invoke_request(tool_group_id, tool_name, kwargs)
        return await self._transport.unary(self._stub.InvokeTool, request, timeout)

    async def insert_documents(
        self,
        vector_db_id: str,
        documents: Iterable[DocumentLike],
        *,
        chunk_size_in_tokens: int = 0,
        chunk_overlap_in_tokens: int | None = None,
        timeout: float | None = None,
    ) -> pb.InsertDocumentsResponse:
        request = insert_documents_request(vector_db_id, documents, chunk_size_in_tokens, chunk_overlap_in_tokens)
        return await self._transport.unary(self._stub.InsertDocuments, request, timeout)

    async def query_knowledge(
        self,
        vector_db_ids: Iterable[str],
        query: ContentLike,
        *,
        max_chunks: int = 0,
        mode: str | int | None = None,
        query_config: pb.RAGQueryConfig | None = None,
        timeout: float | None = None,
    ) -> pb.QueryKnowledgeResponse:
        request = query_knowledge_request(vector_db_ids, query, max_chunks, mode, query_config)
        return await self._transport.unary(self._stub.QueryKnowledge, request, timeout)
