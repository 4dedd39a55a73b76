"""The Python Agent helper (client tools as decorated functions, resumed automatically) and `llama-mesh agent ...`
against the real default mesh and model. Tool calls are forced with tool_choice (a 135M model does not pick tools on
its own); the arguments are the model's and everything after the forced call is the real loop."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from llama.agents.v1 import agents_pb2 as pb
from llama.common.v1 import content_pb2, jobs_pb2
from llama.tool_runtime.v1 import tool_runtime_pb2 as rag
from llama.tool_runtime.v1 import tool_runtime_pb2_grpc
from llama_mesh.client import (
    Agent,
    AsyncAgent,
    AsyncLlamaMeshClient,
    EventLogger,
    LlamaMeshClient,
    NotFoundError,
    client_tool,
)
from llama_mesh.client.eval import FINAL_STATES
from llama_mesh.launcher import LocalMesh
from tests.mesh.helpers import CHAT_MODEL, EMBEDDING_MODEL, run_cli

FACT = "The lighthouse of Alexandria was 100 meters tall."
ROOT = Path(__file__).resolve().parents[2]


def docs_agents_block(language: str) -> str:
    """The `language` code block of docs/agents.md."""
    section = (ROOT / "docs" / "agents.md").read_text()
    [block] = re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)
    return block


def weather_tool(calls: list[str]):
    @client_tool
    def get_weather(city: str) -> str:
        """The current weather in a city.

        Args:
            city: The city's name.
        """
        calls.append(city)
        return f"Sunny and 21 degrees in {city}."

    return get_weather


def test_the_agent_runs_a_decorated_client_tool_and_resumes_the_turn(local_mesh: LocalMesh) -> None:
    calls: list[str] = []
    get_weather = weather_tool(calls)
    with LlamaMeshClient(local_mesh.gateway_address, timeout=300) as client:
        agent = Agent(
            client,
            model=CHAT_MODEL,
            instructions="You are a helpful assistant. Answer briefly.",
            tools=[get_weather],
            tool_choice="get_weather",
            sampling={"max_tokens": 48},
            max_infer_iters=3,
        )
        [sent] = client.agents.get(agent.agent_id).agent_config.client_tools
        assert sent == get_weather.definition and sent.description == "The current weather in a city."
        session_id = agent.create_session("client tools")
        printed = io.StringIO()
        logger = EventLogger(printed)
        events = []
        for event in agent.create_turn("What is the weather in Paris?", session_id):
            logger.handle(event)
            events.append(event)

        kinds = [event.WhichOneof("event") for event in events]
        assert kinds[0] == "turn_start" and kinds[-1] == "turn_complete" and "error" not in kinds
        waiting = next(event.turn_awaiting_input.turn for event in events if event.HasField("turn_awaiting_input"))
        [call] = waiting.output_message.tool_calls
        # The function ran with the arguments the model wrote, and its result went back into the same turn.
        assert calls and calls[0] == json.loads(call.arguments)["city"]
        done = events[-1].turn_complete.turn
        assert done.turn_id == waiting.turn_id and done.status == pb.TURN_STATUS_COMPLETED
        tool_steps = [step.tool_execution for step in done.steps if step.HasField("tool_execution")]
        assert tool_steps[0].tool_responses[0].content.text == f"Sunny and 21 degrees in {calls[0]}."
        assert [step.WhichOneof("details") for step in done.steps][:3] == ["inference", "tool_execution", "inference"]
        assert client.agents.get_turn(agent.agent_id, session_id, done.turn_id) == done
        text = printed.getvalue()
        assert f"tool_call> get_weather({call.arguments})" in text
        assert f"tool_execution> get_weather({call.arguments}) -> Sunny and 21 degrees in {calls[0]}." in text
        assert "turn> awaiting client tools: get_weather" in text and "turn> completed: " in text

        # Without streaming: the finished turn, the tool answered on the way.
        turn = agent.create_turn("And in Rome?", session_id, stream=False)
        assert turn.status == pb.TURN_STATUS_COMPLETED and len(calls) >= 2
        session = client.agents.get_session(agent.agent_id, session_id)
        assert [t.turn_id for t in session.turns] == [done.turn_id, turn.turn_id]


def test_client_agents_wraps_sessions_steps_batch_jobs_and_errors(local_mesh: LocalMesh) -> None:
    with LlamaMeshClient(local_mesh.gateway_address, timeout=300) as client:
        agents = client.agents
        agent = agents.create(CHAT_MODEL, instructions="Answer in one word.", sampling={"max_tokens": 8}, name="typed")
        assert agents.get(agent.agent_id).agent_config.sampling_params.max_tokens == 8
        session = agents.create_session(agent.agent_id, "typed calls")
        turn = agents.create_turn_and_wait(agent.agent_id, session.session_id, [{"role": "user", "content": "Hi"}])
        assert turn.status == pb.TURN_STATUS_COMPLETED
        step = agents.get_step(agent.agent_id, session.session_id, turn.turn_id, turn.steps[0].step_id)
        assert step == turn.steps[0] and step.inference.usage.completion_tokens > 0
        assert [s.session_id for s in agents.list_sessions(agent.agent_id)] == [session.session_id]

        job = agents.create_batch_job(
            agent.agent_id, ["Name a fruit.", {"messages": "Name a tree."}], max_concurrency=1
        )
        deadline = time.monotonic() + 240
        while agents.get_batch_job(job.job_id).status not in FINAL_STATES and time.monotonic() < deadline:
            time.sleep(1)
        assert agents.get_batch_job(job.job_id).status == jobs_pb2.JOB_STATUS_COMPLETED
        assert [j.job_id for j in agents.list_batch_jobs(agent.agent_id)] == [job.job_id]
        results = list(agents.batch_job_results(job.job_id, page_size=1))  # two pages
        assert [r.index for r in results] == [0, 1] and all(r.turn.status == pb.TURN_STATUS_COMPLETED for r in results)

        agents.delete_session(agent.agent_id, session.session_id)
        with pytest.raises(NotFoundError) as missing:
            agents.get_session(agent.agent_id, session.session_id)
        assert missing.value.reason == "SESSION_NOT_FOUND"
        with pytest.raises(ValueError, match="at least one message"):
            agents.create_turn_and_wait(agent.agent_id, session.session_id, [])
        agents.delete(agent.agent_id)
        assert agent.agent_id not in [a.agent_id for a in agents.list()]
        with pytest.raises(NotFoundError):
            next(iter(agents.create_turn(agent.agent_id, session.session_id, "Hi")))


async def test_the_async_agent_answers_its_client_tool(local_mesh: LocalMesh) -> None:
    calls: list[str] = []
    async with AsyncLlamaMeshClient(local_mesh.gateway_address, timeout=300) as client:
        agent = await AsyncAgent.create(
            client,
            model=CHAT_MODEL,
            instructions="Answer briefly.",
            tools=[weather_tool(calls)],
            tool_choice="get_weather",
            sampling={"max_tokens": 32},
            max_infer_iters=2,
        )
        session_id = await agent.create_session()
        kinds = [event.WhichOneof("event") async for event in agent.create_turn("Weather in Oslo?", session_id)]
        assert "turn_awaiting_input" in kinds and kinds[-1] == "turn_complete" and calls
        assert [a.agent_id for a in await client.agents.list()].count(agent.agent_id) == 1


@pytest.fixture(scope="module")
def cli_facts(local_mesh: LocalMesh) -> str:
    with LlamaMeshClient(local_mesh.gateway_address, timeout=120) as client:
        client.vector_dbs.register("cli-agent-facts", embedding_model=EMBEDDING_MODEL)
        tool_runtime_pb2_grpc.ToolRuntimeServiceStub(client.channel).InsertDocuments(
            rag.InsertDocumentsRequest(
                vector_db_id="cli-agent-facts",
                documents=[rag.RAGDocument(document_id="alexandria", content=content_pb2.Content(text=FACT))],
            )
        )
    return "cli-agent-facts"


def test_agent_chat_streams_answers_to_lines_read_from_stdin(local_mesh: LocalMesh) -> None:
    chatted = run_cli(
        local_mesh,
        "agent",
        "chat",
        "-m",
        CHAT_MODEL,
        "--instructions",
        "Answer briefly.",
        "--max-tokens",
        "24",
        input="Name a color.\n\n/exit\nThis line is never sent.\n",
    )
    assert chatted.returncode == 0, chatted.stderr
    answers = re.findall(r"^inference> (.*)$", chatted.stdout, flags=re.MULTILINE)
    assert len(answers) == 1 and answers[0].strip()
    assert chatted.stdout.count("turn> completed: ") == 1
    assert "session" in chatted.stderr and "Traceback" not in chatted.stderr


def test_agent_commands_and_a_rag_turn_from_the_cli(local_mesh: LocalMesh, cli_facts: str) -> None:
    created = run_cli(
        local_mesh,
        "agent",
        "create",
        "-m",
        CHAT_MODEL,
        "--name",
        "cli-rag",
        "--instructions",
        "You are a helpful assistant. Answer briefly.",
        "--tool-group",
        "builtin::rag/knowledge_search",
        "--tool-args",
        json.dumps({"vector_db_ids": [cli_facts]}),
        "--tool-choice",
        "knowledge_search",
        "--max-tokens",
        "128",  # room for the forced call's JSON: the tiny model's search queries can be long
        "--repetition-penalty",
        "1.1",  # and can repeat themselves until the tokens run out
        "--max-infer-iters",
        "2",
    )
    assert created.returncode == 0, created.stderr
    agent_id = created.stdout.strip()
    listed = run_cli(local_mesh, "agent", "list", columns=250)
    assert agent_id in listed.stdout and "cli-rag" in listed.stdout
    shown = json.loads(run_cli(local_mesh, "agent", "get", agent_id).stdout)
    assert shown["agent_config"]["toolgroups"][0]["tool_group_id"] == "builtin::rag"
    session_id = run_cli(local_mesh, "agent", "new-session", agent_id, "--name", "facts").stdout.strip()
    assert session_id in run_cli(local_mesh, "agent", "sessions", agent_id, columns=250).stdout

    turned = run_cli(local_mesh, "agent", "turn", agent_id, session_id, "How tall was the lighthouse of Alexandria?")
    assert turned.returncode == 0, turned.stderr
    assert "tool_call> knowledge_search(" in turned.stdout, turned.stdout
    [result] = re.findall(r"^tool_execution> knowledge_search\(.*\) -> (.*)$", turned.stdout, flags=re.MULTILINE)
    assert FACT in result
    assert "turn> completed: " in turned.stdout

    deleted = run_cli(local_mesh, "agent", "delete", agent_id)
    assert deleted.returncode == 0, deleted.stderr
    gone = run_cli(local_mesh, "agent", "get", agent_id)
    assert gone.returncode == 1 and "NOT_FOUND" in gone.stderr and "Traceback" not in gone.stderr
    unknown = run_cli(local_mesh, "agent", "turn", agent_id, session_id, "hello")
    assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stderr


def test_the_docs_python_agent_example_runs(local_mesh: LocalMesh) -> None:
    code = docs_agents_block("python").replace("127.0.0.1:50051", local_mesh.gateway_address)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "docs/agents.md", "exec"), {"__name__": "docs_example"})
    output = printed.getvalue()
    assert re.search(r"^tool_execution> get_weather\(.*\) -> Sunny and 21 degrees in ", output, flags=re.MULTILINE)
    rag_lines = re.findall(r"^tool_execution> knowledge_search\(.*$", output, flags=re.MULTILINE)
    assert rag_lines and FACT in rag_lines[0], output
    assert output.count("turn> completed: ") == 2


def test_the_docs_cli_agent_example_runs(local_mesh: LocalMesh) -> None:
    script = docs_agents_block("bash")
    env = {**os.environ, "LLAMA_MESH_GATEWAY": local_mesh.gateway_address}
    ran = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        input="What do your notes say about the lighthouse?\n",
    )
    assert ran.returncode == 0, ran.stderr
    results = re.findall(r"^tool_execution> knowledge_search\(.*\) -> (.*)$", ran.stdout, flags=re.MULTILINE)
    assert len(results) >= 2 and all(FACT in result for result in results), ran.stdout  # turn, then one chat line
    assert ran.stdout.count("turn> completed: ") == 2 and "deleted agent " in ran.stdout
