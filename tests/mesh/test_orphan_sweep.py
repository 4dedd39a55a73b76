"""Orphans a crash leaves are removed when the service that holds them starts again, with real processes and gateway
auth on (the services' token may use every resource, so their view of the registry is complete):

- a vector DB's collection that vector_io prepared but that never reached the registry (the gateway died between the
  two), and
- rows appended to a dataset id that is no longer registered (an append that raced the unregister),

are made here by calling the services as the gateway does, without the registry write. After a SIGKILL and the
launcher's restart, each service's sweep drops them, and what registered resources hold (a principal's chunk and
appended row) stays."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from google.protobuf.any_pb2 import Any as AnyMessage

from llama.common.v1 import resources_pb2 as res
from llama.datasetio.v1 import datasetio_pb2, datasetio_pb2_grpc
from llama.provider.v1 import provider_pb2, provider_pb2_grpc
from llama.registry.v1 import registry_pb2, registry_pb2_grpc
from llama.vector_io.v1 import vector_io_pb2, vector_io_pb2_grpc
from llama_mesh.launcher import LocalMesh, isolated_env
from llama_mesh.resources import collection_name, resource_metadata
from llama_mesh.runtime.mesh_identity import peer_metadata
from tests.gateway.distribution_variant import distribution_variant
from tests.mesh.helpers import EMBEDDING_MODEL, expect_error, marker_chunk

WAIT_SECONDS = 300  # bounds on every wait below; a loaded machine is slow, a broken mesh never gets there
DIMENSION = 384
ALICE = "alice-P4w9-token"
SERVICES = "services-R7t2-token"
SWEPT = ("vector_io", "datasetio")


def _with_auth(raw: dict[str, Any]) -> None:
    raw["gateway"]["auth"] = {
        "service_token": "mesh-services",
        "tokens": [
            {"name": "mesh-services", "token": SERVICES, "resources": "all"},
            {
                "name": "alice",
                "token": ALICE,
                "resources": {"models": [EMBEDDING_MODEL], "vector_dbs": ["alice-*"], "datasets": ["alice-*"]},
            },
        ],
    }


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[LocalMesh]:
    config = distribution_variant(tmp_path, _with_auth)
    mesh = LocalMesh(str(config), env=isolated_env(tmp_path / "data"), log_dir=tmp_path / "logs")
    mesh.start(only={"gateway", *SWEPT})
    yield mesh
    mesh.stop()


def _row(text: str) -> struct_pb2.Struct:
    row = struct_pb2.Struct()
    row.update({"input_query": text, "expected_answer": text, "chat_completion_input": "[]"})
    return row


def _restart(mesh: LocalMesh, names: tuple[str, ...]) -> dict[str, int]:
    """SIGKILL the processes, let supervision start them again; the size of each one's log when it died."""
    for name in names:
        os.kill(mesh.processes[name].pid, signal.SIGKILL)
        mesh.processes[name].wait(timeout=WAIT_SECONDS)
    assert mesh.log_dir is not None
    offsets = {name: (mesh.log_dir / f"{name}.log").stat().st_size for name in names}
    restarted: set[str] = set()
    deadline = time.monotonic() + WAIT_SECONDS
    while restarted != set(names):
        assert time.monotonic() < deadline, f"not restarted: {set(names) - restarted}"
        restarted |= {event.split()[0] for event in mesh.supervise() if " restarted " in event}
        time.sleep(0.1)
    for name in names:
        mesh.wait_until_serving(name, timeout=WAIT_SECONDS)
    return offsets


def _log_after_sweep(mesh: LocalMesh, name: str, offset: int) -> str:
    """What the restarted process logged, once its orphan sweep is done."""
    assert mesh.log_dir is not None
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with open(mesh.log_dir / f"{name}.log", "rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        if "orphan sweep done" in text:
            return text
        assert time.monotonic() < deadline, f"{name} did not finish its orphan sweep:\n{text[-3000:]}"
        time.sleep(0.2)


def test_orphans_are_dropped_after_a_restart_and_registered_data_stays(mesh: LocalMesh) -> None:
    alice = (("authorization", f"Bearer {ALICE}"),)
    with grpc.insecure_channel(mesh.gateway_address) as channel:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        vectors = vector_io_pb2_grpc.VectorIOServiceStub(channel)
        datasets = datasetio_pb2_grpc.DatasetIOServiceStub(channel)
        kept_db = res.VectorDB(identifier="alice-kept", embedding_model=EMBEDDING_MODEL, embedding_dimension=DIMENSION)
        kept_db = registry.RegisterVectorDB(
            registry_pb2.RegisterVectorDBRequest(vector_db=kept_db), timeout=60, metadata=alice
        )
        vectors.InsertChunks(
            vector_io_pb2.InsertChunksRequest(vector_db_id="alice-kept", chunks=[marker_chunk(0)]),
            timeout=60,
            metadata=alice,
        )
        rows = res.DataSource(rows=res.RowsSource(rows=[_row("inline")]))
        kept_rows = res.Dataset(identifier="alice-rows", purpose=res.DATASET_PURPOSE_EVAL_QUESTION_ANSWER, source=rows)
        kept_rows = registry.RegisterDataset(
            registry_pb2.RegisterDatasetRequest(dataset=kept_rows), timeout=60, metadata=alice
        )
        datasets.AppendRows(
            datasetio_pb2.AppendRowsRequest(dataset_id="alice-rows", rows=[_row("appended")]),
            timeout=60,
            metadata=alice,
        )

        # The orphans: made as the gateway makes them, with no registry write after.
        as_gateway = peer_metadata("gateway", mesh.secret)
        orphan_db = res.VectorDB()
        orphan_db.CopyFrom(kept_db)
        orphan_db.identifier = orphan_db.provider_resource_id = "orphan-chunks"
        orphan_rows = res.Dataset()
        orphan_rows.CopyFrom(kept_rows)
        orphan_rows.identifier = orphan_rows.provider_resource_id = "orphan-rows"
        packed = AnyMessage()
        packed.Pack(orphan_db)
        vector_io = grpc.insecure_channel(mesh.config.service("vector_io").address)
        datasetio = grpc.insecure_channel(mesh.config.service("datasetio").address)
        with vector_io, datasetio:
            provider_pb2_grpc.ResourceLifecycleServiceStub(vector_io).PrepareResource(
                provider_pb2.PrepareResourceRequest(resource=packed), timeout=60, metadata=as_gateway
            )
            direct_vectors = vector_io_pb2_grpc.VectorIOServiceStub(vector_io)
            direct_datasets = datasetio_pb2_grpc.DatasetIOServiceStub(datasetio)
            direct_datasets.AppendRows(
                datasetio_pb2.AppendRowsRequest(dataset_id="orphan-rows", rows=[_row("orphan")]),
                timeout=60,
                metadata=(*as_gateway, resource_metadata(orphan_rows)),
            )

            offsets = _restart(mesh, SWEPT)
            vector_log = _log_after_sweep(mesh, "vector_io", offsets["vector_io"])
            dataset_log = _log_after_sweep(mesh, "datasetio", offsets["datasetio"])

            assert f"dropping collection {collection_name('orphan-chunks')} " in vector_log
            assert "orphan sweep done: 1 dropped" in vector_log
            assert "dropping appended rows of dataset orphan-rows " in dataset_log
            assert "orphan sweep done: 1 dropped" in dataset_log
            # The dropped collection refuses writes; the orphan dataset id holds no appended rows any more.
            insert = vector_io_pb2.InsertChunksRequest(vector_db_id="orphan-chunks", chunks=[marker_chunk(1)])
            expect_error(
                lambda: direct_vectors.InsertChunks(
                    insert, timeout=60, metadata=(*as_gateway, resource_metadata(orphan_db))
                ),
                grpc.StatusCode.NOT_FOUND,
            )
            left = direct_datasets.IterRows(
                datasetio_pb2.IterRowsRequest(dataset_id="orphan-rows"),
                timeout=60,
                metadata=(*as_gateway, resource_metadata(orphan_rows)),
            )
            assert [row["input_query"] for row in left.rows] == ["inline"]

        # Alice's registered data came through the restart.
        deleted = vectors.DeleteChunks(
            vector_io_pb2.DeleteChunksRequest(vector_db_id="alice-kept", chunk_ids=["c0"]), timeout=60, metadata=alice
        )
        assert deleted.deleted_count == 1
        kept = datasets.IterRows(datasetio_pb2.IterRowsRequest(dataset_id="alice-rows"), timeout=60, metadata=alice)
        assert [row["input_query"] for row in kept.rows] == ["inline", "appended"]
