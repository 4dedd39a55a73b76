"""What answers each row: a model (inference ChatCompletion) or an agent (one fresh session and turn per row).

`check_candidate` validates a BenchmarkConfig's candidate before any work starts; `open_candidate` gives the object
that generates. A generation is a dict: {"generated_answer": ...} (agents add "session_id" and "turn_id").
"""

from __future__ import annotations

import contextlib

import grpc

from llama.agents.v1 import agents_pb2
from llama.common.v1 import messages_pb2, resources_pb2
from llama.eval.v1 import eval_pb2
from llama.inference.v1 import inference_pb2
from llama.registry.v1 import registry_pb2
from llama_mesh.runtime.errors import InvalidArgument, RemoteError
from llama_mesh.runtime.gateway_client import GatewayClient
from services.eval.row_prompt import with_system_message

Generation = dict[str, str]


def _text(message: messages_pb2.Message) -> str:
    if message.content.WhichOneof("value") == "items":
        return "".join(item.text for item in message.content.items.items if item.WhichOneof("item") == "text")
    return message.content.text


class Candidate:
    """Generates one answer per conversation; `close` frees what it made."""

    async def generate(self, messages: list[messages_pb2.Message], time_left: float | None) -> Generation:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class ModelAnswers(Candidate):
    def __init__(self, gateway: GatewayClient, candidate: eval_pb2.ModelCandidate) -> None:
        self._gateway = gateway
        self._candidate = candidate

    async def generate(self, messages: list[messages_pb2.Message], time_left: float | None) -> Generation:
        system = self._candidate.system_message if self._candidate.HasField("system_message") else None
        conversation = with_system_message(messages, system)
        request = inference_pb2.ChatCompletionRequest(
            model_id=self._candidate.model, messages=conversation, sampling_params=self._candidate.sampling_params
        )
        reply = await self._gateway.call(self._gateway.inference.ChatCompletion, request, time_left)
        return {"generated_answer": _text(reply.completion_message)}


class AgentAnswers(Candidate):
    """One agent per job, one session per row; the row's user messages are the turn (its system messages are left
    to the agent's instructions)."""

    def __init__(self, gateway: GatewayClient, candidate: eval_pb2.AgentCandidate) -> None:
        self._gateway = gateway
        self._candidate = candidate
        self._agent_id = ""
        self._sessions = 0

    async def _agent(self, time_left: float | None) -> str:
        if not self._agent_id:
            request = agents_pb2.CreateAgentRequest(agent_config=self._candidate.config)
            agent = await self._gateway.call(self._gateway.agents.CreateAgent, request, time_left)
            self._agent_id = agent.agent_id
        return self._agent_id

    async def generate(self, messages: list[messages_pb2.Message], time_left: float | None) -> Generation:
        agent_id = await self._agent(time_left)
        self._sessions += 1
        opened = agents_pb2.CreateSessionRequest(agent_id=agent_id, session_name=f"eval-row-{self._sessions}")
        session = await self._gateway.call(self._gateway.agents.CreateSession, opened, time_left)
        turn_input = [message for message in messages if message.role == messages_pb2.ROLE_USER]
        request = agents_pb2.CreateTurnAndWaitRequest(
            agent_id=agent_id, session_id=session.session_id, messages=turn_input
        )
        turn = await self._gateway.call(self._gateway.agents.CreateTurnAndWait, request, time_left)
        generation = {
            "generated_answer": _text(turn.output_message),
            "session_id": session.session_id,
            "turn_id": turn.turn_id,
        }
        if turn.status == agents_pb2.TURN_STATUS_FAILED:
            generation["error"] = turn.error.message or "the agent turn failed"
        return generation

    async def close(self) -> None:
        if self._agent_id:
            with contextlib.suppress(RemoteError):  # left behind, it holds nothing the eval needs
                deleted = agents_pb2.DeleteAgentRequest(agent_id=self._agent_id)
                await self._gateway.call(self._gateway.agents.DeleteAgent, deleted)
            self._agent_id = ""


def open_candidate(gateway: GatewayClient, candidate: eval_pb2.EvalCandidate) -> Candidate:
    if candidate.WhichOneof("candidate") == "agent":
        return AgentAnswers(gateway, candidate.agent)
    return ModelAnswers(gateway, candidate.model)


async def check_candidate(gateway: GatewayClient, config: eval_pb2.BenchmarkConfig) -> str:
    """Validate the candidate (INVALID_ARGUMENT when it cannot run); a short description of it, e.g. "model:x"."""
    field = "benchmark_config.eval_candidate"
    kind = config.eval_candidate.WhichOneof("candidate")
    if kind is None:
        raise InvalidArgument(field, "is required: a model or an agent candidate")
    if kind == "model":
        model = config.eval_candidate.model
        await _check_llm(gateway, model.model, f"{field}.model.model")
        if model.HasField("system_message") and model.system_message.role != messages_pb2.ROLE_SYSTEM:
            raise InvalidArgument(f"{field}.model.system_message.role", "must be ROLE_SYSTEM")
        return f"model:{model.model}"
    agent = config.eval_candidate.agent
    await _check_llm(gateway, agent.config.model, f"{field}.agent.config.model")
    return f"agent:{agent.config.model}"


async def _check_llm(gateway: GatewayClient, model_id: str, field: str) -> None:
    if not model_id:
        raise InvalidArgument(field, "is required: a registered LLM")
    try:
        model = await gateway.call(gateway.registry.GetModel, registry_pb2.GetModelRequest(model_id=model_id))
    except RemoteError as error:
        if error.code == grpc.StatusCode.NOT_FOUND:
            raise InvalidArgument(
                field,
                f"model {model_id!r} is not registered (list them with `llama-mesh models list`)",
                reason="UNKNOWN_MODEL",
                model_id=model_id,
            ) from error
        raise
    if model.model_type != resources_pb2.MODEL_TYPE_LLM:
        raise InvalidArgument(field, f"model {model_id!r} is not an LLM", reason="WRONG_MODEL_TYPE", model_id=model_id)
