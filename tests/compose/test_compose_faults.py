"""A fault in the container mesh, driven with the Docker SDK: the vector_io service's process is SIGKILLed inside its
container while a writer keeps inserting chunks through the published gateway. The container's init process ends
with it, the restart policy (`restart: unless-stopped`) starts the container again, the writer gets through again,
and every chunk an insert acknowledged, before or after the kill, is still there.

`docker kill` would not do: Docker marks a container it was told to kill as stopped by hand, and `unless-stopped`
then leaves it down. The process is killed from inside instead, as a crash would end it.

deploy/compose-test.sh (`make test-compose`) starts the containers and sets LLAMA_MESH_COMPOSE_GATEWAY and
LLAMA_MESH_COMPOSE_PROJECT; without them these tests are skipped."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import docker
import grpc
import pytest
from docker.models.containers import Container

from llama.common.v1 import resources_pb2 as res
from llama.registry.v1 import registry_pb2, registry_pb2_grpc
from llama.vector_io.v1 import vector_io_pb2, vector_io_pb2_grpc
from tests.mesh.helpers import EMBEDDING_MODEL, Writer, marker_chunk

GATEWAY = os.environ.get("LLAMA_MESH_COMPOSE_GATEWAY", "")
PROJECT = os.environ.get("LLAMA_MESH_COMPOSE_PROJECT", "")
WAIT_SECONDS = 300  # bounds on every wait: containers start slowly on a busy machine; a broken mesh never gets there
DIMENSION = 384

pytestmark = pytest.mark.skipif(not (GATEWAY and PROJECT), reason="needs the compose mesh (make test-compose)")

# Run inside the container: SIGKILL the process started as `python -m services.<name>` (the init process's child),
# its pid printed first.
KILL_SERVICE = """
import os, signal, sys
module = sys.argv[1]
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            argv = file.read().split(b"\\0")
    except OSError:  # a process that ended meanwhile
        continue
    if argv[1:3] == [b"-m", module.encode()]:
        print(pid, flush=True)
        os.kill(int(pid), signal.SIGKILL)
"""


@pytest.fixture(scope="module")
def channel() -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(GATEWAY) as channel:
        grpc.channel_ready_future(channel).result(timeout=WAIT_SECONDS)
        yield channel


def _container(service: str) -> Container:
    client = docker.from_env()
    labels = [f"com.docker.compose.project={PROJECT}", f"com.docker.compose.service={service}"]
    (container,) = client.containers.list(filters={"label": labels})
    return container


def test_a_killed_service_container_is_restarted_and_keeps_what_it_acknowledged(channel: grpc.Channel) -> None:
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    vectors = vector_io_pb2_grpc.VectorIOServiceStub(channel)
    vector_db = f"compose-kept-{uuid.uuid4().hex[:8]}"
    registry.RegisterVectorDB(
        registry_pb2.RegisterVectorDBRequest(
            vector_db=res.VectorDB(identifier=vector_db, embedding_model=EMBEDDING_MODEL, embedding_dimension=DIMENSION)
        ),
        timeout=WAIT_SECONDS,
    )

    def insert(number: int) -> object:
        request = vector_io_pb2.InsertChunksRequest(vector_db_id=vector_db, chunks=[marker_chunk(number)])
        return vectors.InsertChunks(request, timeout=30)

    container = _container("vector_io")
    restarts = container.attrs["RestartCount"]
    writer = Writer(insert)
    writer.start()
    try:
        writer.wait_for(3)
        killed = container.exec_run(["python", "-c", KILL_SERVICE, "services.vector_io"])
        # The container ends with its service, this command with it (137) unless it exited first.
        assert killed.exit_code in (0, 137) and killed.output.strip().isdigit(), killed
        deadline = time.monotonic() + WAIT_SECONDS
        while container.attrs["RestartCount"] == restarts:
            assert time.monotonic() < deadline, f"vector_io was not restarted: {container.attrs['State']}"
            time.sleep(0.5)
            container.reload()
        assert container.attrs["RestartCount"] == restarts + 1
        written = len(writer.acknowledged)
        writer.wait_for(written + 3)  # the restarted service serves the writer again
    finally:
        writer.finish()
    assert set(writer.failures) <= {grpc.StatusCode.UNAVAILABLE}, writer.errors

    ids = [f"c{number}" for number in writer.acknowledged]
    deleted = vectors.DeleteChunks(
        vector_io_pb2.DeleteChunksRequest(vector_db_id=vector_db, chunk_ids=ids), timeout=WAIT_SECONDS
    )
    assert deleted.deleted_count == len(ids), writer.errors  # every acknowledged chunk was still there
    registry.UnregisterVectorDB(registry_pb2.UnregisterVectorDBRequest(vector_db_id=vector_db), timeout=WAIT_SECONDS)
