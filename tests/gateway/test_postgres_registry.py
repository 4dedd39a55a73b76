"""Two gateway processes share a registry in a real PostgreSQL server (started by the test): what one registers the
other serves, what one unregisters the other no longer finds, a race to register one identifier has one winner, and
two replicas naming one physical resource at once prepare it once, and a gateway holds at most
MAX_REGISTRATIONS_IN_PROGRESS connections for the locks of registrations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import psycopg
import pytest
from google.protobuf.message import Message

from gateway.backends import Backends
from gateway.postgres_registry_store import MAX_REGISTRATIONS_IN_PROGRESS, PostgresRegistryStore
from gateway.registry_servicer import Registry
from gateway.resource_lifecycle import ResourceLifecycle
from llama.common.v1 import resources_pb2
from llama.inference.v1 import inference_pb2 as pb
from llama.inference.v1 import inference_pb2_grpc
from llama.registry.v1 import registry_pb2, registry_pb2_grpc
from llama_mesh.launcher import LocalMesh, MeshStartError, free_loopback_port, isolated_env
from llama_mesh.resources import KIND_BY_NAME, ResourceKind
from llama_mesh.runtime.config import RunConfig, load_run_config
from llama_mesh.runtime.errors import ResourceExhausted
from tests.mesh.helpers import expect_error, greedy, reason_and_field, user
from tests.postgres_server import postgres_bin_dir, postgres_server, running_postgres

PASSWORD = "pg-Secret-4711"
ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60.0

pytestmark = pytest.mark.skipif(
    postgres_bin_dir() is None,
    reason="PostgreSQL binaries (initdb, pg_ctl) are not installed: `make setup` installs Debian's postgresql",
)


@pytest.fixture(scope="module")
def postgres_dsn() -> Iterator[str]:
    with running_postgres(PASSWORD) as dsn:
        yield dsn


def _postgres_env(root: Path, dsn: str) -> dict[str, str]:
    return {
        **isolated_env(root / "data"),
        "LLAMA_MESH_REGISTRY_TYPE": "postgres",
        "LLAMA_MESH_REGISTRY_DSN": dsn,
        "LLAMA_MESH_TRACE_EXPORTER": "none",
    }


@pytest.fixture(scope="module")
def two_gateways(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalMesh, LocalMesh]]:
    """Gateway A with the inference service, and gateway B (another process, its own data dir) in front of it."""
    root = tmp_path_factory.mktemp("postgres-registry")
    first = LocalMesh("local-cpu", env=_postgres_env(root / "a", postgres_dsn), log_dir=root / "a-logs")
    first.start(only={"gateway", "inference"})
    second_env = {
        **first.env,
        "LLAMA_MESH_DATA_DIR": str(root / "b" / "data"),
        "LLAMA_MESH_GATEWAY_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
    }
    second = LocalMesh("local-cpu", env=second_env, log_dir=root / "b-logs")
    try:
        second.start(only={"gateway"})
    except BaseException:
        first.stop()
        raise
    yield first, second
    second.stop()
    first.stop()


def _model(identifier: str) -> resources_pb2.Model:
    return resources_pb2.Model(
        identifier=identifier, provider_id="llama-cpp", provider_resource_id="SmolLM2-135M-Instruct"
    )


def _chat(channel: grpc.Channel, model_id: str) -> pb.ChatCompletionResponse:
    stub = inference_pb2_grpc.InferenceServiceStub(channel)
    return stub.ChatCompletion(
        pb.ChatCompletionRequest(model_id=model_id, messages=[user("Say hi.")], sampling_params=greedy(4)), timeout=120
    )


def test_registered_through_one_gateway_served_through_the_other(two_gateways: tuple[LocalMesh, LocalMesh]) -> None:
    first, second = two_gateways
    with grpc.insecure_channel(first.gateway_address) as a, grpc.insecure_channel(second.gateway_address) as b:
        registry_a, registry_b = registry_pb2_grpc.RegistryServiceStub(a), registry_pb2_grpc.RegistryServiceStub(b)
        registry_a.RegisterModel(registry_pb2.RegisterModelRequest(model=_model("shared-chat")))

        assert registry_b.GetModel(registry_pb2.GetModelRequest(model_id="shared-chat")).provider_id == "llama-cpp"
        listed = registry_b.ListModels(registry_pb2.ListModelsRequest()).models
        assert "shared-chat" in [model.identifier for model in listed]
        assert _chat(b, "shared-chat").completion_message.content.text
        error = expect_error(
            lambda: registry_b.RegisterModel(registry_pb2.RegisterModelRequest(model=_model("shared-chat"))),
            grpc.StatusCode.ALREADY_EXISTS,
        )
        assert reason_and_field(error)[0] == "RESOURCE_ALREADY_EXISTS"

        registry_b.UnregisterModel(registry_pb2.UnregisterModelRequest(model_id="shared-chat"))
        expect_error(
            lambda: registry_a.GetModel(registry_pb2.GetModelRequest(model_id="shared-chat")), grpc.StatusCode.NOT_FOUND
        )
        assert _routed_not_found(a, "shared-chat")
        assert "shared-chat" not in [
            m.identifier for m in registry_a.ListModels(registry_pb2.ListModelsRequest()).models
        ]


def _routed_not_found(channel: grpc.Channel, model_id: str, wait_seconds: float = 10.0) -> bool:
    """Whether a chat on `model_id` becomes NOT_FOUND (the other gateway's notification may take a moment)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            _chat(channel, model_id)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return True
            raise
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def test_a_race_to_register_one_identifier_has_one_winner(two_gateways: tuple[LocalMesh, LocalMesh]) -> None:
    first, second = two_gateways
    with grpc.insecure_channel(first.gateway_address) as a, grpc.insecure_channel(second.gateway_address) as b:
        stubs = [registry_pb2_grpc.RegistryServiceStub(channel) for channel in (a, b, a, b)]

        def register(stub: registry_pb2_grpc.RegistryServiceStub) -> grpc.StatusCode:
            try:
                stub.RegisterModel(registry_pb2.RegisterModelRequest(model=_model("raced")), timeout=120)
            except grpc.RpcError as error:
                return error.code()
            return grpc.StatusCode.OK

        with ThreadPoolExecutor(len(stubs)) as pool:
            codes = list(pool.map(register, stubs))
        assert sorted(code.name for code in codes) == ["ALREADY_EXISTS"] * 3 + ["OK"]
        assert _chat(b, "raced").completion_message.content.text


def test_the_database_password_is_not_logged(two_gateways: tuple[LocalMesh, LocalMesh]) -> None:
    for mesh in two_gateways:
        log = mesh.log_tail("gateway", lines=10_000)
        assert "ready" in log
        assert PASSWORD not in log


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        (f"postgresql://mesh:{PASSWORD}@127.0.0.1:{{port}}/postgres", "cannot open the Postgres registry"),
        (f"postgresql//mesh:{PASSWORD}@127.0.0.1:{{port}}/postgres", "is not a libpq connection string or URI"),
    ],
    ids=["unreachable", "malformed"],
)
def test_a_database_it_cannot_use_stops_the_gateway_with_a_clear_message(
    tmp_path: Path, dsn: str, message: str
) -> None:
    dsn = dsn.format(port=free_loopback_port())
    mesh = LocalMesh("local-cpu", env=_postgres_env(tmp_path, dsn), log_dir=tmp_path / "logs")
    with pytest.raises(MeshStartError, match=message) as failed:
        mesh.start(only={"gateway"}, timeout=60)
    assert PASSWORD not in str(failed.value) and PASSWORD not in mesh.log_tail("gateway", lines=10_000)


class _GatedLifecycle(ResourceLifecycle):
    """Records what it prepares; every prepare waits for `gate`, so another registration can race it."""

    def __init__(self, config: RunConfig) -> None:
        super().__init__(config, Backends())
        self.prepared: list[str] = []
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def prepare(self, kind: ResourceKind, resource: Message) -> Message:
        self.prepared.append(resource.identifier)  # type: ignore[attr-defined]
        self.entered.set()
        await self.gate.wait()
        return resource


async def _someone_waits_for_an_advisory_lock(dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        while True:
            cursor = await conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            row = await cursor.fetchone()
            if row is not None and row[0] > 0:
                return
            await asyncio.sleep(0.05)


async def _first_of(*waits: Awaitable[object]) -> None:
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    done, pending = await asyncio.wait(tasks, timeout=WAIT_SECONDS, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    assert done, f"none of {len(tasks)} conditions came true within {WAIT_SECONDS} s"
    for task in done:
        task.result()


async def test_two_replicas_naming_one_physical_resource_at_once_prepare_it_once(
    postgres_dsn: str, tmp_path: Path
) -> None:
    """Two gateways register two ids for one dataset's rows at the same moment. Each once checked under a lock of its
    own process, found no other name for them, and prepared them: a vector DB's collection made empty twice, or two
    owners on one collection. The second must wait for the first, then attach to what it prepared."""
    config = load_run_config(ROOT / "distributions" / "local-cpu" / "run.yaml", {"LLAMA_MESH_DATA_DIR": str(tmp_path)})
    dataset_kind = KIND_BY_NAME["dataset"]
    stores = [PostgresRegistryStore(postgres_dsn), PostgresRegistryStore(postgres_dsn)]
    lifecycles = [_GatedLifecycle(config), _GatedLifecycle(config)]
    for store in stores:
        await store.open()
    try:
        first, second = (Registry(store, config, gated) for store, gated in zip(stores, lifecycles, strict=True))

        def dataset(identifier: str) -> resources_pb2.Dataset:
            rows = resources_pb2.DataSource(rows=resources_pb2.RowsSource())
            return resources_pb2.Dataset(identifier=identifier, provider_resource_id="raced-rows", source=rows)

        registering = asyncio.create_task(first.register(dataset_kind, dataset("raced-rows-a")))
        await asyncio.wait_for(lifecycles[0].entered.wait(), WAIT_SECONDS)  # the first holds the lock, preparing
        racing = asyncio.create_task(second.register(dataset_kind, dataset("raced-rows-b")))
        # the second either prepares too (the defect) or waits for the first's lock
        await _first_of(lifecycles[1].entered.wait(), _someone_waits_for_an_advisory_lock(postgres_dsn))
        for lifecycle in lifecycles:
            lifecycle.gate.set()
        await asyncio.wait_for(asyncio.gather(registering, racing), WAIT_SECONDS)

        assert lifecycles[0].prepared == ["raced-rows-a"]
        assert lifecycles[1].prepared == []  # attached to the rows the first prepared
        names = [item.identifier for item in await stores[1].list(dataset_kind.kind)]
        assert {"raced-rows-a", "raced-rows-b"} <= set(names)
    finally:
        for identifier in ("raced-rows-a", "raced-rows-b"):
            await stores[0].delete(dataset_kind.kind, identifier)
        for store in stores:
            await store.close()


async def _postgres_connections(dsn: str) -> int:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cursor = await conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        row = await cursor.fetchone()
    return 0 if row is None else int(row[0])


async def test_registrations_at_once_take_at_most_a_bounded_number_of_postgres_connections(
    postgres_dsn: str, tmp_path: Path
) -> None:
    """Each registration in progress holds a Postgres connection for its physical lock while it prepares (minutes
    for a model): a caller registering many resources at once must not use up the server's max_connections, which
    every gateway and the registry itself need. Past the cap a registration is RESOURCE_EXHAUSTED at once."""
    config = load_run_config(ROOT / "distributions" / "local-cpu" / "run.yaml", {"LLAMA_MESH_DATA_DIR": str(tmp_path)})
    dataset_kind = KIND_BY_NAME["dataset"]
    store = PostgresRegistryStore(postgres_dsn)
    lifecycle = _GatedLifecycle(config)
    await store.open()
    registry = Registry(store, config, lifecycle)

    def dataset(index: int) -> resources_pb2.Dataset:
        rows = resources_pb2.DataSource(rows=resources_pb2.RowsSource())
        return resources_pb2.Dataset(identifier=f"crowd-{index}", source=rows)

    held: list[asyncio.Task[Message]] = []
    try:
        before = await _postgres_connections(postgres_dsn)
        for index in range(MAX_REGISTRATIONS_IN_PROGRESS):
            held.append(asyncio.create_task(registry.register(dataset_kind, dataset(index))))
            await asyncio.wait_for(lifecycle.entered.wait(), WAIT_SECONDS)  # it holds its lock, preparing
            lifecycle.entered.clear()
        assert await _postgres_connections(postgres_dsn) <= before + MAX_REGISTRATIONS_IN_PROGRESS

        refused = asyncio.create_task(registry.register(dataset_kind, dataset(MAX_REGISTRATIONS_IN_PROGRESS)))
        await _first_of(lifecycle.entered.wait(), asyncio.wait([refused]))
        assert refused.done(), "a registration past the cap took one more connection and went on to prepare"
        with pytest.raises(ResourceExhausted) as refusal:
            refused.result()
        assert refusal.value.reason == "TOO_MANY_REGISTRATIONS"
        assert str(MAX_REGISTRATIONS_IN_PROGRESS) in refusal.value.message

        lifecycle.gate.set()
        await asyncio.wait_for(asyncio.gather(*held), WAIT_SECONDS)
        await registry.register(dataset_kind, dataset(MAX_REGISTRATIONS_IN_PROGRESS))  # a freed place is taken again
    finally:
        lifecycle.gate.set()
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)
        for index in range(MAX_REGISTRATIONS_IN_PROGRESS + 1):
            await store.delete(dataset_kind.kind, f"crowd-{index}")
        await store.close()


def test_a_registry_database_that_goes_away_is_unavailable_and_comes_back(tmp_path: Path) -> None:
    with postgres_server(PASSWORD) as server:
        mesh = LocalMesh("local-cpu", env=_postgres_env(tmp_path, server.dsn), log_dir=tmp_path / "logs")
        mesh.start(only={"gateway"})
        try:
            with grpc.insecure_channel(mesh.gateway_address) as channel:
                registry = registry_pb2_grpc.RegistryServiceStub(channel)
                lookup = registry_pb2.GetModelRequest(model_id="nowhere")
                expect_error(lambda: registry.GetModel(lookup, timeout=WAIT_SECONDS), grpc.StatusCode.NOT_FOUND)
                server.stop()
                for call in (
                    lambda: registry.GetModel(lookup, timeout=WAIT_SECONDS),
                    lambda: registry.ListModels(registry_pb2.ListModelsRequest(), timeout=WAIT_SECONDS),
                    lambda: registry.RegisterModel(
                        registry_pb2.RegisterModelRequest(model=_model("while-down")), timeout=WAIT_SECONDS
                    ),
                    lambda: _chat(channel, "nowhere"),  # routing a call looks the model up
                ):
                    error = expect_error(call, grpc.StatusCode.UNAVAILABLE)
                    assert reason_and_field(error)[0] == "REGISTRY_UNAVAILABLE"
                    assert PASSWORD not in (error.details() or "")
                server.start()
                deadline = time.monotonic() + WAIT_SECONDS
                while True:  # the pool opens new connections on the next calls
                    try:
                        registry.GetModel(lookup, timeout=WAIT_SECONDS)
                    except grpc.RpcError as error:
                        if error.code() == grpc.StatusCode.NOT_FOUND:
                            break
                        assert error.code() == grpc.StatusCode.UNAVAILABLE, error
                        assert time.monotonic() < deadline, "the registry did not come back with its database"
                        time.sleep(0.2)
                assert "while-down" not in {
                    model.identifier
                    for model in registry.ListModels(registry_pb2.ListModelsRequest(), timeout=WAIT_SECONDS).models
                }
        finally:
            mesh.stop()
