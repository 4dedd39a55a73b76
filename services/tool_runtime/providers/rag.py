"""`inline::rag-runtime`: the `builtin::rag` tool group. Documents are split into token chunks and stored through the
vector_io API; knowledge_search queries vector DBs through it and formats the best chunks as context."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict

from llama.common.v1 import content_pb2, resources_pb2
from llama.tool_runtime.v1 import tool_runtime_pb2 as pb
from llama.vector_io.v1 import vector_io_pb2 as vio
from llama_mesh.runtime.errors import InvalidArgument, NotFound
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.struct_values import struct_dict
from services.tool_runtime.chunking import split_into_chunks
from services.tool_runtime.document_sources import DOCUMENTS_FOLDER, SourcePolicy, decode, document_text, guess_type
from services.tool_runtime.knowledge_context import RetrievedChunk, build_context
from services.tool_runtime.provider import ToolResult, ToolRuntimeProvider, ToolSpec
from services.tool_runtime.query_writer import LLMQueryWriter

DEFAULT_CHUNK_TOKENS = 512
MIN_CHUNK_TOKENS = 16
MAX_CHUNK_TOKENS = 8192
DEFAULT_MAX_CONTEXT_TOKENS = 4096
MAX_CONTEXT_TOKENS = 131072
DEFAULT_MAX_CHUNKS = 5
MAX_CHUNKS = 100
MAX_TEMPLATE_CHARS = 4096
INSERT_BATCH = 1000

KNOWLEDGE_SEARCH = ToolSpec(
    name="knowledge_search",
    description="Search the knowledge base (vector DBs) for passages relevant to a query.",
    parameters={
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to search for."},
            "vector_db_ids": {"type": "array", "items": {"type": "string"}, "description": "Vector DBs to search."},
        },
        "required": ["query"],
    },
)
INSERT = ToolSpec(
    name="insert",
    description="Split documents into chunks and add them to a vector DB.",
    parameters={
        "type": "object",
        "properties": {
            "vector_db_id": {"type": "string"},
            "documents": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "document_id": {"type": "string"},
                        "content": {"type": "string"},
                        "uri": {"type": "string"},
                        "mime_type": {"type": "string"},
                        "metadata": {"type": "object"},
                    },
                    "required": ["document_id"],
                },
            },
            "chunk_size_in_tokens": {"type": "integer"},
        },
        "required": ["vector_db_id", "documents"],
    },
)


class RagRuntimeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Directories local documents may be read from; empty: the `documents` folder of the distribution's data dir.
    # The rest of the data dir (the mesh's databases) is never readable, whatever this lists: inside it, only a listed
    # directory inside it counts (llama_mesh/readable_paths.py).
    allowed_dirs: list[str] = []
    # Fetch URLs whose host is a private, loopback or link-local address (off by default: SSRF).
    allow_private_urls: bool = False
    fetch_timeout_s: float = 30.0


def content_text(content: content_pb2.Content) -> str:
    if content.WhichOneof("value") == "text":
        return content.text
    return " ".join(item.text for item in content.items.items if item.WhichOneof("item") == "text")


def _chunk_sizes(request: pb.InsertDocumentsRequest) -> tuple[int, int]:
    size = request.chunk_size_in_tokens or DEFAULT_CHUNK_TOKENS
    if not MIN_CHUNK_TOKENS <= size <= MAX_CHUNK_TOKENS:
        raise InvalidArgument("chunk_size_in_tokens", f"must be in {MIN_CHUNK_TOKENS}..{MAX_CHUNK_TOKENS}")
    overlap = request.chunk_overlap_in_tokens if request.HasField("chunk_overlap_in_tokens") else size // 4
    if not 0 <= overlap <= size // 2:
        raise InvalidArgument("chunk_overlap_in_tokens", f"must be in 0..{size // 2} (half the chunk size)")
    return size, overlap


def _check_query_config(config: pb.RAGQueryConfig) -> None:
    """The caps of a query config (see RAGQueryConfig in the contract)."""
    if not 0 <= config.max_chunks <= MAX_CHUNKS:
        raise InvalidArgument("query_config.max_chunks", f"must be in 0..{MAX_CHUNKS}")
    if not 0 <= config.max_tokens_in_context <= MAX_CONTEXT_TOKENS:
        raise InvalidArgument("query_config.max_tokens_in_context", f"must be in 0..{MAX_CONTEXT_TOKENS}")
    template = config.chunk_template
    if len(template) > MAX_TEMPLATE_CHARS:
        raise InvalidArgument("query_config.chunk_template", f"is at most {MAX_TEMPLATE_CHARS} characters")
    if template and "{chunk.content}" not in template:
        raise InvalidArgument(
            "query_config.chunk_template",
            'has no "{chunk.content}" placeholder, so the model would get no context; use e.g. '
            '"Result {index}\\nContent: {chunk.content}\\nMetadata: {metadata}\\n"',
        )


class RagRuntime(ToolRuntimeProvider):
    def __init__(self, config: RagRuntimeConfig, data_dir: Path, gateway: GatewayClient) -> None:
        dirs = tuple(Path(d).expanduser() for d in config.allowed_dirs) or (data_dir / DOCUMENTS_FOLDER,)
        self._policy = SourcePolicy(dirs, config.allow_private_urls, config.fetch_timeout_s, data_dir)
        self._gateway = gateway
        self._query_writer = LLMQueryWriter(gateway)

    async def close(self) -> None:
        await self._gateway.close()

    async def _document_text(self, document: pb.RAGDocument, field: str) -> str:
        source = document.WhichOneof("source")
        if source == "content":
            text = content_text(document.content)
            if document.mime_type:
                text = await asyncio.to_thread(decode, text.encode(), guess_type("", document.mime_type), field)
            return text
        if source == "uri":
            return await document_text(document.uri, document.mime_type, self._policy, f"{field}.uri")
        raise InvalidArgument(field, "content or uri is required")

    async def insert_documents(self, request: pb.InsertDocumentsRequest, time_left: float | None) -> int:
        """Every document is read and chunked before anything is inserted, so a refused document stores nothing."""
        if not request.vector_db_id:
            raise InvalidArgument("vector_db_id", "is required")
        if not request.documents:
            raise InvalidArgument("documents", "at least one document is required")
        size, overlap = _chunk_sizes(request)
        chunks: list[vio.Chunk] = []
        for index, document in enumerate(request.documents):
            field = f"documents[{index}]"
            if not document.document_id:
                raise InvalidArgument(f"{field}.document_id", "is required")
            text = await self._document_text(document, field)
            pieces = await asyncio.to_thread(split_into_chunks, text, size, overlap)
            for position, piece in enumerate(pieces):
                chunk = vio.Chunk(content=content_pb2.Content(text=piece))
                chunk.metadata.update(struct_dict(document.metadata, f"{field}.metadata"))
                chunk.metadata.update({"document_id": document.document_id, "chunk_index": position})
                chunks.append(chunk)
        for start in range(0, len(chunks), INSERT_BATCH):
            batch = chunks[start : start + INSERT_BATCH]
            insert = vio.InsertChunksRequest(vector_db_id=request.vector_db_id, chunks=batch)
            await self._gateway.call(self._gateway.vector_io.InsertChunks, insert, time_left)
        return len(chunks)

    async def query_knowledge(
        self, request: pb.QueryKnowledgeRequest, time_left: float | None
    ) -> pb.QueryKnowledgeResponse:
        if not request.vector_db_ids:
            raise InvalidArgument("vector_db_ids", "at least one vector DB is required")
        config = request.query_config
        generator = config.query_generator_config
        separator = (generator.simple.separator if generator.HasField("simple") else "") or " "
        content = request.content
        if content.WhichOneof("value") == "items":
            query = separator.join(i.text for i in content.items.items if i.WhichOneof("item") == "text")
        else:
            query = content.text
        if not query.strip():
            raise InvalidArgument("content", "a text query is required")
        if generator.HasField("llm"):
            query = await self._query_writer.write(generator.llm, query, time_left)
        max_chunks = config.max_chunks or DEFAULT_MAX_CHUNKS
        _check_query_config(config)
        params = vio.QueryParams(max_chunks=max_chunks, mode=config.mode)
        replies = await asyncio.gather(
            *(
                self._gateway.call(
                    self._gateway.vector_io.QueryChunks,
                    vio.QueryChunksRequest(vector_db_id=db, query=content_pb2.Content(text=query), params=params),
                    time_left,
                )
                for db in request.vector_db_ids
            )
        )
        found = [
            RetrievedChunk(content_text(chunk.content), json_format.MessageToDict(chunk.metadata), score)
            for reply in replies
            for chunk, score in zip(reply.chunks, reply.scores, strict=True)
        ]
        found.sort(key=lambda chunk: chunk.score, reverse=True)
        text, used = await asyncio.to_thread(
            build_context,
            query,
            found[:max_chunks],
            config.chunk_template,
            config.max_tokens_in_context or DEFAULT_MAX_CONTEXT_TOKENS,
        )
        response = pb.QueryKnowledgeResponse(
            content=content_pb2.Content(text=text),
            document_ids=[chunk.document_id for chunk in used],
            scores=[chunk.score for chunk in used],
        )
        response.metadata.update({"query": query})
        return response

    async def list_tools(self, tool_group: resources_pb2.ToolGroup, time_left: float | None) -> list[ToolSpec]:
        return [KNOWLEDGE_SEARCH, INSERT]

    async def invoke(
        self, tool_group: resources_pb2.ToolGroup, tool_name: str, kwargs: dict[str, Any], time_left: float | None
    ) -> ToolResult:
        if tool_name == KNOWLEDGE_SEARCH.name:
            return await self._knowledge_search(tool_group, kwargs, time_left)
        if tool_name == INSERT.name:
            request = pb.InsertDocumentsRequest()
            try:
                json_format.ParseDict(kwargs, request)
            except json_format.ParseError as exc:
                raise InvalidArgument("kwargs", str(exc)) from exc
            inserted = await self.insert_documents(request, time_left)
            return ToolResult(text=f"Inserted {inserted} chunks.", metadata={"chunks_inserted": inserted})
        raise NotFound(f"tool group {tool_group.identifier!r} has no tool {tool_name!r}", reason="TOOL_NOT_FOUND")

    async def _knowledge_search(
        self, tool_group: resources_pb2.ToolGroup, kwargs: dict[str, Any], time_left: float | None
    ) -> ToolResult:
        query = kwargs.get("query")
        if not isinstance(query, str) or not query.strip():
            raise InvalidArgument("kwargs.query", "a non-empty string is required")
        group_args = struct_dict(tool_group.args, "tool_group.args")
        vector_db_ids = kwargs.get("vector_db_ids", group_args.get("vector_db_ids"))
        if not isinstance(vector_db_ids, list) or not all(isinstance(v, str) for v in vector_db_ids):
            raise InvalidArgument("kwargs.vector_db_ids", "a list of vector DB ids is required")
        reply = await self.query_knowledge(
            pb.QueryKnowledgeRequest(vector_db_ids=vector_db_ids, content=content_pb2.Content(text=query)), time_left
        )
        return ToolResult(text=reply.content.text, metadata={"document_ids": list(reply.document_ids)})
