"""Faults under load, with real processes: each of vector_io, datasetio, telemetry, inference, safety, tool_runtime and
the gateway is killed with SIGKILL while a writer keeps calling it (streams, writes, shield runs). Callers get
UNAVAILABLE (naming the service) instead of a hang, the launcher's supervision starts the process again with backoff,
the writer gets through again, and nothing a call acknowledged before the kill is lost: vector chunks, dataset rows,
spans, RAG documents, registry entries."""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from llama.common.v1 import content_pb2
from llama.common.v1 import resources_pb2 as res
from llama.datasetio.v1 import datasetio_pb2, datasetio_pb2_grpc
from llama.inference.v1 import inference_pb2, inference_pb2_grpc
from llama.registry.v1 import registry_pb2, registry_pb2_grpc
from llama.safety.v1 import safety_pb2, safety_pb2_grpc
from llama.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc
from llama.tool_runtime.v1 import tool_runtime_pb2, tool_runtime_pb2_grpc
from llama.vector_io.v1 import vector_io_pb2, vector_io_pb2_grpc
from llama_mesh.launcher import LocalMesh, isolated_env
from llama_mesh.runtime.mesh_identity import peer_metadata
from tests.mesh.helpers import (
    CHAT_MODEL,
    EMBEDDING_MODEL,
    Writer,
    assistant,
    expect_error,
    greedy,
    marker_chunk,
    user,
)

WAIT_SECONDS = 300  # bounds on every wait below; a loaded machine is slow, a broken mesh never gets there
DIMENSION = 384
VECTOR_DB = "kept-chunks"
DATASET = "kept-rows"
RAG_DB = "kept-documents"


def _row(number: int) -> struct_pb2.Struct:
    row = struct_pb2.Struct()
    row.update({"input_query": f"q{number}", "expected_answer": str(number), "chat_completion_input": "[]"})
    return row


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[LocalMesh]:
    mesh = LocalMesh("local-cpu", env=isolated_env(tmp_path / "data"), log_dir=tmp_path / "logs")
    mesh.start(only={"gateway", "vector_io", "datasetio", "telemetry"})
    yield mesh
    mesh.stop()


def _kill_and_supervise(mesh: LocalMesh, name: str, probe: Callable[[], object] | None) -> list[str]:
    """SIGKILL `name`; `probe` (a call that needs it) must fail UNAVAILABLE at once, naming it; then supervision
    starts it again and it serves."""
    process = mesh.processes[name]
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=WAIT_SECONDS)
    if probe is not None:
        error = expect_error(probe, grpc.StatusCode.UNAVAILABLE)
        assert f"{name} service" in error.details()
    events: list[str] = []
    deadline = time.monotonic() + WAIT_SECONDS
    while not any(event.startswith(f"{name} restarted") for event in events):
        assert time.monotonic() < deadline, f"{name} was not restarted: {events}"
        events += mesh.supervise()
        time.sleep(0.1)
    mesh.wait_until_serving(name, timeout=WAIT_SECONDS)
    assert events[0].startswith(f"{name} exited with code -9; restarting it in")
    return events


def test_killed_processes_come_back_and_keep_what_they_acknowledged(mesh: LocalMesh) -> None:
    with grpc.insecure_channel(mesh.gateway_address) as channel:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        vectors = vector_io_pb2_grpc.VectorIOServiceStub(channel)
        datasets = datasetio_pb2_grpc.DatasetIOServiceStub(channel)
        registry.RegisterVectorDB(
            registry_pb2.RegisterVectorDBRequest(
                vector_db=res.VectorDB(
                    identifier=VECTOR_DB, embedding_model=EMBEDDING_MODEL, embedding_dimension=DIMENSION
                )
            ),
            timeout=60,
        )
        rows_source = res.DataSource(rows=res.RowsSource(rows=[_row(-1)]))
        dataset = res.Dataset(identifier=DATASET, purpose=res.DATASET_PURPOSE_EVAL_QUESTION_ANSWER, source=rows_source)
        registry.RegisterDataset(registry_pb2.RegisterDatasetRequest(dataset=dataset), timeout=60)

        def insert(number: int) -> object:
            request = vector_io_pb2.InsertChunksRequest(vector_db_id=VECTOR_DB, chunks=[marker_chunk(number)])
            return vectors.InsertChunks(request, timeout=10)

        def append(number: int) -> object:
            request = datasetio_pb2.AppendRowsRequest(dataset_id=DATASET, rows=[_row(number)])
            return datasets.AppendRows(request, timeout=10)

        for name, write in (("vector_io", insert), ("datasetio", append), ("gateway", insert)):
            writer = Writer(write)
            writer.start()
            try:
                writer.wait_for(3)
                probe = None if name == "gateway" else (lambda write=write: write(10**6))
                _kill_and_supervise(mesh, name, probe)
                written = len(writer.acknowledged)
                writer.wait_for(written + 3)  # the writer gets through again
            finally:
                writer.finish()
            assert set(writer.failures) <= {grpc.StatusCode.UNAVAILABLE}, writer.failures

            if write is insert:
                ids = [f"c{number}" for number in writer.acknowledged]
                deleted = vectors.DeleteChunks(
                    vector_io_pb2.DeleteChunksRequest(vector_db_id=VECTOR_DB, chunk_ids=ids), timeout=60
                )
                assert deleted.deleted_count == len(ids)  # every acknowledged chunk was still there
            else:
                stored = set()
                start = 0
                while True:
                    page = datasets.IterRows(
                        datasetio_pb2.IterRowsRequest(dataset_id=DATASET, start_index=start, limit=1000), timeout=60
                    )
                    stored |= {row["input_query"] for row in page.rows}
                    if not page.HasField("next_start_index"):
                        break
                    start = page.next_start_index
                assert {f"q{number}" for number in writer.acknowledged} <= stored

        # The registry kept both entries across the gateway's SIGKILL.
        registry.GetVectorDB(registry_pb2.GetVectorDBRequest(vector_db_id=VECTOR_DB), timeout=60)
        registry.GetDataset(registry_pb2.GetDatasetRequest(dataset_id=DATASET), timeout=60)


def test_a_process_that_keeps_dying_is_restarted_with_growing_backoff(mesh: LocalMesh) -> None:
    """Backoff doubles with each death in a row, and the rest of the mesh keeps serving meanwhile."""
    first = _kill_and_supervise(mesh, "datasetio", None)
    second = _kill_and_supervise(mesh, "datasetio", None)
    assert "restarting it in 1s" in first[0] and "restarting it in 2s" in second[0]
    with grpc.insecure_channel(mesh.gateway_address) as channel:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        registry.ListModels(registry_pb2.ListModelsRequest(), timeout=60)
        expect_error(
            lambda: registry.GetDataset(registry_pb2.GetDatasetRequest(dataset_id="none"), timeout=60),
            grpc.StatusCode.NOT_FOUND,
        )


def test_a_killed_telemetry_service_keeps_the_spans_it_acknowledged(mesh: LocalMesh) -> None:
    """Spans exported straight to the receiver (as every service does) while it is killed: an Export that was
    answered is stored; queries through the gateway are UNAVAILABLE meanwhile."""
    trace_ids: dict[int, str] = {}
    with (
        grpc.insecure_channel(mesh.config.service("telemetry").address) as receiver,
        grpc.insecure_channel(mesh.gateway_address) as channel,
    ):
        otlp = trace_service_pb2_grpc.TraceServiceStub(receiver)
        telemetry = telemetry_pb2_grpc.TelemetryServiceStub(channel)

        def export(number: int) -> object:
            trace_id = secrets.token_bytes(16)
            span = trace_pb2.Span(
                trace_id=trace_id,
                span_id=secrets.token_bytes(8),
                name=f"s{number}",
                start_time_unix_nano=1,
                end_time_unix_nano=2,
            )
            request = trace_service_pb2.ExportTraceServiceRequest(
                resource_spans=[trace_pb2.ResourceSpans(scope_spans=[trace_pb2.ScopeSpans(spans=[span])])]
            )
            # as a mesh process: services (the telemetry receiver too) serve only the mesh's own processes
            reply = otlp.Export(request, timeout=10, metadata=peer_metadata("tests", mesh.secret))
            trace_ids[number] = trace_id.hex()
            return reply

        writer = Writer(export)
        writer.start()
        try:
            writer.wait_for(3)
            probe = lambda: telemetry.QueryTraces(telemetry_pb2.QueryTracesRequest(page_size=1), timeout=10)  # noqa: E731
            _kill_and_supervise(mesh, "telemetry", probe)
            writer.wait_for(len(writer.acknowledged) + 3)
        finally:
            writer.finish()
        assert set(writer.failures) <= {grpc.StatusCode.UNAVAILABLE}, writer.failures
        for number in writer.acknowledged:
            trace = telemetry.GetTrace(telemetry_pb2.GetTraceRequest(trace_id=trace_ids[number]), timeout=60)
            assert trace.trace_id == trace_ids[number]


@pytest.fixture(scope="module")
def model_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMesh]:
    """The services that run a model or call one: inference (the small chat and embedding models), safety, and
    tool_runtime with vector_io behind it for RAG."""
    root = tmp_path_factory.mktemp("model-mesh")
    mesh = LocalMesh("local-cpu", env=isolated_env(root / "data"), log_dir=root / "logs")
    mesh.start(only={"gateway", "inference", "safety", "vector_io", "tool_runtime"})
    yield mesh
    mesh.stop()


def _survive_a_kill(mesh: LocalMesh, name: str, write: Callable[[int], object], probe: Callable[[], object]) -> Writer:
    """`write` keeps calling through the gateway while `name` is killed and supervision brings it back; the writer
    gets through again afterwards and every call that failed meanwhile failed UNAVAILABLE."""
    writer = Writer(write)
    writer.start()
    try:
        writer.wait_for(2)
        _kill_and_supervise(mesh, name, probe)
        writer.wait_for(len(writer.acknowledged) + 2)
    finally:
        writer.finish()
    assert set(writer.failures) <= {grpc.StatusCode.UNAVAILABLE}, writer.failures
    return writer


def test_a_killed_inference_service_fails_its_streams_unavailable_and_streams_again(model_mesh: LocalMesh) -> None:
    with grpc.insecure_channel(model_mesh.gateway_address) as channel:
        inference = inference_pb2_grpc.InferenceServiceStub(channel)

        def stream(number: int) -> object:
            request = inference_pb2.StreamChatCompletionRequest(
                model_id=CHAT_MODEL, messages=[user(f"Count to {number + 3}.")], sampling_params=greedy(8)
            )
            events = [event.WhichOneof("event") for event in inference.StreamChatCompletion(request, timeout=60)]
            assert events[-1] == "complete", events
            return events

        def probe() -> object:
            request = inference_pb2.ChatCompletionRequest(
                model_id=CHAT_MODEL, messages=[user("Hi.")], sampling_params=greedy(1)
            )
            return inference.ChatCompletion(request, timeout=10)

        _survive_a_kill(model_mesh, "inference", stream, probe)


def test_a_killed_safety_service_fails_shield_runs_unavailable_and_runs_them_again(model_mesh: LocalMesh) -> None:
    with grpc.insecure_channel(model_mesh.gateway_address) as channel:
        safety = safety_pb2_grpc.SafetyServiceStub(channel)

        def run_shield(number: int) -> object:
            request = safety_pb2.RunShieldRequest(
                shield_id="code-scanner",
                messages=[user("Run it."), assistant(f"```python\nimport os\nos.system(input())  # {number}\n```")],
            )
            reply = safety.RunShield(request, timeout=10)
            assert reply.violation.metadata["violation_type"] == "insecure_code"
            return reply

        _survive_a_kill(model_mesh, "safety", run_shield, lambda: run_shield(10**6))


def test_a_killed_tool_runtime_keeps_the_documents_it_acknowledged(model_mesh: LocalMesh) -> None:
    """RAG inserts (tool_runtime embeds through the gateway and writes to vector_io) while tool_runtime is killed:
    every insert that was answered is found by a query once it is back."""
    with grpc.insecure_channel(model_mesh.gateway_address) as channel:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        tools = tool_runtime_pb2_grpc.ToolRuntimeServiceStub(channel)
        registry.RegisterVectorDB(
            registry_pb2.RegisterVectorDBRequest(
                vector_db=res.VectorDB(identifier=RAG_DB, embedding_model=EMBEDDING_MODEL)
            ),
            timeout=60,
        )

        def insert(number: int) -> object:
            document = tool_runtime_pb2.RAGDocument(
                document_id=f"d{number}", content=content_pb2.Content(text=f"Lighthouse log entry number {number}.")
            )
            request = tool_runtime_pb2.InsertDocumentsRequest(
                vector_db_id=RAG_DB, chunk_size_in_tokens=64, documents=[document]
            )
            return tools.InsertDocuments(request, timeout=30)

        writer = _survive_a_kill(model_mesh, "tool_runtime", insert, lambda: insert(10**6))
        acknowledged = {f"d{number}" for number in writer.acknowledged}
        assert len(acknowledged) <= 100, "more documents than one query returns"
        answer = tools.QueryKnowledge(
            tool_runtime_pb2.QueryKnowledgeRequest(
                vector_db_ids=[RAG_DB],
                content=content_pb2.Content(text="Lighthouse log entry"),
                query_config=tool_runtime_pb2.RAGQueryConfig(max_chunks=100, max_tokens_in_context=131072),
            ),
            timeout=60,
        )
        assert acknowledged <= set(answer.document_ids), acknowledged - set(answer.document_ids)
