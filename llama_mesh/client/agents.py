"""`client.agents`: every AgentsService call (agents, sessions, turns, steps, batch jobs), sync and async.

    agent = client.agents.create("smollm2-135m-instruct", instructions="Answer briefly.", sampling={"max_tokens": 64},
                                 toolgroups=[{"name": "builtin::rag", "args": {"vector_db_ids": ["docs"]}}])
    session = client.agents.create_session(agent.agent_id, "demo")
    for event in client.agents.create_turn(agent.agent_id, session.session_id, "What do the docs say?"):
        if event.HasField("step_progress"):
            print(event.step_progress.delta.text, end="")
    turn = client.agents.create_turn_and_wait(agent.agent_id, session.session_id, "And then?")

Keyword values are described in `llama_mesh.client.agent_requests`. Streams yield the protos as they come (an
`error` event is the last one; `raise_for_stream_error` turns it into an exception). `llama_mesh.client.agent.Agent`
adds client tools run as Python functions on top of these calls.
"""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from llama.agents.v1 import agents_pb2 as pb
from llama.agents.v1 import agents_pb2_grpc
from llama.common.v1 import agent_config_pb2, jobs_pb2
from llama_mesh.client import agent_requests as build
from llama_mesh.client.conversions import copied
from llama_mesh.client.transport import AsyncTransport, Transport


def _config(model: str | agent_config_pb2.AgentConfig, fields: dict[str, Any]) -> agent_config_pb2.AgentConfig:
    if isinstance(model, agent_config_pb2.AgentConfig):
        if fields:
            raise TypeError("give an AgentConfig or keyword values, not both")
        return copied(model)
    return build.agent_config(model, **fields)


class Agents:
    """AgentsService calls through the gateway (blocking)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._stub = agents_pb2_grpc.AgentsServiceStub(transport.channel)

    # ---------- agents ----------
    def create(
        self, model: str | agent_config_pb2.AgentConfig, *, timeout: float | None = None, **config: Any
    ) -> pb.Agent:
        """Create an agent from a model id and the config's keywords (or a whole AgentConfig proto)."""
        request = pb.CreateAgentRequest(agent_config=_config(model, config))
        return self._transport.unary(self._stub.CreateAgent, request, timeout)

    def get(self, agent_id: str, *, timeout: float | None = None) -> pb.Agent:
        return self._transport.unary(self._stub.GetAgent, pb.GetAgentRequest(agent_id=agent_id), timeout)

    def iter(self, *, page_size: int = 0, timeout: float | None = None) -> Iterator[pb.Agent]:
        """The agents, newest first, page after page."""
        request = pb.ListAgentsRequest(page_size=page_size)
        return self._transport.pages(self._stub.ListAgents, request, "agents", timeout)

    def list(self, *, timeout: float | None = None) -> list[pb.Agent]:
        return list(self.iter(timeout=timeout))

    def delete(self, agent_id: str, *, timeout: float | None = None) -> None:
        """Delete the agent with its sessions (and cancel its batch jobs)."""
        self._transport.unary(self._stub.DeleteAgent, pb.DeleteAgentRequest(agent_id=agent_id), timeout)

    # ---------- sessions ----------
    def create_session(self, agent_id: str, name: str = "", *, timeout: float | None = None) -> pb.Session:
        request = pb.CreateSessionRequest(agent_id=agent_id, session_name=name)
        return self._transport.unary(self._stub.CreateSession, request, timeout)

    def get_session(
        self, agent_id: str, session_id: str, turn_ids: Iterable[str] = (), *, timeout: float | None = None
    ) -> pb.Session:
        """The session with its turns (all, or only `turn_ids`)."""
        request = pb.GetSessionRequest(agent_id=agent_id, session_id=session_id, turn_ids=list(turn_ids))
        return self._transport.unary(self._stub.GetSession, request, timeout)

    def iter_sessions(self, agent_id: str, *, page_size: int = 0, timeout: float | None = None) -> Iterator[pb.Session]:
        """The agent's sessions, newest first, without their turns."""
        request = pb.ListSessionsRequest(agent_id=agent_id, page_size=page_size)
        return self._transport.pages(self._stub.ListSessions, request, "sessions", timeout)

    def list_sessions(self, agent_id: str, *, timeout: float | None = None) -> list[pb.Session]:
        return list(self.iter_sessions(agent_id, timeout=timeout))

    def delete_session(self, agent_id: str, session_id: str, *, timeout: float | None = None) -> None:
        request = pb.DeleteSessionRequest(agent_id=agent_id, session_id=session_id)
        self._transport.unary(self._stub.DeleteSession, request, timeout)

    # ---------- turns ----------
    def create_turn(
        self,
        agent_id: str,
        session_id: str,
        messages: Any,
        *,
        documents: Iterable[Any] = (),
        toolgroups: Iterable[Any] = (),
        tool_choice: Any = None,
        timeout: float | None = None,
    ) -> Iterator[pb.CreateTurnResponse]:
        """Run a turn, yielding its events; `messages` is a string (one user message) or a list of messages."""
        request = pb.CreateTurnRequest(
            **build.turn_fields(agent_id, session_id, messages, documents, toolgroups, tool_choice)
        )
        return self._transport.stream(self._stub.CreateTurn, request, timeout)

    def create_turn_and_wait(
        self,
        agent_id: str,
        session_id: str,
        messages: Any,
        *,
        documents: Iterable[Any] = (),
        toolgroups: Iterable[Any] = (),
        tool_choice: Any = None,
        timeout: float | None = None,
    ) -> pb.Turn:
        """Run a turn and return it once COMPLETED or AWAITING_INPUT."""
        request = pb.CreateTurnAndWaitRequest(
            **build.turn_fields(agent_id, session_id, messages, documents, toolgroups, tool_choice)
        )
        return self._transport.unary(self._stub.CreateTurnAndWait, request, timeout)

    def resume_turn(
        self,
        agent_id: str,
        session_id: str,
        turn_id: str,
        tool_responses: Iterable[Any],
        *,
        timeout: float | None = None,
    ) -> Iterator[pb.ResumeTurnResponse]:
        """Answer the client tool calls of a turn awaiting input, yielding the rest of the turn's events."""
        request = pb.ResumeTurnRequest(**build.resume_fields(agent_id, session_id, turn_id, tool_responses))
        return self._transport.stream(self._stub.ResumeTurn, request, timeout)

    def resume_turn_and_wait(
        self,
        agent_id: str,
        session_id: str,
        turn_id: str,
        tool_responses: Iterable[Any],
        *,
        timeout: float | None = None,
    ) -> pb.Turn:
        request = pb.ResumeTurnAndWaitRequest(**build.resume_fields(agent_id, session_id, turn_id, tool_responses))
        return self._transport.unary(self._stub.ResumeTurnAndWait, request, timeout)

    def get_turn(self, agent_id: str, session_id: str, turn_id: str, *, timeout: float | None = None) -> pb.Turn:
        request = pb.GetTurnRequest(agent_id=agent_id, session_id=session_id, turn_id=turn_id)
        return self._transport.unary(self._stub.GetTurn, request, timeout)

    def get_step(
        self, agent_id: str, session_id: str, turn_id: str, step_id: str, *, timeout: float | None = None
    ) -> pb.Step:
        request = pb.GetStepRequest(agent_id=agent_id, session_id=session_id, turn_id=turn_id, step_id=step_id)
        return self._transport.unary(self._stub.GetStep, request, timeout)

    # ---------- batch jobs ----------
    def create_batch_job(
        self, agent_id: str, items: Iterable[Any], *, max_concurrency: int | None = None, timeout: float | None = None
    ) -> jobs_pb2.Job:
        """Run each item (a string, a list of messages or {"messages", "documents"}) as a turn in a new session."""
        request = pb.CreateAgentBatchJobRequest(agent_id=agent_id, items=build.batch_items(items))
        if max_concurrency is not None:
            request.max_concurrency = max_concurrency
        return self._transport.unary(self._stub.CreateAgentBatchJob, request, timeout)

    def get_batch_job(self, job_id: str, *, timeout: float | None = None) -> jobs_pb2.Job:
        return self._transport.unary(self._stub.GetAgentBatchJob, pb.GetAgentBatchJobRequest(job_id=job_id), timeout)

    def cancel_batch_job(self, job_id: str, *, timeout: float | None = None) -> jobs_pb2.Job:
        request = pb.CancelAgentBatchJobRequest(job_id=job_id)
        return self._transport.unary(self._stub.CancelAgentBatchJob, request, timeout)

    def list_batch_jobs(self, agent_id: str, *, timeout: float | None = None) -> list[jobs_pb2.Job]:
        request = pb.ListAgentBatchJobsRequest(agent_id=agent_id)
        return list(self._transport.pages(self._stub.ListAgentBatchJobs, request, "jobs", timeout))

    def batch_job_results(
        self, job_id: str, *, page_size: int = 0, timeout: float | None = None
    ) -> Iterator[pb.AgentBatchItemResult]:
        """The per-item results of a COMPLETED job in item order, page after page."""
        request = pb.GetAgentBatchJobResultRequest(job_id=job_id, page_size=page_size)
        return self._transport.pages(self._stub.GetAgentBatchJobResult, request, "results", timeout)


class AsyncAgents:
    """The async flavour of `Agents`: the same methods, awaited; streams and `iter*` return async iterators."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport
        self._stub = agents_pb2_grpc.AgentsServiceStub(transport.channel)

    async def create(
        self, model: str | agent_config_pb2.AgentConfig, *, timeout: float | None = None, **config: Any
    ) -> pb.Agent:
        request = pb.CreateAgentRequest(agent_config=_config(model, config))
        return await self._transport.unary(self._stub.CreateAgent, request, timeout)

    async def get(self, agent_id: str, *, timeout: float | None = None) -> pb.Agent:
        return await self._transport.unary(self._stub.GetAgent, pb.GetAgentRequest(agent_id=agent_id), timeout)

    def iter(self, *, page_size: int = 0, timeout: float | None = None) -> AsyncIterator[pb.Agent]:
        request = pb.ListAgentsRequest(page_size=page_size)
        return self._transport.pages(self._stub.ListAgents, request, "agents", timeout)

    async def list(self, *, timeout: float | None = None) -> list[pb.Agent]:
        return [agent async for agent in self.iter(timeout=timeout)]

    async def delete(self, agent_id: str, *, timeout: float | None = None) -> None:
        await self._transport.unary(self._stub.DeleteAgent, pb.DeleteAgentRequest(agent_id=agent_id), timeout)

    async def create_session(self, agent_id: str, name: str = "", *, timeout: float | None = None) -> pb.Session:
        request = pb.CreateSessionRequest(agent_id=agent_id, session_name=name)
        return await self._transport.unary(self._stub.CreateSession, request, timeout)

    async def get_session(
        self, agent_id: str, session_id: str, turn_ids: Iterable[str] = (), *, timeout: float | None = None
    ) -> pb.Session:
        request = pb.GetSessionRequest(agent_id=agent_id, session_id=session_id, turn_ids=list(turn_ids))
        return await self._transport.unary(self._stub.GetSession, request, timeout)

    def iter_sessions(
        self, agent_id: str, *, page_size: int = 0, timeout: float | None = None
    ) -> AsyncIterator[pb.Session]:
        request = pb.ListSessionsRequest(agent_id=agent_id, page_size=page_size)
        return self._transport.pages(self._stub.ListSessions, request, "sessions", timeout)

    async def list_sessions(self, agent_id: str, *, timeout: float | None = None) -> list[pb.Session]:
        return [session async for session in self.iter_sessions(agent_id, timeout=timeout)]

    async def delete_session(self, agent_id: str, session_id: str, *, timeout: float | None = None) -> None:
        request = pb.DeleteSessionRequest(agent_id=agent_id, session_id=session_id)
        await self._transport.unary(self._stub.DeleteSession, request, timeout)

    def create_turn(
        self,
        agent_id: str,
        session_id: str,
        messages: Any,
        *,
        documents: Iterable[Any] = (),
        toolgroups: Iterable[Any] = (),
        tool_choice: Any = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.CreateTurnResponse]:
        """Use with `async for` (no await)."""
        request = pb.CreateTurnRequest(
            **build.turn_fields(agent_id, session_id, messages, documents, toolgroups, tool_choice)
        )
        return self._transport.stream(self._stub.CreateTurn, request, timeout)

    async def create_turn_and_wait(
        self,
        agent_id: str,
        session_id: str,
        messages: Any,
        *,
        documents: Iterable[Any] = (),
        toolgroups: Iterable[Any] = (),
        tool_choice: Any = None,
        timeout: float | None = None,
    ) -> pb.Turn:
        request = pb.CreateTurnAndWaitRequest(
            **build.turn_fields(agent_id, session_id, messages, documents, toolgroups, tool_choice)
        )
        return await self._transport.unary(self._stub.CreateTurnAndWait, request, timeout)

    def resume_turn(
        self,
        agent_id: str,
        session_id: str,
        turn_id: str,
        tool_responses: Iterable[Any],
        *,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.ResumeTurnResponse]:
        """Use with `async for` (no await)."""
        request = pb.ResumeTurnRequest(**build.resume_fields(agent_id, session_id, turn_id, tool_responses))
        return self._transport.stream(self._stub.ResumeTurn, request, timeout)

    async def resume_turn_and_wait(
        self,
        agent_id: str,
        session_id: str,
        turn_id: str,
        tool_responses: Iterable[Any],
        *,
        timeout: float | None = None,
    ) -> pb.Turn:
        request = pb.ResumeTurnAndWaitRequest(**build.resume_fields(agent_id, session_id, turn_id, tool_responses))
        return await self._transport.unary(self._stub.ResumeTurnAndWait, request, timeout)

    async def get_turn(self, agent_id: str, session_id: str, turn_id: str, *, timeout: float | None = None) -> pb.Turn:
        request = pb.GetTurnRequest(agent_id=agent_id, session_id=session_id, turn_id=turn_id)
        return await self._transport.unary(self._stub.GetTurn, request, timeout)

    async def get_step(
        self, agent_id: str, session_id: str, turn_id: str, step_id: str, *, timeout: float | None = None
    ) -> pb.Step:
        request = pb.GetStepRequest(agent_id=agent_id, session_id=session_id, turn_id=turn_id, step_id=step_id)
        return await self._transport.unary(self._stub.GetStep, request, timeout)

    async def create_batch_job(
        self, agent_id: str, items: Iterable[Any], *, max_concurrency: int | None = None, timeout: float | None = None
    ) -> jobs_pb2.Job:
        request = pb.CreateAgentBatchJobRequest(agent_id=agent_id, items=build.batch_items(items))
        if max_concurrency is not None:
            request.max_concurrency = max_concurrency
        return await self._transport.unary(self._stub.CreateAgentBatchJob, request, timeout)

    async def get_batch_job(self, job_id: str, *, timeout: float | None = None) -> jobs_pb2.Job:
        request = pb.GetAgentBatchJobRequest(job_id=job_id)
        return await self._transport.unary(self._stub.GetAgentBatchJob, request, timeout)

    async def cancel_batch_job(self, job_id: str, *, timeout: float | None = None) -> jobs_pb2.Job:
        request = pb.CancelAgentBatchJobRequest(job_id=job_id)
        return await self._transport.unary(self._stub.CancelAgentBatchJob, request, timeout)

    async def list_batch_jobs(self, agent_id: str, *, timeout: float | None = None) -> list[jobs_pb2.Job]:
        request = pb.ListAgentBatchJobsRequest(agent_id=agent_id)
        return [job async for job in self._transport.pages(self._stub.ListAgentBatchJobs, request, "jobs", timeout)]

    def batch_job_results(
        self, job_id: str, *, page_size: int = 0, timeout: float | None = None
    ) -> AsyncIterator[pb.AgentBatchItemResult]:
        request = pb.GetAgentBatchJobResultRequest(job_id=job_id, page_size=page_size)
        return self._transport.pages(self._stub.GetAgentBatchJobResult, request, "results", timeout)
