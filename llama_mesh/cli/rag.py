"""`llama-mesh rag insert|query`: put documents into a vector DB through builtin::rag, and ask it for context."""

from __future__ import annotations

from pathlib import Path

import click

from llama.common.v1 import content_pb2, retrieval_pb2
from llama.tool_runtime.v1 import tool_runtime_pb2
from llama_mesh.cli.output import print_json, stderr, stdout
from llama_mesh.cli.state import get_state, json_option

SEARCH_MODES = {
    "vector": retrieval_pb2.SEARCH_MODE_VECTOR,
    "keyword": retrieval_pb2.SEARCH_MODE_KEYWORD,
    "hybrid": retrieval_pb2.SEARCH_MODE_HYBRID,
}


@click.group(help="Retrieval-augmented generation: insert documents, query for context (builtin::rag).")
def rag() -> None:
    pass


@rag.command(
    help="Chunk and insert DOCUMENTS (file paths the tool_runtime service may read, or --text) into a vector DB."
)
@click.argument("documents", nargs=-1)
@click.option("--vector-db", "vector_db_id", required=True, help="A registered vector DB id.")
@click.option("--text", "texts", multiple=True, help="Inline text to insert as a document (repeatable).")
@click.option("--chunk-size", type=click.IntRange(min=1), default=512, show_default=True, help="Tokens per chunk.")
@click.option("--overlap", type=click.IntRange(min=0), help="Tokens shared by neighbouring chunks.")
@json_option
def insert(
    documents: tuple[str, ...], vector_db_id: str, texts: tuple[str, ...], chunk_size: int, overlap: int | None
) -> None:
    if not documents and not texts:
        raise click.UsageError("give at least one document path or --text")
    docs = [
        tool_runtime_pb2.RAGDocument(document_id=Path(path).name, uri=str(Path(path).resolve())) for path in documents
    ]
    docs += [
        tool_runtime_pb2.RAGDocument(document_id=f"text-{index}", content=content_pb2.Content(text=text))
        for index, text in enumerate(texts)
    ]
    state = get_state()
    stderr.print(f"inserting {len(docs)} document(s) into {vector_db_id}…", style="dim")
    reply = state.client().tool_runtime.insert_documents(
        vector_db_id, docs, chunk_size_in_tokens=chunk_size, chunk_overlap_in_tokens=overlap
    )
    if state.json:
        print_json(reply)
    else:
        stdout.print(f"inserted {reply.chunks_inserted} chunks from {len(docs)} document(s) into {vector_db_id}")


@rag.command(help="Print the context builtin::rag retrieves for QUERY from one or more vector DBs.")
@click.argument("query")
@click.option("--vector-db", "vector_db_ids", multiple=True, required=True, help="A vector DB id (repeatable).")
@click.option("--max-chunks", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--mode", type=click.Choice(list(SEARCH_MODES)), default="vector", show_default=True)
@json_option
def query(query: str, vector_db_ids: tuple[str, ...], max_chunks: int, mode: str) -> None:
    state = get_state()
    reply = state.client().tool_runtime.query_knowledge(
        vector_db_ids, query, max_chunks=max_chunks, mode=SEARCH_MODES[mode]
    )
    if state.json:
        print_json(reply)
        return
    stdout.print(reply.content.text, markup=False)
    if reply.document_ids:
        stderr.print(f"documents: {', '.join(dict.fromkeys(reply.document_ids))}", style="dim")
