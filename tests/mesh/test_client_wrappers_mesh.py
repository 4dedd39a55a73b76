"""`client.safety`, `client.tool_runtime`, `client.vector_io` and `client.telemetry`, blocking and async, against the
real default mesh; the blocking run is the Python block of docs/calling.md, executed as written."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import pytest

from llama.telemetry.v1 import telemetry_pb2 as pb
from llama_mesh.client import AsyncLlamaMeshClient, LlamaMeshClient, NotFoundError
from llama_mesh.launcher import LocalMesh
from tests.mesh.helpers import EMBEDDING_MODEL

DOC = Path(__file__).resolve().parents[2] / "docs" / "calling.md"
VECTOR_DOC = DOC.with_name("vector-search.md")
WAIT_SECONDS = 60.0  # spans are exported in batches: poll for them this long at most
CLEAN = "print('hello')"
FLAGGED = "os.system(cmd)"
T = TypeVar("T")


def doc_block() -> str:
    blocks = [
        block
        for block in re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
        if "client.safety.run_shield" in block
    ]
    assert len(blocks) == 1
    return blocks[0]


def traceparent() -> tuple[str, tuple[tuple[str, str], ...]]:
    """A new trace id and the W3C header that puts the gateway's span of a call into it."""
    trace_id = secrets.token_hex(16)
    return trace_id, (("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-01"),)


def gateway_root(tree: pb.SpanNode) -> pb.SpanNode | None:
    """The tree once the gateway's span of the RunShield call has arrived (until then another span looks like the
    root), and the safety service's span below it (each process exports its spans on its own schedule)."""
    span = tree.span
    arrived = span.attributes["service.name"] == "llama-mesh.gateway" and span.name.endswith("/RunShield")
    below = any(child.span.name.endswith("/RunShield") for child in tree.children)
    return tree if arrived and below else None


def eventually(probe: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + WAIT_SECONDS
    while (result := probe()) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.2)
    return result


async def eventually_async(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    deadline = time.monotonic() + WAIT_SECONDS
    while (result := await probe()) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.2)
    return result


async def first_within(items: AsyncIterator[T], wanted: Callable[[T], bool], limit: int = 1000) -> T | None:
    """The first of the first `limit` items that is wanted (pages stop being fetched once it is found)."""
    count = 0
    async for item in items:
        if wanted(item):
            return item
        count += 1
        if count >= limit:
            break
    return None


def test_blocking_wrappers_and_the_doc_example(local_mesh: LocalMesh) -> None:
    address = local_mesh.gateway_address
    trace_id, header = traceparent()
    with LlamaMeshClient(address, timeout=120, metadata=header) as traced:
        assert not traced.safety.run_shield("code-scanner", CLEAN).HasField("violation")
    with LlamaMeshClient(address, timeout=120) as client:
        telemetry = client.telemetry

        def tree() -> pb.SpanNode | None:
            try:
                return gateway_root(telemetry.get_span_tree(telemetry.get_trace(trace_id).root_span_id))
            except NotFoundError:
                return None

        root = eventually(tree, "the RunShield call's trace")
        assert telemetry.get_span(trace_id, root.span.span_id).name == root.span.name
        assert any(child.span.name.endswith("/RunShield") for child in root.children)
        # Newest first, so the trace is near the front; `any` stops fetching pages once it is found.
        assert any(trace.trace_id == trace_id for trace in islice(telemetry.iter_traces(page_size=3), 1000))
        roots = islice(telemetry.iter_spans(max_depth=0, page_size=3), 1000)
        assert any(span.span_id == root.span.span_id for span in roots)
        with pytest.raises(NotFoundError):
            telemetry.get_trace("ab" * 16)

    code = doc_block().replace('"127.0.0.1:50051"', repr(address))
    scope: dict[str, Any] = {}
    exec(compile(code, "<the Python block of docs/calling.md>", "exec"), scope)
    assert len(scope["inserted"].chunk_ids) == 2
    assert "lighthouse keeper" in scope["best"].chunks[0].content.text
    assert scope["deleted"].deleted_count == 1
    context = scope["context"]
    assert "Sourdough rises overnight" in context.content.text and list(context.document_ids) == ["bread"]
    assert "knowledge_search" in scope["tools"]
    assert not scope["searched"].error_message and "overnight" in scope["searched"].content.text
    assert scope["verdict"].HasField("violation")
    assert scope["recent"] and scope["tree"].span.name
    with LlamaMeshClient(address, timeout=120) as client:
        left = client.vector_io.query_chunks("notes", "revenue", max_chunks=10, mode="keyword")
        assert not any("revenue" in chunk.content.text for chunk in left.chunks)
        by_text = client.vector_io.query_chunks("notes", "Who feeds the cats?", max_chunks=3)
    # docs/vector-search.md: the query embedded by the caller, then searched without an embedding call.
    [code] = re.findall(r"```python\n(.*?)```", VECTOR_DOC.read_text(), flags=re.DOTALL)
    found: dict[str, Any] = {}
    exec(compile(code.replace('"127.0.0.1:50051"', repr(address)), "<docs/vector-search.md>", "exec"), found)
    assert [c.chunk_id for c in found["by_vector"].chunks] == [c.chunk_id for c in by_text.chunks]
    assert found["by_vector"].chunks[0].chunk_id in [c.chunk_id for c in found["hybrid"].chunks]


async def test_async_wrappers(local_mesh: LocalMesh) -> None:
    address = local_mesh.gateway_address
    trace_id, header = traceparent()
    async with AsyncLlamaMeshClient(address, timeout=120, metadata=header) as traced:
        assert (await traced.safety.run_shield("code-scanner", [{"role": "user", "content": FLAGGED}])).violation
    async with AsyncLlamaMeshClient(address, timeout=120) as client:
        await client.vector_dbs.register("async-notes", embedding_model=EMBEDDING_MODEL)
        inserted = await client.vector_io.insert_chunks(
            "async-notes",
            ["The lighthouse keeper feeds three grey cats every morning.", "Quarterly revenue grew by eight percent."],
        )
        best = await client.vector_io.query_chunks("async-notes", "Who feeds the cats?", max_chunks=1)
        assert "lighthouse keeper" in best.chunks[0].content.text and len(best.scores) == 1
        [vector] = await client.inference.embeddings(EMBEDDING_MODEL, ["Who feeds the cats?"], task_type="query")
        by_vector = await client.vector_io.query_chunks("async-notes", query_vector=vector, max_chunks=1)
        assert [c.chunk_id for c in by_vector.chunks] == [c.chunk_id for c in best.chunks]
        assert (await client.vector_io.delete_chunks("async-notes", inserted.chunk_ids[1:])).deleted_count == 1

        documents = [{"document_id": "bread", "content": "Sourdough rises overnight."}]
        assert (await client.tool_runtime.insert_documents("async-notes", documents)).chunks_inserted >= 1
        context = await client.tool_runtime.query_knowledge(["async-notes"], "How long does dough rise?", max_chunks=1)
        assert "Sourdough rises overnight" in context.content.text and list(context.document_ids) == ["bread"]
        tools = await client.tool_runtime.list_tools("builtin::rag")
        assert "knowledge_search" in {tool.definition.name for tool in tools}
        searched = await client.tool_runtime.invoke_tool(
            "builtin::rag", "knowledge_search", {"query": "dough", "vector_db_ids": ["async-notes"]}
        )
        assert not searched.error_message and "overnight" in searched.content.text

        assert not (await client.safety.run_shield("code-scanner", CLEAN)).HasField("violation")

        telemetry = client.telemetry

        async def tree() -> pb.SpanNode | None:
            try:
                trace = await telemetry.get_trace(trace_id)
                return gateway_root(await telemetry.get_span_tree(trace.root_span_id))
            except NotFoundError:
                return None

        root = await eventually_async(tree, "the RunShield call's trace")
        assert (await telemetry.get_span(trace_id, root.span.span_id)).name == root.span.name
        assert await first_within(telemetry.iter_traces(page_size=3), lambda trace: trace.trace_id == trace_id)
        roots = telemetry.iter_spans(max_depth=0, page_size=3)
        assert await first_within(roots, lambda span: span.span_id == root.span.span_id)
