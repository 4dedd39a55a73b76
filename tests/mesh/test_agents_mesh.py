"""The agents service in the default distribution, with the real model: plain and streamed turns, session history,
client tools with resume, RAG through builtin::rag, shields, max_infer_iters, attached documents, cancellation,
batch jobs, restart, and bad input. Tool calls are forced with tool_choice (a 135M model does not pick tools reliably);
everything after the forced call is the real loop."""

from __future__ import annotations

import json
import math
import signal
import threading
import time

import grpc
import pytest

from llama.agents.v1 import agents_pb2 as pb
from llama.agents.v1 import agents_pb2_grpc
from llama.common.v1 import (
    agent_config_pb2,
    content_pb2,
    jobs_pb2,
    messages_pb2,
    resources_pb2,
    sampling_pb2,
    tools_pb2,
)
from llama.registry.v1 import registry_pb2
from llama.tool_runtime.v1 import tool_runtime_pb2 as tr
from llama_mesh.launcher import LocalMesh
from tests.mesh.helpers import CHAT_MODEL, EMBEDDING_MODEL, expect_error, greedy, reason_and_field, struct, user

FACT = "The lighthouse of Alexandria was 100 meters tall."
# Room for a forced call's JSON; the penalty stops the tiny model repeating itself inside the query string.
FOR_TOOL_CALLS = sampling_pb2.SamplingParams(max_tokens=128, repetition_penalty=1.1)
WEATHER = tools_pb2.ToolDefinition(
    name="get_weather",
    description="The current weather in a city.",
    parameters=struct(type="object", properties={"city": {"type": "string"}}, required=["city"]),
)


@pytest.fixture(scope="module")
def agents(gateway: grpc.Channel) -> agents_pb2_grpc.AgentsServiceStub:
    return agents_pb2_grpc.AgentsServiceStub(gateway)


def config(**fields: object) -> agent_config_pb2.AgentConfig:
    values: dict[str, object] = {
        "model": CHAT_MODEL,
        "instructions": "You are a helpful assistant. Answer briefly.",
        "sampling_params": greedy(24),
    }
    values.update(fields)
    return agent_config_pb2.AgentConfig(**values)


def new_session(
    agents: agents_pb2_grpc.AgentsServiceStub, agent_config: agent_config_pb2.AgentConfig
) -> tuple[str, str]:
    agent = agents.CreateAgent(pb.CreateAgentRequest(agent_config=agent_config), timeout=60)
    session = agents.CreateSession(pb.CreateSessionRequest(agent_id=agent.agent_id, session_name="test"), timeout=30)
    return agent.agent_id, session.session_id


def turn(agents, agent_id: str, session_id: str, text: str, **fields: object) -> pb.Turn:
    request = pb.CreateTurnAndWaitRequest(agent_id=agent_id, session_id=session_id, messages=[user(text)], **fields)
    return agents.CreateTurnAndWait(request, timeout=300)


def rag_group(vector_db_id: str) -> agent_config_pb2.AgentToolGroup:
    return agent_config_pb2.AgentToolGroup(
        tool_group_id="builtin::rag", args=struct(vector_db_ids=[vector_db_id]), tool_names=["knowledge_search"]
    )


def step_kinds(value: pb.Turn) -> list[str]:
    return [step.WhichOneof("details") for step in value.steps]


@pytest.fixture(scope="module")
def fact_db(registry, tools) -> str:
    registry.RegisterVectorDB(
        registry_pb2.RegisterVectorDBRequest(
            vector_db=resources_pb2.VectorDB(identifier="agent-facts", embedding_model=EMBEDDING_MODEL)
        )
    )
    tools.InsertDocuments(
        tr.InsertDocumentsRequest(
            vector_db_id="agent-facts",
            documents=[
                tr.RAGDocument(document_id="alexandria", content=content_pb2.Content(text=FACT)),
                tr.RAGDocument(document_id="bread", content=content_pb2.Content(text="Bread rises because of yeast.")),
            ],
        ),
        timeout=120,
    )
    return "agent-facts"


def test_a_streamed_turn_sends_its_events_in_order_and_is_stored(agents) -> None:
    agent_id, session_id = new_session(agents, config())
    events = list(
        agents.CreateTurn(
            pb.CreateTurnRequest(agent_id=agent_id, session_id=session_id, messages=[user("Name a color.")]),
            timeout=300,
        )
    )
    kinds = [event.WhichOneof("event") for event in events]
    assert kinds[0] == "turn_start" and kinds[1] == "step_start" and kinds[-2:] == ["step_complete", "turn_complete"]
    assert set(kinds[2:-2]) == {"step_progress"}
    assert events[1].step_start.step_type == pb.STEP_TYPE_INFERENCE
    streamed = "".join(event.step_progress.delta.text for event in events if event.HasField("step_progress"))
    done = events[-1].turn_complete.turn
    assert done.status == pb.TURN_STATUS_COMPLETED
    assert done.end_reason in (pb.TURN_END_REASON_END_OF_TURN, pb.TURN_END_REASON_OUT_OF_TOKENS)
    assert done.output_message.content.text == streamed and streamed.strip()
    assert step_kinds(done) == ["inference"] and done.steps[0].inference.usage.completion_tokens > 0
    assert done.turn_id == events[0].turn_start.turn_id
    stored = agents.GetTurn(pb.GetTurnRequest(agent_id=agent_id, session_id=session_id, turn_id=done.turn_id))
    assert stored == done
    step = agents.GetStep(
        pb.GetStepRequest(agent_id=agent_id, session_id=session_id, turn_id=done.turn_id, step_id=done.steps[0].step_id)
    )
    assert step == done.steps[0] and step.HasField("end_time")


def test_the_session_history_is_carried_into_the_next_turn(agents) -> None:
    agent_id, session_id = new_session(agents, config())
    first = turn(agents, agent_id, session_id, "My name is Ada.")
    second = turn(agents, agent_id, session_id, "What is my name?")
    fresh_agent, fresh_session = new_session(agents, config())
    alone = turn(agents, fresh_agent, fresh_session, "What is my name?")
    # The second turn's model call read the first turn (its input and its answer) before the same question.
    extra = second.steps[0].inference.usage.prompt_tokens - alone.steps[0].inference.usage.prompt_tokens
    assert extra >= first.steps[0].inference.usage.completion_tokens
    session = agents.GetSession(pb.GetSessionRequest(agent_id=agent_id, session_id=session_id))
    assert [t.turn_id for t in session.turns] == [first.turn_id, second.turn_id]
    only = agents.GetSession(pb.GetSessionRequest(agent_id=agent_id, session_id=session_id, turn_ids=[second.turn_id]))
    assert [t.turn_id for t in only.turns] == [second.turn_id]


def test_a_turn_named_many_times_is_returned_once(agents) -> None:
    """turn_ids naming one turn 100000 times (3 MB) once built a reply of 100000 turns (tens of MB, made in the agents
    service's memory before anything refused it; a bigger turn or more ids could take all its memory)."""
    agent_id, session_id = new_session(agents, config())
    first = turn(agents, agent_id, session_id, "Say hello.")
    second = turn(agents, agent_id, session_id, "Say goodbye.")
    request = pb.GetSessionRequest(
        agent_id=agent_id, session_id=session_id, turn_ids=[second.turn_id, *[first.turn_id] * 100_000]
    )
    session = agents.GetSession(request, timeout=60)
    assert [t.turn_id for t in session.turns] == [second.turn_id, first.turn_id]


def test_a_client_tool_call_awaits_input_and_resume_finishes_the_turn(agents) -> None:
    choice = tools_pb2.ToolChoice(tool_name="get_weather")
    agent_id, session_id = new_session(agents, config(client_tools=[WEATHER], tool_choice=choice))
    waiting = turn(agents, agent_id, session_id, "What is the weather in Paris?")
    assert waiting.status == pb.TURN_STATUS_AWAITING_INPUT
    assert waiting.end_reason == pb.TURN_END_REASON_CLIENT_TOOL_CALL
    [call] = waiting.output_message.tool_calls
    assert call.tool_name == "get_weather" and isinstance(json.loads(call.arguments), dict)
    # While it waits, a new turn is refused and wrong answers are refused; nothing changes.
    error = expect_error(lambda: turn(agents, agent_id, session_id, "hello"), grpc.StatusCode.FAILED_PRECONDITION)
    assert reason_and_field(error)[0] == "TURN_AWAITING_INPUT"
    wrong = pb.ToolResponse(call_id="not-the-call", tool_name="get_weather", content=content_pb2.Content(text="?"))
    resume = pb.ResumeTurnAndWaitRequest(
        agent_id=agent_id, session_id=session_id, turn_id=waiting.turn_id, tool_responses=[wrong]
    )
    error = expect_error(lambda: agents.ResumeTurnAndWait(resume, timeout=60), grpc.StatusCode.INVALID_ARGUMENT)
    assert reason_and_field(error) == ("TOOL_RESPONSES_MISMATCH", "tool_responses")
    stored = agents.GetTurn(pb.GetTurnRequest(agent_id=agent_id, session_id=session_id, turn_id=waiting.turn_id))
    assert stored == waiting

    answer = pb.ToolResponse(
        call_id=call.call_id, tool_name="get_weather", content=content_pb2.Content(text="Sunny and 21 degrees.")
    )
    events = list(
        agents.ResumeTurn(
            pb.ResumeTurnRequest(
                agent_id=agent_id, session_id=session_id, turn_id=waiting.turn_id, tool_responses=[answer]
            ),
            timeout=300,
        )
    )
    assert events[-1].HasField("turn_complete")
    done = events[-1].turn_complete.turn
    assert done.status == pb.TURN_STATUS_COMPLETED and done.turn_id == waiting.turn_id
    assert step_kinds(done) == ["inference", "tool_execution", "inference"]
    assert list(done.steps[1].tool_execution.tool_responses) == [answer]
    assert not done.output_message.tool_calls  # the forced choice applied to the first model call only
    # A finished turn cannot be resumed.
    again = pb.ResumeTurnAndWaitRequest(
        agent_id=agent_id, session_id=session_id, turn_id=waiting.turn_id, tool_responses=[answer]
    )
    error = expect_error(lambda: agents.ResumeTurnAndWait(again, timeout=60), grpc.StatusCode.FAILED_PRECONDITION)
    assert reason_and_field(error)[0] == "TURN_NOT_AWAITING_INPUT"


def test_a_rag_turn_gives_the_model_the_retrieved_chunk(agents, fact_db: str) -> None:
    choice = tools_pb2.ToolChoice(tool_name="knowledge_search")
    agent_id, session_id = new_session(
        agents,
        config(toolgroups=[rag_group(fact_db)], tool_choice=choice, sampling_params=FOR_TOOL_CALLS, max_infer_iters=2),
    )
    done = turn(agents, agent_id, session_id, "How tall was the lighthouse of Alexandria?")
    assert done.status == pb.TURN_STATUS_COMPLETED
    # The second model call reads the retrieved chunk; it may answer or (with auto tool choice) search again.
    assert step_kinds(done)[:3] == ["inference", "tool_execution", "inference"]
    [call] = done.steps[0].inference.model_response.tool_calls
    assert call.tool_name == "knowledge_search"
    [response] = done.steps[1].tool_execution.tool_responses
    assert response.call_id == call.call_id and FACT in response.content.text
    assert "alexandria" in str(response.metadata)


def test_max_infer_iters_stops_the_loop(agents, fact_db: str) -> None:
    choice = tools_pb2.ToolChoice(tool_name="knowledge_search")
    agent_id, session_id = new_session(
        agents,
        config(toolgroups=[rag_group(fact_db)], tool_choice=choice, max_infer_iters=1, sampling_params=FOR_TOOL_CALLS),
    )
    done = turn(agents, agent_id, session_id, "Search for the lighthouse.")
    assert done.status == pb.TURN_STATUS_COMPLETED
    assert done.end_reason == pb.TURN_END_REASON_MAX_INFER_ITERS
    assert step_kinds(done) == ["inference", "tool_execution"]
    assert done.output_message.tool_calls[0].tool_name == "knowledge_search"


def test_an_input_shield_that_finds_an_error_ends_the_turn(agents) -> None:
    agent_id, session_id = new_session(agents, config(input_shields=["code-scanner"]))
    done = turn(agents, agent_id, session_id, "Run this:\n```python\nimport os\neval(input())\n```")
    assert done.status == pb.TURN_STATUS_COMPLETED
    assert done.end_reason == pb.TURN_END_REASON_SHIELD_VIOLATION
    assert step_kinds(done) == ["shield_call"]
    violation = done.steps[0].shield_call.violation
    assert violation.violation_level == 3 and done.output_message.content.text == violation.user_message
    # A clean message passes the shield and reaches the model.
    clean = turn(agents, agent_id, session_id, "Say hello.")
    assert step_kinds(clean) == ["shield_call", "inference"]
    assert not clean.steps[0].shield_call.HasField("violation")
    # A WARN-level finding is recorded and the turn goes on.
    warned = turn(agents, agent_id, session_id, "Is this fine?\n```python\nimport yaml\nyaml.load(data)\n```")
    assert step_kinds(warned) == ["shield_call", "inference"]
    assert warned.steps[0].shield_call.violation.violation_level == 2
    assert warned.end_reason != pb.TURN_END_REASON_SHIELD_VIOLATION
    assert warned.output_message == warned.steps[1].inference.model_response


def test_attached_documents_are_retrieved_into_the_turn(agents) -> None:
    group = agent_config_pb2.AgentToolGroup(tool_group_id="builtin::rag", tool_names=["knowledge_search"])
    agent_id, session_id = new_session(
        agents, config(toolgroups=[group], tool_choice=tools_pb2.ToolChoice(mode=tools_pb2.TOOL_CHOICE_MODE_NONE))
    )
    document = pb.Document(
        content=content_pb2.Content(text="The secret password is swordfish."), mime_type="text/plain"
    )
    done = turn(agents, agent_id, session_id, "What is the secret password?", documents=[document])
    assert step_kinds(done)[0] == "memory_retrieval"
    assert "swordfish" in done.steps[0].memory_retrieval.inserted_context.text
    agents.DeleteSession(pb.DeleteSessionRequest(agent_id=agent_id, session_id=session_id))


def test_documents_without_rag_are_added_to_the_input(agents) -> None:
    agent_id, session_id = new_session(agents, config())
    document = pb.Document(content=content_pb2.Content(text="The secret password is swordfish. " * 20))
    plain = turn(agents, agent_id, session_id, "What is the password?")
    with_document = turn(
        agents, agent_id, new_session_id(agents, agent_id), "What is the password?", documents=[document]
    )
    grown = with_document.steps[0].inference.usage.prompt_tokens - plain.steps[0].inference.usage.prompt_tokens
    assert grown > 100  # the document's text was read by the model
    by_uri = pb.Document(uri="https://example.com/notes.txt")
    error = expect_error(
        lambda: turn(agents, agent_id, new_session_id(agents, agent_id), "hi", documents=[by_uri]),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error)[1] == "documents[0]"


def wait_until_served(agents, agent_id: str) -> None:
    """After a restart the gateway reconnects to the service within its reconnect backoff (about a second)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            agents.GetAgent(pb.GetAgentRequest(agent_id=agent_id), timeout=5)
            return
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def new_session_id(agents, agent_id: str) -> str:
    return agents.CreateSession(pb.CreateSessionRequest(agent_id=agent_id), timeout=30).session_id


def test_cancelling_a_streamed_turn_keeps_it_failed_and_frees_the_session(agents) -> None:
    agent_id, session_id = new_session(agents, config(sampling_params=greedy(400)))
    call = agents.CreateTurn(
        pb.CreateTurnRequest(agent_id=agent_id, session_id=session_id, messages=[user("Write a long story.")]),
        timeout=300,
    )
    turn_id = ""
    for event in call:
        if event.HasField("turn_start"):
            turn_id = event.turn_start.turn_id
        if event.HasField("step_progress"):
            break
    call.cancel()
    deadline = time.monotonic() + 120  # the engine stops at its next token, later on a loaded machine
    stopped = pb.Turn()
    while time.monotonic() < deadline:
        stopped = agents.GetTurn(pb.GetTurnRequest(agent_id=agent_id, session_id=session_id, turn_id=turn_id))
        if stopped.status == pb.TURN_STATUS_FAILED:
            break
        time.sleep(0.2)
    assert stopped.status == pb.TURN_STATUS_FAILED and stopped.error.reason == "TURN_CANCELLED"
    assert turn(agents, agent_id, session_id, "Say hi.").status == pb.TURN_STATUS_COMPLETED


def test_a_batch_job_runs_every_item_in_its_own_session(agents) -> None:
    agent = agents.CreateAgent(pb.CreateAgentRequest(agent_config=config(sampling_params=greedy(8))), timeout=60)
    items = [pb.AgentBatchItem(messages=[user(f"Count to {n}.")]) for n in (2, 3, 4)]
    job = agents.CreateAgentBatchJob(
        pb.CreateAgentBatchJobRequest(agent_id=agent.agent_id, items=items, max_concurrency=2), timeout=30
    )
    assert job.progress.total == 3 and job.metadata["agent_id"] == agent.agent_id
    deadline = time.monotonic() + 300
    while job.status not in (jobs_pb2.JOB_STATUS_COMPLETED, jobs_pb2.JOB_STATUS_FAILED) and time.monotonic() < deadline:
        time.sleep(0.5)
        job = agents.GetAgentBatchJob(pb.GetAgentBatchJobRequest(job_id=job.job_id))
    assert job.status == jobs_pb2.JOB_STATUS_COMPLETED and job.progress.done == 3
    first = agents.GetAgentBatchJobResult(pb.GetAgentBatchJobResultRequest(job_id=job.job_id, page_size=2))
    rest = agents.GetAgentBatchJobResult(
        pb.GetAgentBatchJobResultRequest(job_id=job.job_id, page_size=2, page_token=first.next_page_token)
    )
    results = [*first.results, *rest.results]
    assert [r.index for r in results] == [0, 1, 2] and not rest.next_page_token
    assert all(r.turn.status == pb.TURN_STATUS_COMPLETED for r in results)
    assert len({r.session_id for r in results}) == 3
    listed = agents.ListAgentBatchJobs(pb.ListAgentBatchJobsRequest(agent_id=agent.agent_id))
    assert [j.job_id for j in listed.jobs] == [job.job_id]


def test_bytes_that_are_not_a_request_are_an_invalid_argument(gateway: grpc.Channel) -> None:
    """Garbage sent through the gateway to RPCs it does not route by a resource reaches the service, which answers
    INVALID_ARGUMENT (not UNKNOWN "Unexpected DecodeError")."""
    for method in ("/llama.agents.v1.AgentsService/ListAgents", "/llama.inspect.v1.InspectService/ListProviders"):
        error = expect_error(
            lambda method=method: gateway.unary_unary(method)(b"\xff\xff\xff\xff", timeout=30),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert reason_and_field(error)[0] == "MALFORMED_REQUEST"


def test_batch_concurrency_past_its_cap_is_refused(agents) -> None:
    agent = agents.CreateAgent(pb.CreateAgentRequest(agent_config=config()), timeout=60)
    items = [pb.AgentBatchItem(messages=[user("hi")])]
    error = expect_error(
        lambda: agents.CreateAgentBatchJob(
            pb.CreateAgentBatchJobRequest(agent_id=agent.agent_id, items=items, max_concurrency=1000), timeout=30
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error)[1] == "max_concurrency"


def test_bad_input_gets_clear_errors(agents, registry) -> None:
    def create(agent_config: agent_config_pb2.AgentConfig):
        return lambda: agents.CreateAgent(pb.CreateAgentRequest(agent_config=agent_config), timeout=60)

    error = expect_error(create(config(model="no-such-model")), grpc.StatusCode.NOT_FOUND)
    assert "no-such-model" in error.details()
    error = expect_error(create(config(model=EMBEDDING_MODEL)), grpc.StatusCode.FAILED_PRECONDITION)
    assert reason_and_field(error)[0] == "WRONG_MODEL_TYPE"
    unknown_group = agent_config_pb2.AgentToolGroup(tool_group_id="mcp::nowhere")
    error = expect_error(create(config(toolgroups=[unknown_group])), grpc.StatusCode.NOT_FOUND)
    assert "mcp::nowhere" in error.details()
    expect_error(create(config(input_shields=["no-such-shield"])), grpc.StatusCode.NOT_FOUND)
    for iters in (0, 101):
        error = expect_error(create(config(max_infer_iters=iters)), grpc.StatusCode.INVALID_ARGUMENT)
        assert reason_and_field(error)[1] == "agent_config.max_infer_iters"
    clash = tools_pb2.ToolDefinition(name="knowledge_search")
    rag = agent_config_pb2.AgentToolGroup(tool_group_id="builtin::rag")
    expect_error(create(config(toolgroups=[rag], client_tools=[clash])), grpc.StatusCode.INVALID_ARGUMENT)
    for number in (math.nan, math.inf):  # no JSON for them: once INTERNAL
        not_json = agent_config_pb2.AgentToolGroup(tool_group_id="builtin::rag", args=struct(top_k=number))
        error = expect_error(create(config(toolgroups=[not_json])), grpc.StatusCode.INVALID_ARGUMENT)
        assert reason_and_field(error)[1] == "agent_config.toolgroups[0].args"
        schema = tools_pb2.ToolDefinition(name="lookup", parameters=struct(maximum=number))  # every turn was INTERNAL
        error = expect_error(create(config(client_tools=[schema])), grpc.StatusCode.INVALID_ARGUMENT)
        assert reason_and_field(error)[1] == "agent_config.client_tools[0].parameters"

    error = expect_error(lambda: turn(agents, "no-such-agent", "x", "hi"), grpc.StatusCode.NOT_FOUND)
    assert reason_and_field(error)[0] == "AGENT_NOT_FOUND"
    agent_id, session_id = new_session(agents, config())
    error = expect_error(lambda: turn(agents, agent_id, "no-such-session", "hi"), grpc.StatusCode.NOT_FOUND)
    assert reason_and_field(error)[0] == "SESSION_NOT_FOUND"
    empty = pb.CreateTurnAndWaitRequest(agent_id=agent_id, session_id=session_id)
    error = expect_error(lambda: agents.CreateTurnAndWait(empty, timeout=30), grpc.StatusCode.INVALID_ARGUMENT)
    assert reason_and_field(error)[1] == "messages"
    assistant = messages_pb2.Message(role=messages_pb2.ROLE_ASSISTANT, content=content_pb2.Content(text="hi"))
    bad_role = pb.CreateTurnAndWaitRequest(agent_id=agent_id, session_id=session_id, messages=[assistant])
    expect_error(lambda: agents.CreateTurnAndWait(bad_role, timeout=30), grpc.StatusCode.INVALID_ARGUMENT)
    ghost = agent_config_pb2.AgentToolGroup(tool_group_id="mcp::nowhere")
    error = expect_error(
        lambda: turn(agents, agent_id, session_id, "hi", toolgroups=[ghost]), grpc.StatusCode.NOT_FOUND
    )
    not_json = agent_config_pb2.AgentToolGroup(tool_group_id="builtin::rag", args=struct(top_k=math.nan))
    error = expect_error(
        lambda: turn(agents, agent_id, session_id, "hi", toolgroups=[not_json]), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert reason_and_field(error)[1] == "toolgroups[0].args"
    resume = pb.ResumeTurnAndWaitRequest(agent_id=agent_id, session_id=session_id, turn_id="no-such-turn")
    expect_error(lambda: agents.ResumeTurnAndWait(resume, timeout=30), grpc.StatusCode.NOT_FOUND)
    expect_error(
        lambda: agents.ListAgents(pb.ListAgentsRequest(page_token="garbage")), grpc.StatusCode.INVALID_ARGUMENT
    )
    # None of it left a turn behind, and the session still works.
    assert turn(agents, agent_id, session_id, "Say hi.").status == pb.TURN_STATUS_COMPLETED
    session = agents.GetSession(pb.GetSessionRequest(agent_id=agent_id, session_id=session_id))
    assert len(session.turns) == 1


def test_agents_and_sessions_list_in_pages_and_delete(agents) -> None:
    ids = [agents.CreateAgent(pb.CreateAgentRequest(agent_config=config(name=f"a{i}"))).agent_id for i in range(3)]
    first = agents.ListAgents(pb.ListAgentsRequest(page_size=2))
    second = agents.ListAgents(pb.ListAgentsRequest(page_size=2, page_token=first.next_page_token))
    assert [a.agent_id for a in first.agents] == ids[::-1][:2] and second.agents[0].agent_id == ids[0]
    agent_id = ids[0]
    sessions = [new_session_id(agents, agent_id) for _ in range(2)]
    listed = agents.ListSessions(pb.ListSessionsRequest(agent_id=agent_id))
    assert [s.session_id for s in listed.sessions] == sessions[::-1]
    agents.DeleteSession(pb.DeleteSessionRequest(agent_id=agent_id, session_id=sessions[0]))
    expect_error(
        lambda: agents.GetSession(pb.GetSessionRequest(agent_id=agent_id, session_id=sessions[0])),
        grpc.StatusCode.NOT_FOUND,
    )
    agents.DeleteAgent(pb.DeleteAgentRequest(agent_id=agent_id))
    expect_error(lambda: agents.GetAgent(pb.GetAgentRequest(agent_id=agent_id)), grpc.StatusCode.NOT_FOUND)
    expect_error(
        lambda: agents.GetSession(pb.GetSessionRequest(agent_id=agent_id, session_id=sessions[1])),
        grpc.StatusCode.NOT_FOUND,
    )


def test_persistent_sessions_survive_a_restart_and_an_interrupted_turn_is_failed(
    agents,
    local_mesh: LocalMesh,
) -> None:
    agent_id, session_id = new_session(agents, config(enable_session_persistence=True, sampling_params=greedy(600)))
    kept_agent, kept_session = new_session(agents, config(enable_session_persistence=True))
    kept = turn(agents, kept_agent, kept_session, "Say hi.")
    memory_agent, memory_session = new_session(agents, config())

    started = threading.Event()
    turn_ids: list[str] = []

    def stream() -> None:
        call = agents.CreateTurn(
            pb.CreateTurnRequest(agent_id=agent_id, session_id=session_id, messages=[user("Write a long story.")]),
            timeout=300,
        )
        try:
            for event in call:
                if event.HasField("turn_start"):
                    turn_ids.append(event.turn_start.turn_id)
                if event.HasField("step_progress"):
                    started.set()
        except grpc.RpcError:
            pass

    reader = threading.Thread(target=stream)
    reader.start()
    assert started.wait(120)
    process = local_mesh.processes["agents"]
    process.send_signal(signal.SIGKILL)  # no chance to record anything: start-up must find the turn
    process.wait(timeout=30)
    reader.join(timeout=60)
    local_mesh.start(only={"agents"})
    wait_until_served(agents, agent_id)

    assert agents.GetAgent(pb.GetAgentRequest(agent_id=agent_id)).agent_config.enable_session_persistence
    after = agents.GetSession(pb.GetSessionRequest(agent_id=kept_agent, session_id=kept_session))
    assert list(after.turns) == [kept]
    interrupted = agents.GetTurn(pb.GetTurnRequest(agent_id=agent_id, session_id=session_id, turn_id=turn_ids[0]))
    assert interrupted.status == pb.TURN_STATUS_FAILED and interrupted.error.reason == "TURN_INTERRUPTED"
    # Sessions of agents without persistence lived in memory: gone with the process, the agent itself is kept.
    error = expect_error(
        lambda: agents.GetSession(pb.GetSessionRequest(agent_id=memory_agent, session_id=memory_session)),
        grpc.StatusCode.NOT_FOUND,
    )
    assert reason_and_field(error)[0] == "SESSION_NOT_FOUND"


def test_an_agent_turn_is_one_trace_with_its_steps_as_child_spans(agents, gateway, fact_db: str) -> None:
    from llama.telemetry.v1 import telemetry_pb2_grpc
    from tests.mesh.test_telemetry_mesh import eventually, flat, service_of, traceparent, tree_of

    telemetry = telemetry_pb2_grpc.TelemetryServiceStub(gateway)
    choice = tools_pb2.ToolChoice(tool_name="knowledge_search")
    agent_id, session_id = new_session(
        agents,
        config(toolgroups=[rag_group(fact_db)], tool_choice=choice, max_infer_iters=1, sampling_params=FOR_TOOL_CALLS),
    )
    trace_id, metadata = traceparent()
    request = pb.CreateTurnAndWaitRequest(agent_id=agent_id, session_id=session_id, messages=[user("Lighthouse?")])
    done = agents.CreateTurnAndWait(request, metadata=metadata, timeout=300)

    def served(spans: dict[str, tuple[object, object]], service: str, method: str) -> object | None:
        """The span of `service` serving `method` (e.g. "/StreamChatCompletion", the call a turn makes), when it has
        arrived."""
        return next((s for s, _ in spans.values() if service_of(s) == service and s.name.endswith(method)), None)

    def turn_spans() -> dict[str, tuple[object, object]] | None:
        """Every span the assertions below read, once it has arrived. A span is in the tree only with its whole
        chain of parents up to the gateway's root, so its ancestors are complete too."""
        tree = tree_of(telemetry, trace_id)
        if tree is None or service_of(tree.span) != "llama-mesh.gateway":
            return None
        spans = {span.span_id: (span, parent) for span, parent in flat(tree)}
        names = {span.name for span, _ in spans.values()}
        wanted = {"agents.turn", "agents.step.inference", "agents.step.tool_execution"}
        chat = served(spans, "llama-mesh.inference", "/StreamChatCompletion")
        tool = served(spans, "llama-mesh.tool_runtime", "/InvokeTool")
        return spans if wanted <= names and chat is not None and tool is not None else None

    spans = eventually(turn_spans, "the spans of the agent turn")
    by_name = {span.name: (span, parent) for span, parent in spans.values()}
    turn_span, turn_parent = by_name["agents.turn"]
    assert service_of(turn_span) == "llama-mesh.agents" and turn_span.attributes["agent.turn_id"] == done.turn_id
    assert turn_parent.name.endswith("AgentsService/CreateTurnAndWait")
    for step in ("agents.step.inference", "agents.step.tool_execution"):
        assert by_name[step][1].span_id == turn_span.span_id  # each step is a child of the turn

    def ancestors(span_id: str) -> list[str]:
        names = []
        while span_id in spans and spans[span_id][1] is not None:
            parent = spans[span_id][1]
            names.append(parent.name)
            span_id = parent.span_id
        return names

    chat = served(spans, "llama-mesh.inference", "/StreamChatCompletion")
    assert "agents.step.inference" in ancestors(chat.span_id)  # the model call hangs under its step
    tool = served(spans, "llama-mesh.tool_runtime", "/InvokeTool")
    assert "agents.step.tool_execution" in ancestors(tool.span_id)


def test_an_output_shield_replaces_a_refused_answer(agents) -> None:
    # A grammar makes the real model write exactly this insecure line, so the output shield has something to find.
    insecure = sampling_pb2.ResponseFormat(grammar='root ::= "eval(input())"')
    agent_id, session_id = new_session(agents, config(output_shields=["code-scanner"], response_format=insecure))
    done = turn(agents, agent_id, session_id, "Write one line of Python.")
    assert step_kinds(done) == ["inference", "shield_call"]
    assert done.steps[0].inference.model_response.content.text == "eval(input())"
    violation = done.steps[1].shield_call.violation
    assert violation.violation_level == 3
    assert done.end_reason == pb.TURN_END_REASON_SHIELD_VIOLATION
    assert done.output_message.content.text == violation.user_message != "eval(input())"


def test_a_cancelled_batch_job_stops_before_its_remaining_items(agents) -> None:
    agent = agents.CreateAgent(pb.CreateAgentRequest(agent_config=config(sampling_params=greedy(32))), timeout=60)
    items = [pb.AgentBatchItem(messages=[user(f"Tell me about the number {n}.")]) for n in range(8)]
    job = agents.CreateAgentBatchJob(
        pb.CreateAgentBatchJobRequest(agent_id=agent.agent_id, items=items, max_concurrency=1), timeout=30
    )
    agents.CancelAgentBatchJob(pb.CancelAgentBatchJobRequest(job_id=job.job_id), timeout=30)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = agents.GetAgentBatchJob(pb.GetAgentBatchJobRequest(job_id=job.job_id))
        if job.status not in (jobs_pb2.JOB_STATUS_QUEUED, jobs_pb2.JOB_STATUS_RUNNING):
            break
        time.sleep(0.3)
    assert job.status == jobs_pb2.JOB_STATUS_CANCELLED and job.progress.done < len(items)
    assert job.HasField("end_time")
    error = expect_error(
        lambda: agents.GetAgentBatchJobResult(pb.GetAgentBatchJobResultRequest(job_id=job.job_id)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert reason_and_field(error)[0] == "JOB_NOT_COMPLETED"
    # Cancelling a finished job changes nothing; an unknown job is NOT_FOUND; an empty batch is refused.
    again = agents.CancelAgentBatchJob(pb.CancelAgentBatchJobRequest(job_id=job.job_id))
    assert again.status == jobs_pb2.JOB_STATUS_CANCELLED
    expect_error(
        lambda: agents.GetAgentBatchJob(pb.GetAgentBatchJobRequest(job_id="no-such-job")), grpc.StatusCode.NOT_FOUND
    )
    expect_error(
        lambda: agents.CreateAgentBatchJob(pb.CreateAgentBatchJobRequest(agent_id=agent.agent_id)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
