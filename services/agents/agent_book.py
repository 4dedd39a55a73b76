"""Agents, their sessions and their turns: checks, bookkeeping and the start of each turn.

Agents are always stored on disk; the sessions and turns of an agent without session persistence live in a store in
memory. One turn per session runs at a time; the task running it is kept so that deleting the session (or its agent)
stops it. A turn left IN_PROGRESS by a stopped service is marked FAILED when the service starts again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import grpc
from google.protobuf import timestamp_pb2

from llama.agents.v1 import agents_pb2 as pb
from llama.common.v1 import agent_config_pb2, messages_pb2, resources_pb2, stream_error_pb2, tools_pb2
from llama.registry.v1 import registry_pb2
from llama_mesh.runtime import paging
from llama_mesh.runtime.caller import owner_filter, record_owner
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, RemoteError
from llama_mesh.runtime.gateway_client import GatewayClient
from services.agents.agent_store import AgentStore
from services.agents.config import AgentsSettings
from services.agents.conversation import document_text
from services.agents.toolbox import Toolbox, build_toolbox, merged_tool_groups
from services.agents.turn_loop import MAX_INFER_ITERS, TurnLoop, TurnSettings

INPUT_ROLES = (messages_pb2.ROLE_USER, messages_pb2.ROLE_TOOL)
log = logging.getLogger(__name__)

TimeLeft = Callable[[], float | None]


def session_vector_db(session_id: str) -> str:
    return f"agent-session-{session_id}"


def _now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


def _check_input(messages: list[messages_pb2.Message], field: str) -> None:
    if not messages:
        raise InvalidArgument(field, "at least one message is required")
    for index, message in enumerate(messages):
        if message.role not in INPUT_ROLES:
            raise InvalidArgument(f"{field}[{index}].role", "turn input messages are USER or TOOL messages")


class AgentBook:
    def __init__(self, mesh: GatewayClient, settings: AgentsSettings, disk: AgentStore, memory: AgentStore) -> None:
        self.mesh = mesh
        self.settings = settings
        self._disk = disk
        self._memory = memory
        self._running: dict[str, asyncio.Task[object]] = {}  # session id -> the task running its turn

    def _sessions_of(self, agent: pb.Agent) -> AgentStore:
        return self._disk if agent.agent_config.enable_session_persistence else self._memory

    # ---------- agents ----------
    async def create_agent(self, config: agent_config_pb2.AgentConfig, time_left: TimeLeft) -> pb.Agent:
        await self._check_config(config, time_left)
        agent = pb.Agent(agent_id=uuid.uuid4().hex, agent_config=config, create_time=_now())
        await asyncio.to_thread(self._disk.put_agent, agent, record_owner())
        return agent

    async def _check_config(self, config: agent_config_pb2.AgentConfig, time_left: TimeLeft) -> None:
        if not config.model:
            raise InvalidArgument("agent_config.model", "is required: a registered LLM")
        if config.HasField("max_infer_iters") and not 1 <= config.max_infer_iters <= MAX_INFER_ITERS:
            raise InvalidArgument(
                "agent_config.max_infer_iters", f"must be in 1..{MAX_INFER_ITERS}, got {config.max_infer_iters}"
            )
        lookup = registry_pb2.GetModelRequest(model_id=config.model)
        model = await self.mesh.call(self.mesh.registry.GetModel, lookup, time_left())
        if model.model_type != resources_pb2.MODEL_TYPE_LLM:
            raise FailedPrecondition(
                f"model {config.model!r} is not an LLM; agents need a chat model",
                reason="WRONG_MODEL_TYPE",
                identifier=config.model,
            )
        for shield in [*config.input_shields, *config.output_shields]:
            lookup = registry_pb2.GetShieldRequest(shield_id=shield)
            await self.mesh.call(self.mesh.registry.GetShield, lookup, time_left())
        box = await build_toolbox(self.mesh, list(config.toolgroups), list(config.client_tools), time_left())
        self._check_tool_choice(config.tool_choice if config.HasField("tool_choice") else None, box, "agent_config")

    @staticmethod
    def _check_tool_choice(choice: tools_pb2.ToolChoice | None, box: Toolbox, field: str) -> None:
        if choice is not None and choice.HasField("tool_name") and choice.tool_name not in {*box.server, *box.client}:
            raise InvalidArgument(
                f"{field}.tool_choice.tool_name", f"the agent has no tool {choice.tool_name!r}", reason="TOOL_NOT_FOUND"
            )

    async def agent(self, agent_id: str) -> pb.Agent:
        if not agent_id:
            raise InvalidArgument("agent_id", "is required")
        agent = await asyncio.to_thread(self._disk.get_agent, agent_id, owner_filter())
        if agent is None:  # another principal's agent does not exist for this caller either
            raise NotFound(f"agent {agent_id!r} does not exist", reason="AGENT_NOT_FOUND", agent_id=agent_id)
        return agent

    async def visible(self, agent_id: str) -> bool:
        """Whether the agent exists for this call's caller."""
        return await asyncio.to_thread(self._disk.get_agent, agent_id, owner_filter()) is not None

    async def list_agents(self, size: int, token: str) -> tuple[list[pb.Agent], str]:
        return await asyncio.to_thread(self._disk.list_agents, paging.page_size(size), token, owner_filter())

    async def delete_agent(self, agent_id: str, time_left: TimeLeft) -> None:
        agent = await self.agent(agent_id)
        sessions = await asyncio.to_thread(self._sessions_of(agent).delete_agent, agent_id)
        if self._sessions_of(agent) is not self._disk:
            await asyncio.to_thread(self._disk.delete_agent, agent_id)
        for session_id in sessions:
            self._stop_turn(session_id)
            await self._drop_session_vector_db(session_id, time_left)

    # ---------- sessions ----------
    async def create_session(self, agent_id: str, name: str) -> pb.Session:
        agent = await self.agent(agent_id)
        session = pb.Session(session_id=uuid.uuid4().hex, agent_id=agent_id, session_name=name, start_time=_now())
        await asyncio.to_thread(self._sessions_of(agent).put_session, session)
        return session

    async def _session(self, agent: pb.Agent, session_id: str) -> pb.Session:
        if not session_id:
            raise InvalidArgument("session_id", "is required")
        session = await asyncio.to_thread(self._sessions_of(agent).get_session, agent.agent_id, session_id)
        if session is None:
            raise NotFound(
                f"agent {agent.agent_id!r} has no session {session_id!r}",
                reason="SESSION_NOT_FOUND",
                session_id=session_id,
            )
        return session

    async def session(self, agent_id: str, session_id: str, turn_ids: list[str]) -> pb.Session:
        agent = await self.agent(agent_id)
        session = await self._session(agent, session_id)
        turns = await asyncio.to_thread(self._sessions_of(agent).turns, session_id)
        if turn_ids:
            by_id = {turn.turn_id: turn for turn in turns}
            wanted = list(dict.fromkeys(turn_ids))  # each once: an id repeated must not multiply the reply
            missing = [turn_id for turn_id in wanted if turn_id not in by_id]
            if missing:
                raise NotFound(f"session {session_id!r} has no turn {missing[0]!r}", reason="TURN_NOT_FOUND")
            turns = [by_id[turn_id] for turn_id in wanted]
        session.turns.extend(turns)
        return session

    async def list_sessions(self, agent_id: str, size: int, token: str) -> tuple[list[pb.Session], str]:
        agent = await self.agent(agent_id)
        return await asyncio.to_thread(self._sessions_of(agent).list_sessions, agent_id, paging.page_size(size), token)

    async def delete_session(self, agent_id: str, session_id: str, time_left: TimeLeft) -> None:
        agent = await self.agent(agent_id)
        await self._session(agent, session_id)
        self._stop_turn(session_id)
        await asyncio.to_thread(self._sessions_of(agent).delete_session, session_id)
        await self._drop_session_vector_db(session_id, time_left)

    async def _drop_session_vector_db(self, session_id: str, time_left: TimeLeft) -> None:
        """Unregisters the vector DB that held the session's attached documents, if it had one (a turn may have
        brought builtin::rag along even when the agent has no tool groups)."""
        try:
            request = registry_pb2.UnregisterVectorDBRequest(vector_db_id=session_vector_db(session_id))
            await self.mesh.call(self.mesh.registry.UnregisterVectorDB, request, time_left())
        except RemoteError as error:
            if error.code != grpc.StatusCode.NOT_FOUND:
                log.warning("could not drop the documents of session %s: %s", session_id, error.message)

    # ---------- turns ----------
    def _reserve(self, session_id: str) -> None:
        """Marks the session busy with the current task's turn; FAILED_PRECONDITION when a turn already runs."""
        if session_id in self._running:
            raise FailedPrecondition(
                f"session {session_id!r} has a turn in progress; wait for it or cancel it",
                reason="SESSION_BUSY",
                session_id=session_id,
            )
        task = asyncio.current_task()
        assert task is not None
        self._running[session_id] = task

    def _release(self, session_id: str, task: asyncio.Task[object] | None = None) -> None:
        """Frees the session if `task` (by default the current one) still holds it: a turn stopped by _stop_turn
        must not free the session for a turn started after it."""
        if self._running.get(session_id) is (task or asyncio.current_task()):
            del self._running[session_id]

    @contextmanager
    def running(self, session_id: str) -> Iterator[None]:
        """Frees the session reserved by start_turn or resume_turn once its turn has run (or failed). Entered in the
        task that reserved it; the exit may come in another: when grpc cancels a streamed call while it sends an
        event, the stream is left suspended and closed later by asyncio's async generator finalizer, in a task of
        its own."""
        reserved_by = asyncio.current_task()
        try:
            yield
        finally:
            self._release(session_id, reserved_by)

    def _stop_turn(self, session_id: str) -> None:
        task = self._running.pop(session_id, None)
        if task is not None:
            task.cancel()

    async def _check_idle(self, store: AgentStore, session_id: str) -> list[pb.Turn]:
        """The session's turns, when none is awaiting input."""
        turns = await asyncio.to_thread(store.turns, session_id)
        if turns and turns[-1].status == pb.TURN_STATUS_AWAITING_INPUT:
            raise FailedPrecondition(
                f"turn {turns[-1].turn_id!r} of session {session_id!r} awaits the results of client tools; answer it "
                "with ResumeTurn first",
                reason="TURN_AWAITING_INPUT",
                turn_id=turns[-1].turn_id,
            )
        return turns

    async def start_turn(self, request: pb.CreateTurnRequest, time_left: TimeLeft) -> TurnLoop:
        """Checks a new turn and records it IN_PROGRESS; the caller runs it inside `running(session_id)`."""
        agent = await self.agent(request.agent_id)
        await self._session(agent, request.session_id)
        _check_input(list(request.messages), "messages")
        store = self._sessions_of(agent)
        config = agent.agent_config
        groups = merged_tool_groups(list(config.toolgroups), list(request.toolgroups))
        box = await build_toolbox(self.mesh, groups, list(config.client_tools), time_left(), "toolgroups")
        choice = request.tool_choice if request.HasField("tool_choice") else None
        self._check_tool_choice(choice, box, "request")
        if choice is None and config.HasField("tool_choice"):
            choice = config.tool_choice
        if not box.has_rag:
            for index, document in enumerate(request.documents):
                document_text(document, f"documents[{index}]")
        self._reserve(request.session_id)
        try:
            earlier = await self._check_idle(store, request.session_id)
            turn = pb.Turn(
                turn_id=uuid.uuid4().hex,
                session_id=request.session_id,
                input_messages=request.messages,
                documents=request.documents,
                status=pb.TURN_STATUS_IN_PROGRESS,
                start_time=_now(),
            )
            await asyncio.to_thread(store.put_turn, turn)
        except BaseException:
            self._release(request.session_id)
            raise
        return TurnLoop(
            self.mesh,
            self._turn_settings(config, box, choice, request.session_id),
            turn,
            earlier,
            store.put_turn,
            time_left,
        )

    async def resume_turn(self, request: pb.ResumeTurnRequest, time_left: TimeLeft) -> TurnLoop:
        agent = await self.agent(request.agent_id)
        await self._session(agent, request.session_id)
        store = self._sessions_of(agent)
        turn = await self._turn(store, request.session_id, request.turn_id)
        if turn.status != pb.TURN_STATUS_AWAITING_INPUT:
            raise FailedPrecondition(
                f"turn {turn.turn_id!r} is {pb.TurnStatus.Name(turn.status)}, not awaiting input; only a turn that "
                "called client tools can be resumed",
                reason="TURN_NOT_AWAITING_INPUT",
                turn_id=turn.turn_id,
            )
        config = agent.agent_config
        box = await build_toolbox(self.mesh, list(config.toolgroups), list(config.client_tools), time_left())
        pending = [call.call_id for call in turn.output_message.tool_calls if call.tool_name in box.client]
        answered = [response.call_id for response in request.tool_responses]
        if sorted(answered) != sorted(pending):
            raise InvalidArgument(
                "tool_responses",
                f"must answer exactly the pending client tool calls {pending}, one response each; got {answered}",
                reason="TOOL_RESPONSES_MISMATCH",
            )
        self._reserve(request.session_id)
        try:
            turns = await asyncio.to_thread(store.turns, request.session_id)
        except BaseException:
            self._release(request.session_id)
            raise
        earlier = [other for other in turns if other.turn_id != turn.turn_id]
        return TurnLoop(
            self.mesh,
            self._turn_settings(config, box, None, request.session_id),
            turn,
            earlier,
            store.put_turn,
            time_left,
        )

    def _turn_settings(
        self,
        config: agent_config_pb2.AgentConfig,
        box: Toolbox,
        choice: tools_pb2.ToolChoice | None,
        session_id: str,
    ) -> TurnSettings:
        return TurnSettings(
            config=config,
            toolbox=box,
            tool_choice=choice,
            session_vector_db=session_vector_db(session_id),
            embedding_model=self.settings.document_embedding_model,
            chunk_size_in_tokens=self.settings.document_chunk_tokens,
        )

    async def _turn(self, store: AgentStore, session_id: str, turn_id: str) -> pb.Turn:
        if not turn_id:
            raise InvalidArgument("turn_id", "is required")
        turn = await asyncio.to_thread(store.get_turn, session_id, turn_id)
        if turn is None:
            raise NotFound(f"session {session_id!r} has no turn {turn_id!r}", reason="TURN_NOT_FOUND", turn_id=turn_id)
        return turn

    async def turn(self, agent_id: str, session_id: str, turn_id: str) -> pb.Turn:
        agent = await self.agent(agent_id)
        await self._session(agent, session_id)
        return await self._turn(self._sessions_of(agent), session_id, turn_id)

    async def step(self, agent_id: str, session_id: str, turn_id: str, step_id: str) -> pb.Step:
        turn = await self.turn(agent_id, session_id, turn_id)
        for step in turn.steps:
            if step.step_id == step_id:
                return step
        raise NotFound(f"turn {turn_id!r} has no step {step_id!r}", reason="STEP_NOT_FOUND", step_id=step_id)

    def mark_interrupted(self) -> int:
        """At start-up: turns a stopped service left IN_PROGRESS become FAILED (they are kept, not lost)."""
        turns = self._disk.turns_in_progress()
        for turn in turns:
            turn.status = pb.TURN_STATUS_FAILED
            turn.error.CopyFrom(
                stream_error_pb2.StreamError(
                    code=14,
                    reason="TURN_INTERRUPTED",
                    message="the agents service stopped while this turn ran; run the turn again",
                )
            )
            turn.end_time.GetCurrentTime()
            self._disk.put_turn(turn)
        return len(turns)
