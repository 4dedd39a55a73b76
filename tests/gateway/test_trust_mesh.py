"""A mesh that trusts no one, with real processes on the loopback (the per-mesh secret; tests/gateway/
test_tls_mesh.py has the same checks under mTLS): a service serves only the gateway (and peers, for span export);
internal headers count only from the gateway, whether sent to a service or through the gateway; a registration may not
alias another principal's data or the mesh's own; agents, sessions, batch jobs, eval jobs, traces and post-training
checkpoints are their owner's; ListProviders hides secrets at every depth."""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf import any_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from llama.agents.v1 import agents_pb2 as agents_pb
from llama.agents.v1 import agents_pb2_grpc
from llama.common.v1 import agent_config_pb2, content_pb2, jobs_pb2, resources_pb2
from llama.eval.v1 import eval_pb2, eval_pb2_grpc
from llama.inference.v1 import inference_pb2, inference_pb2_grpc
from llama.inspect.v1 import inspect_pb2, inspect_pb2_grpc
from llama.provider.v1 import provider_pb2, provider_pb2_grpc
from llama.registry.v1 import registry_pb2 as reg
from llama.registry.v1 import registry_pb2_grpc
from llama.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc
from llama.vector_io.v1 import vector_io_pb2 as vio
from llama.vector_io.v1 import vector_io_pb2_grpc
from llama_mesh.launcher import LocalMesh, isolated_env
from llama_mesh.resources import collection_name, resource_metadata
from llama_mesh.runtime.mesh_identity import peer_metadata
from tests.gateway.distribution_variant import distribution_variant
from tests.gateway.test_auth_mesh import bearer
from tests.mesh.helpers import CHAT_MODEL, EMBEDDING_MODEL, expect_error, greedy, reason_and_field, user
from tests.mesh.test_eval_mesh import BENCHMARK_ENV, MMLU
from tests.mesh.test_telemetry_mesh import eventually

T = TypeVar("T")
ALICE, BOB, ADMIN, SERVICE = (f"{name}-{secrets.token_hex(8)}" for name in ("alice", "bob", "admin", "service"))
SERVICES = {"gateway", "inference", "vector_io", "telemetry", "agents", "datasetio", "scoring", "eval"}


def _trusting_no_one(raw: dict[str, Any]) -> None:
    raw["gateway"]["auth"] = {
        "service_token": "mesh-services",
        "tokens": [
            {"name": "mesh-services", "token": SERVICE, "resources": "all"},
            {"name": "admin", "token": ADMIN, "resources": "all", "admin": True},
            {"name": "alice", "token": ALICE, "resources": "all"},
            {"name": "bob", "token": BOB, "resources": "all"},
        ],
    }
    # safety is not started (its provider never reads these): what ListProviders shows of a config
    safety = next(service for service in raw["services"] if service["name"] == "safety")
    provider = safety["providers"][0]["config"]
    provider["engine_args"] = {"hf_token": "hf-SECRET-1", "nested": [{"api_key": "SECRET-2"}], "max_tokens": 7}
    provider["endpoint"] = "postgresql://mesh:SECRET-3@db.internal:5432/mesh"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMesh]:
    root = tmp_path_factory.mktemp("trust")
    config = distribution_variant(root, _trusting_no_one, base="open-benchmark")
    env = {**isolated_env(root / "data"), **BENCHMARK_ENV}
    local = LocalMesh(str(config), env=env, log_dir=root / "logs")
    local.start(only=SERVICES)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def channel(mesh: LocalMesh) -> Iterator[grpc.Channel]:
    """The gateway, the one way in."""
    opened = grpc.insecure_channel(mesh.gateway_address)
    try:
        yield opened
    finally:
        opened.close()


def _chat(channel: grpc.Channel, metadata: tuple[tuple[str, Any], ...]) -> inference_pb2.ChatCompletionResponse:
    return inference_pb2_grpc.InferenceServiceStub(channel).ChatCompletion(
        inference_pb2.ChatCompletionRequest(model_id=CHAT_MODEL, messages=[user("hi")], sampling_params=greedy(2)),
        metadata=metadata,
        timeout=120,
    )


def _query(channel: grpc.Channel, metadata: tuple[tuple[str, Any], ...]) -> vio.QueryChunksResponse:
    return vector_io_pb2_grpc.VectorIOServiceStub(channel).QueryChunks(
        vio.QueryChunksRequest(vector_db_id="alice-docs", query=content_pb2.Content(text="tower")),
        metadata=metadata,
        timeout=60,
    )


def _release(channel: grpc.Channel, vector_db_id: str, metadata: tuple[tuple[str, Any], ...]) -> None:
    packed = any_pb2.Any()
    packed.Pack(resources_pb2.VectorDB(identifier=vector_db_id, provider_resource_id=vector_db_id))
    provider_pb2_grpc.ResourceLifecycleServiceStub(channel).ReleaseResource(
        provider_pb2.ReleaseResourceRequest(resource=packed), metadata=metadata, timeout=30
    )


# ---------- (1) service ports serve only the gateway ----------


def test_a_direct_call_to_a_service_is_unauthenticated(mesh: LocalMesh) -> None:
    model = resources_pb2.Model(identifier=CHAT_MODEL, provider_id="llama-cpp", provider_resource_id=CHAT_MODEL)
    forged = (resource_metadata(model), ("llama-mesh-caller", "admin"), ("llama-mesh-caller-scope", "admin"))
    calls = {"inference": _chat, "vector_io": _query}
    for service, call in calls.items():
        with grpc.insecure_channel(mesh.config.service(service).address) as direct:
            for metadata in ((), forged, (("llama-mesh-peer", "gateway"), ("llama-mesh-peer-secret", "guess"))):
                error = expect_error(lambda c=call, d=direct, m=metadata: c(d, m), grpc.StatusCode.UNAUTHENTICATED)
                assert reason_and_field(error)[0] == "NOT_A_MESH_PEER"
            # dropping a collection straight at vector_io, as the gateway would on UnregisterVectorDB
            expect_error(lambda direct=direct: _release(direct, "alice-docs", ()), grpc.StatusCode.UNAUTHENTICATED)
            # health checks stay open (probes call them without an identity)
            health = health_pb2_grpc.HealthStub(direct).Check(health_pb2.HealthCheckRequest(service=service))
            assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_a_peer_service_may_export_spans_but_not_call_apis_or_send_internal_headers(mesh: LocalMesh) -> None:
    """A process holding the secret that is not the gateway (here named vector_io) is a peer: OTLP export only."""
    peer = peer_metadata("vector_io", mesh.secret)
    with grpc.insecure_channel(mesh.config.service("inference").address) as direct:
        error = expect_error(lambda: _chat(direct, peer), grpc.StatusCode.PERMISSION_DENIED)
        assert reason_and_field(error)[0] == "GATEWAY_ONLY"
    model = resources_pb2.Model(identifier=CHAT_MODEL, provider_id="llama-cpp", provider_resource_id=CHAT_MODEL)
    with grpc.insecure_channel(mesh.config.service("telemetry").address) as direct:
        receiver = trace_service_pb2_grpc.TraceServiceStub(direct)
        span = trace_pb2.Span(
            trace_id=secrets.token_bytes(16),
            span_id=secrets.token_bytes(8),
            name="peer-span",
            start_time_unix_nano=1_700_000_000_000_000_000,
            end_time_unix_nano=1_700_000_000_000_000_500,
        )
        request = trace_service_pb2.ExportTraceServiceRequest(
            resource_spans=[trace_pb2.ResourceSpans(scope_spans=[trace_pb2.ScopeSpans(spans=[span])])]
        )
        receiver.Export(request, metadata=peer, timeout=10)
        error = expect_error(
            lambda: receiver.Export(request, metadata=(*peer, resource_metadata(model)), timeout=10),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert reason_and_field(error)[0] == "INTERNAL_METADATA_REFUSED"
        expect_error(lambda: receiver.Export(request, timeout=10), grpc.StatusCode.UNAUTHENTICATED)


def test_internal_headers_sent_through_the_gateway_are_dropped(mesh: LocalMesh, channel: grpc.Channel) -> None:
    """Bob claims to be alice (caller header), an admin (scope header) and the gateway (peer headers): the gateway
    drops them all, so bob still sees only bob's agents."""
    agents = agents_pb2_grpc.AgentsServiceStub(channel)
    agent = agents.CreateAgent(
        agents_pb.CreateAgentRequest(agent_config=_agent_config("alice's secret instructions")),
        metadata=bearer(ALICE),
        timeout=60,
    )
    forged = (
        *bearer(BOB),
        ("llama-mesh-caller", "alice"),
        ("llama-mesh-caller-scope", "admin"),
        *peer_metadata("gateway", mesh.secret),
    )
    listed = agents.ListAgents(agents_pb.ListAgentsRequest(page_size=1000), metadata=forged, timeout=30)
    assert agent.agent_id not in [item.agent_id for item in listed.agents]
    expect_error(
        lambda: agents.GetAgent(agents_pb.GetAgentRequest(agent_id=agent.agent_id), metadata=forged),
        grpc.StatusCode.NOT_FOUND,
    )


# ---------- (3) owners ----------


def _agent_config(instructions: str) -> agent_config_pb2.AgentConfig:
    return agent_config_pb2.AgentConfig(model=CHAT_MODEL, instructions=instructions, sampling_params=greedy(2))


def test_two_tokens_cannot_see_each_others_agents_sessions_turns_or_batch_jobs(channel: grpc.Channel) -> None:
    agents = agents_pb2_grpc.AgentsServiceStub(channel)
    mine = agents.CreateAgent(
        agents_pb.CreateAgentRequest(agent_config=_agent_config("You are alice's assistant.")),
        metadata=bearer(ALICE),
        timeout=60,
    )
    session = agents.CreateSession(
        agents_pb.CreateSessionRequest(agent_id=mine.agent_id, session_name="alice's"), metadata=bearer(ALICE)
    )
    turn = agents.CreateTurnAndWait(
        agents_pb.CreateTurnRequest(agent_id=mine.agent_id, session_id=session.session_id, messages=[user("hi")]),
        metadata=bearer(ALICE),
        timeout=300,
    )
    job = agents.CreateAgentBatchJob(
        agents_pb.CreateAgentBatchJobRequest(
            agent_id=mine.agent_id, items=[agents_pb.AgentBatchItem(messages=[user("hello")])]
        ),
        metadata=bearer(ALICE),
    )
    ids = {"agent_id": mine.agent_id}
    hidden = [
        lambda: agents.GetAgent(agents_pb.GetAgentRequest(**ids), metadata=bearer(BOB)),
        lambda: agents.ListSessions(agents_pb.ListSessionsRequest(**ids), metadata=bearer(BOB)),
        lambda: agents.GetSession(
            agents_pb.GetSessionRequest(**ids, session_id=session.session_id), metadata=bearer(BOB)
        ),
        lambda: agents.GetTurn(
            agents_pb.GetTurnRequest(**ids, session_id=session.session_id, turn_id=turn.turn_id),
            metadata=bearer(BOB),
        ),
        lambda: agents.CreateSession(agents_pb.CreateSessionRequest(**ids), metadata=bearer(BOB)),
        lambda: agents.GetAgentBatchJob(agents_pb.GetAgentBatchJobRequest(job_id=job.job_id), metadata=bearer(BOB)),
        lambda: agents.CancelAgentBatchJob(
            agents_pb.CancelAgentBatchJobRequest(job_id=job.job_id), metadata=bearer(BOB)
        ),
        lambda: agents.DeleteSession(
            agents_pb.DeleteSessionRequest(**ids, session_id=session.session_id), metadata=bearer(BOB)
        ),
        lambda: agents.DeleteAgent(agents_pb.DeleteAgentRequest(**ids), metadata=bearer(BOB)),
    ]
    for call in hidden:
        expect_error(call, grpc.StatusCode.NOT_FOUND)  # as if it did not exist
    bobs = agents.ListAgents(agents_pb.ListAgentsRequest(page_size=1000), metadata=bearer(BOB)).agents
    assert mine.agent_id not in [agent.agent_id for agent in bobs]
    alices = agents.ListAgents(agents_pb.ListAgentsRequest(page_size=1000), metadata=bearer(ALICE)).agents
    assert mine.agent_id in [agent.agent_id for agent in alices]
    everyone = agents.ListAgents(agents_pb.ListAgentsRequest(page_size=1000), metadata=bearer(ADMIN)).agents
    assert mine.agent_id in [agent.agent_id for agent in everyone]  # the admin scope sees all
    assert (
        agents.GetAgentBatchJob(agents_pb.GetAgentBatchJobRequest(job_id=job.job_id), metadata=bearer(ADMIN)).job_id
        == job.job_id
    )
    # still there for alice after bob's attempts
    kept = agents.GetSession(agents_pb.GetSessionRequest(**ids, session_id=session.session_id), metadata=bearer(ALICE))
    assert [item.turn_id for item in kept.turns] == [turn.turn_id]


def test_deleting_another_principals_agent_stops_none_of_its_batch_jobs(channel: grpc.Channel) -> None:
    """Bob's DeleteAgent of alice's agent is NOT_FOUND and changes nothing: it once cancelled her running jobs."""
    agents = agents_pb2_grpc.AgentsServiceStub(channel)
    mine = agents.CreateAgent(
        agents_pb.CreateAgentRequest(agent_config=_agent_config("You are alice's assistant.")),
        metadata=bearer(ALICE),
        timeout=60,
    )
    items = [agents_pb.AgentBatchItem(messages=[user(f"hello {n}")]) for n in range(3)]
    job = agents.CreateAgentBatchJob(
        agents_pb.CreateAgentBatchJobRequest(agent_id=mine.agent_id, items=items, max_concurrency=1),
        metadata=bearer(ALICE),
    )
    expect_error(
        lambda: agents.DeleteAgent(agents_pb.DeleteAgentRequest(agent_id=mine.agent_id), metadata=bearer(BOB)),
        grpc.StatusCode.NOT_FOUND,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = agents.GetAgentBatchJob(agents_pb.GetAgentBatchJobRequest(job_id=job.job_id), metadata=bearer(ALICE))
        if job.status not in (jobs_pb2.JOB_STATUS_QUEUED, jobs_pb2.JOB_STATUS_RUNNING):
            break
        time.sleep(0.3)
    assert job.status == jobs_pb2.JOB_STATUS_COMPLETED and job.progress.done == len(items)


def test_eval_jobs_are_their_owners(channel: grpc.Channel) -> None:
    evals = eval_pb2_grpc.EvalServiceStub(channel)
    config = eval_pb2.BenchmarkConfig(
        eval_candidate=eval_pb2.EvalCandidate(
            model=eval_pb2.ModelCandidate(model=CHAT_MODEL, sampling_params=greedy(2))
        ),
        num_examples=1,
    )
    job = evals.RunEval(eval_pb2.RunEvalRequest(benchmark_id=MMLU, benchmark_config=config), metadata=bearer(ALICE))
    get = eval_pb2.GetEvalJobRequest(benchmark_id=MMLU, job_id=job.job_id)
    assert evals.GetEvalJob(get, metadata=bearer(ALICE)).job_id == job.job_id
    error = expect_error(lambda: evals.GetEvalJob(get, metadata=bearer(BOB)), grpc.StatusCode.NOT_FOUND)
    assert reason_and_field(error)[0] == "JOB_NOT_FOUND"
    cancel = eval_pb2.CancelEvalJobRequest(benchmark_id=MMLU, job_id=job.job_id)
    expect_error(lambda: evals.CancelEvalJob(cancel, metadata=bearer(BOB)), grpc.StatusCode.NOT_FOUND)
    listing = eval_pb2.ListEvalJobsRequest(benchmark_id=MMLU, page_size=100)
    assert job.job_id not in [item.job_id for item in evals.ListEvalJobs(listing, metadata=bearer(BOB)).jobs]
    assert job.job_id in [item.job_id for item in evals.ListEvalJobs(listing, metadata=bearer(ALICE)).jobs]
    assert job.job_id in [item.job_id for item in evals.ListEvalJobs(listing, metadata=bearer(ADMIN)).jobs]
    evals.CancelEvalJob(cancel, metadata=bearer(ALICE))


def test_traces_are_seen_only_by_their_caller(channel: grpc.Channel) -> None:
    trace_id = secrets.token_hex(16)
    _chat(channel, (*bearer(ALICE), ("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-01")))
    telemetry = telemetry_pb2_grpc.TelemetryServiceStub(channel)
    get = telemetry_pb2.GetTraceRequest(trace_id=trace_id)

    def visible_to(token: str) -> telemetry_pb2.Trace | None:
        try:
            return telemetry.GetTrace(get, metadata=bearer(token), timeout=10)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()
            return None

    trace = eventually(lambda: visible_to(ALICE), "alice's trace")  # once the gateway's root span has arrived
    assert visible_to(ADMIN) is not None
    assert visible_to(BOB) is None
    for call in (
        lambda: telemetry.GetSpanTree(
            telemetry_pb2.GetSpanTreeRequest(span_id=trace.root_span_id), metadata=bearer(BOB)
        ),
        lambda: telemetry.GetSpan(
            telemetry_pb2.GetSpanRequest(trace_id=trace_id, span_id=trace.root_span_id), metadata=bearer(BOB)
        ),
    ):
        expect_error(call, grpc.StatusCode.NOT_FOUND)
    query = telemetry_pb2.QueryTracesRequest(page_size=1000)
    assert trace_id not in [item.trace_id for item in telemetry.QueryTraces(query, metadata=bearer(BOB)).traces]
    assert trace_id in [item.trace_id for item in telemetry.QueryTraces(query, metadata=bearer(ALICE)).traces]
    spans = telemetry.QuerySpans(telemetry_pb2.QuerySpansRequest(page_size=1000), metadata=bearer(BOB)).spans
    assert trace_id not in {span.trace_id for span in spans}


def test_a_registration_may_not_alias_another_principals_data_or_the_meshs_own(channel: grpc.Channel) -> None:
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    vector_io = vector_io_pb2_grpc.VectorIOServiceStub(channel)

    def register(token: str, identifier: str, physical: str = "") -> resources_pb2.VectorDB:
        vector_db = resources_pb2.VectorDB(
            identifier=identifier, embedding_model=EMBEDDING_MODEL, provider_resource_id=physical
        )
        return registry.RegisterVectorDB(reg.RegisterVectorDBRequest(vector_db=vector_db), metadata=bearer(token))

    def query(token: str, identifier: str) -> list[str]:
        found = vector_io.QueryChunks(
            vio.QueryChunksRequest(vector_db_id=identifier, query=content_pb2.Content(text="where is the tower")),
            metadata=bearer(token),
            timeout=120,
        )
        return [chunk.chunk_id for chunk in found.chunks]

    register(ALICE, "alice-docs")
    chunk = vio.Chunk(chunk_id="tower", content=content_pb2.Content(text="The Eiffel Tower is in Paris."))
    vector_io.InsertChunks(
        vio.InsertChunksRequest(vector_db_id="alice-docs", chunks=[chunk]), metadata=bearer(ALICE), timeout=120
    )
    for identifier, physical in (("bob-view", "alice-docs"), ("bob-session", "agent-session-0123456789abcdef")):
        error = expect_error(lambda i=identifier, p=physical: register(BOB, i, p), grpc.StatusCode.PERMISSION_DENIED)
        assert reason_and_field(error)[0] == "RESOURCE_ALIAS_REFUSED"
        expect_error(
            lambda i=identifier: registry.GetVectorDB(reg.GetVectorDBRequest(vector_db_id=i), metadata=bearer(BOB)),
            grpc.StatusCode.NOT_FOUND,
        )
    # alice may name her own collection twice; dropping one name keeps the data the other still names
    register(ALICE, "alice-alias", "alice-docs")
    assert query(ALICE, "alice-alias") == ["tower"]
    registry.UnregisterVectorDB(reg.UnregisterVectorDBRequest(vector_db_id="alice-alias"), metadata=bearer(ALICE))
    assert query(ALICE, "alice-docs") == ["tower"]


def _write_checkpoint(mesh: LocalMesh, name: str, owner: str) -> None:
    """A post-training checkpoint as a job of `owner` leaves it (registering it as a model loads no weights)."""
    directory = Path(mesh.config.data_dir) / "post_training" / "checkpoints" / name
    directory.mkdir(parents=True)
    (directory / "checkpoint.json").write_text(json.dumps({"identifier": name, "job_id": name, "owner": owner}))
    (directory / "model.gguf").write_bytes(b"GGUF")


def test_a_checkpoint_is_registered_as_a_model_only_by_its_jobs_owner(mesh: LocalMesh, channel: grpc.Channel) -> None:
    """bob, who knows or guesses the name of alice's checkpoint, finds no checkpoint of that name, before and while
    alice's registration serves it; alice and an admin may register it."""
    _write_checkpoint(mesh, "sft-alice-1", "alice")
    registry = registry_pb2_grpc.RegistryServiceStub(channel)

    def register(token: str, identifier: str, checkpoint: str = "sft-alice-1") -> resources_pb2.Model:
        model = resources_pb2.Model(
            identifier=identifier,
            provider_id="llama-cpp",
            provider_resource_id=checkpoint,
            model_type=resources_pb2.MODEL_TYPE_LLM,
        )
        return registry.RegisterModel(reg.RegisterModelRequest(model=model), metadata=bearer(token), timeout=60)

    def refused_to_bob() -> None:
        error = expect_error(lambda: register(BOB, "bob-tuned"), grpc.StatusCode.NOT_FOUND)
        missing = expect_error(lambda: register(BOB, "bob-tuned", "sft-nobody"), grpc.StatusCode.NOT_FOUND)
        assert reason_and_field(error)[0] == reason_and_field(missing)[0] == "PROVIDER_MODEL_NOT_FOUND"
        assert error.details() == missing.details().replace("sft-nobody", "sft-alice-1")  # nothing tells them apart
        expect_error(
            lambda: registry.GetModel(reg.GetModelRequest(model_id="bob-tuned"), metadata=bearer(BOB)),
            grpc.StatusCode.NOT_FOUND,
        )

    refused_to_bob()
    try:
        assert register(ALICE, "alice-tuned").provider_resource_id == "sft-alice-1"
        refused_to_bob()  # served now, by alice's registration: still not bob's
        assert register(ADMIN, "admin-tuned").provider_resource_id == "sft-alice-1"
    finally:
        for identifier, token in (("admin-tuned", ADMIN), ("alice-tuned", ALICE)):
            with contextlib.suppress(grpc.RpcError):
                registry.UnregisterModel(reg.UnregisterModelRequest(model_id=identifier), metadata=bearer(token))


def test_a_registration_may_not_alias_another_principals_collection_by_its_stored_name(channel: grpc.Channel) -> None:
    """Vector DB `alice:plans` is stored in the collection `alice_plans-<hash>`: naming that is naming alice's data too
    (it once emptied her collection, let bob read what she wrote next, and dropped it when bob unregistered)."""
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    vector_io = vector_io_pb2_grpc.VectorIOServiceStub(channel)
    embedded = {"embedding_model": EMBEDDING_MODEL}
    registry.RegisterVectorDB(
        reg.RegisterVectorDBRequest(vector_db=resources_pb2.VectorDB(identifier="alice:plans", **embedded)),
        metadata=bearer(ALICE),
    )
    chunk = vio.Chunk(chunk_id="plan", content=content_pb2.Content(text="Alice's plan is to climb the tower."))
    vector_io.InsertChunks(
        vio.InsertChunksRequest(vector_db_id="alice:plans", chunks=[chunk]), metadata=bearer(ALICE), timeout=120
    )
    stored_name = collection_name("alice:plans")
    assert stored_name != "alice:plans"
    spy = resources_pb2.VectorDB(identifier="bob-spy", provider_resource_id=stored_name, **embedded)
    error = expect_error(
        lambda: registry.RegisterVectorDB(reg.RegisterVectorDBRequest(vector_db=spy), metadata=bearer(BOB)),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert reason_and_field(error)[0] == "RESOURCE_ALIAS_REFUSED"
    found = vector_io.QueryChunks(
        vio.QueryChunksRequest(vector_db_id="alice:plans", query=content_pb2.Content(text="what is the plan")),
        metadata=bearer(ALICE),
        timeout=120,
    )
    assert [item.chunk_id for item in found.chunks] == ["plan"]  # untouched
    # alice's own second name for it, by the stored name, attaches to her data
    mine = resources_pb2.VectorDB(identifier="alice-plans-too", provider_resource_id=stored_name, **embedded)
    registry.RegisterVectorDB(reg.RegisterVectorDBRequest(vector_db=mine), metadata=bearer(ALICE))
    registry.UnregisterVectorDB(reg.UnregisterVectorDBRequest(vector_db_id="alice-plans-too"), metadata=bearer(ALICE))
    found = vector_io.QueryChunks(
        vio.QueryChunksRequest(vector_db_id="alice:plans", query=content_pb2.Content(text="what is the plan")),
        metadata=bearer(ALICE),
        timeout=120,
    )
    assert [item.chunk_id for item in found.chunks] == ["plan"]


def _register_at_once(
    registry: registry_pb2_grpc.RegistryServiceStub, requests: dict[str, resources_pb2.VectorDB]
) -> dict[str, grpc.StatusCode]:
    """Each token's registration, all sent at the same moment; the status each got."""
    start = threading.Barrier(len(requests))
    codes: dict[str, grpc.StatusCode] = {}

    def register(token: str) -> None:
        start.wait()
        try:
            request = reg.RegisterVectorDBRequest(vector_db=requests[token])
            registry.RegisterVectorDB(request, metadata=bearer(token), timeout=60)
            codes[token] = grpc.StatusCode.OK
        except grpc.RpcError as error:
            codes[token] = error.code()

    threads = [threading.Thread(target=register, args=(token,)) for token in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


def test_two_principals_registering_one_collection_at_once_do_not_both_get_it(channel: grpc.Channel) -> None:
    """Each registration checks that no other principal names the collection, then prepares it: two at once once both
    passed the check, and bob's second name read alice's collection (every time, on a quiet mesh)."""
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    embedded = {"embedding_model": EMBEDDING_MODEL}
    for attempt in range(5):
        physical = f"alice-race-{attempt}"
        codes = _register_at_once(
            registry,
            {
                ALICE: resources_pb2.VectorDB(identifier=physical, **embedded),
                BOB: resources_pb2.VectorDB(
                    identifier=f"bob-race-{attempt}", provider_resource_id=physical, **embedded
                ),
            },
        )
        assert sorted(code.name for code in codes.values()) == ["OK", "PERMISSION_DENIED"], codes


# ---------- (4) secrets never leave ----------


def test_list_providers_hides_secrets_at_every_depth(channel: grpc.Channel) -> None:
    reply = inspect_pb2_grpc.InspectServiceStub(channel).ListProviders(
        inspect_pb2.ListProvidersRequest(api="safety"), metadata=bearer(ALICE)
    )
    text = str(reply)
    for secret in ("hf-SECRET-1", "SECRET-2", "SECRET-3"):
        assert secret not in text
    (config,) = [provider.config for provider in reply.providers if provider.provider_id == "llama-guard"]
    assert config["engine_args"]["max_tokens"] == 7  # not a secret, still shown
    assert config["endpoint"] == "postgresql://mesh:********@db.internal:5432/mesh"


def test_an_unreachable_service_is_named_without_its_address(mesh: LocalMesh, channel: grpc.Channel) -> None:
    """safety is configured but not started: the caller learns which service, not where it runs."""
    from llama.safety.v1 import safety_pb2, safety_pb2_grpc

    error = expect_error(
        lambda: safety_pb2_grpc.SafetyServiceStub(channel).RunShield(
            safety_pb2.RunShieldRequest(shield_id="code-scanner", messages=[user("x")]), metadata=bearer(ALICE)
        ),
        grpc.StatusCode.UNAVAILABLE,
    )
    address = mesh.config.service("safety").address
    assert "safety" in error.details() and address not in error.details()
    assert address.rsplit(":", 1)[1] not in str(error.trailing_metadata())
    health = inspect_pb2_grpc.InspectServiceStub(channel).GetHealth(
        inspect_pb2.GetHealthRequest(), metadata=bearer(ALICE)
    )
    (safety,) = [service for service in health.services if service.service == "safety"]
    assert safety.status == inspect_pb2.SERVING_STATUS_UNREACHABLE and safety.message == "UNAVAILABLE"
