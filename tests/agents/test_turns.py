"""Streamed turns and responses of the agents service against a fake gateway: one whose stream is closed from another
task (as when grpc cancels the call while it sends an event) is recorded FAILED at once, and a turn frees its
session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from llama.agents.v1 import agents_pb2 as pb
from llama.agents.v1 import responses_pb2
from llama.common.v1 import agent_config_pb2, content_pb2, messages_pb2, resources_pb2
from llama.inference.v1 import inference_pb2, inference_pb2_grpc
from llama.registry.v1 import registry_pb2_grpc
from llama_mesh.runtime.gateway_client import GatewayClient
from services.agents.agent_book import AgentBook
from services.agents.agent_store import AgentStore
from services.agents.batch_jobs import BatchJobs
from services.agents.config import AgentsSettings
from services.agents.response_store import ResponseStore
from services.agents.responses import ResponseBook
from services.agents.servicer import AgentsServicer, ResponsesServicer
from tests.fast.harness import serving


class Registry(registry_pb2_grpc.RegistryServiceServicer):
    async def GetModel(self, request, context):  # noqa: N802 - gRPC method
        return resources_pb2.Model(identifier=request.model_id, model_type=resources_pb2.MODEL_TYPE_LLM)


class EndlessModel(inference_pb2_grpc.InferenceServiceServicer):
    """Streams one piece of text, then nothing until the call is cancelled."""

    async def StreamChatCompletion(self, request, context):  # noqa: N802 - gRPC method
        yield inference_pb2.StreamChatCompletionResponse(chunk=inference_pb2.ChatCompletionChunk(text_delta="Once"))
        await asyncio.Event().wait()


class Context:
    """What the servicer reads of a grpc.aio.ServicerContext for a turn."""

    def time_remaining(self) -> float:
        return 30.0


@pytest.fixture
async def book() -> AsyncIterator[AgentBook]:
    fakes = (
        (registry_pb2_grpc.add_RegistryServiceServicer_to_server, Registry()),
        (inference_pb2_grpc.add_InferenceServiceServicer_to_server, EndlessModel()),
    )
    async with serving(*fakes) as gateway_address:
        gateway = GatewayClient(gateway_address)
        yield AgentBook(gateway, AgentsSettings(), AgentStore(":memory:"), AgentStore(":memory:"))
        await gateway.close()


async def _id_until(stream: AsyncIterator[Any], opening: str, id_field: str, until: str) -> str:
    """Reads `stream` up to its first event holding `until`; the `id_field` of its `opening` event."""
    found = ""
    while True:
        event = await anext(stream)
        if event.HasField(opening):
            found = getattr(getattr(event, opening), id_field)
        if event.HasField(until):
            return found


async def test_a_streamed_turn_closed_from_another_task_is_failed_and_frees_its_session(book: AgentBook) -> None:
    """grpc cancels a streamed call by cancelling its task; when that task waits on sending an event, the servicer's
    stream is left suspended and asyncio's async generator finalizer closes it later, in a task of its own. The turn
    was once left holding its session (freed only by the task that reserved it): a new turn there was SESSION_BUSY
    for the life of the process."""
    agent = await book.create_agent(agent_config_pb2.AgentConfig(model="chat"), lambda: 30.0)
    session = await book.create_session(agent.agent_id, "s")
    user = messages_pb2.Message(role=messages_pb2.ROLE_USER, content=content_pb2.Content(text="Tell a story."))
    request = pb.CreateTurnRequest(agent_id=agent.agent_id, session_id=session.session_id, messages=[user])
    servicer = AgentsServicer(book, BatchJobs(book, AgentStore(":memory:")))
    stream = servicer.CreateTurn(request, Context())

    # the call's task, gone while the stream is suspended
    turn_id = await asyncio.create_task(_id_until(stream, "turn_start", "turn_id", "step_progress"))
    await asyncio.create_task(stream.aclose())  # the finalizer's task

    stopped = await book.turn(agent.agent_id, session.session_id, turn_id)
    assert stopped.status == pb.TURN_STATUS_FAILED and stopped.error.reason == "TURN_CANCELLED"
    again = await book.start_turn(request, lambda: 30.0)  # not FAILED_PRECONDITION SESSION_BUSY
    with book.running(session.session_id):
        assert again.turn.status == pb.TURN_STATUS_IN_PROGRESS and again.turn.turn_id != turn_id


async def test_a_streamed_response_closed_from_another_task_is_failed_at_once(book: AgentBook, tmp_path: Path) -> None:
    store = ResponseStore(tmp_path / "responses.db")
    responses = ResponseBook(book.mesh, AgentsSettings(), store)
    text = responses_pb2.ContentPart(input_text="Tell a story.")
    message = responses_pb2.MessageItem(role=responses_pb2.MESSAGE_ROLE_USER, content=[text])
    request = responses_pb2.StreamResponseRequest(model="chat", input=[responses_pb2.ResponseItem(message=message)])
    stream = ResponsesServicer(responses).StreamResponse(request, Context())

    response_id = await asyncio.create_task(_id_until(stream, "created", "id", "output_text_delta"))
    await asyncio.create_task(stream.aclose())
    stopped = await responses.response(response_id)
    assert stopped.status == responses_pb2.RESPONSE_STATUS_FAILED and stopped.error.reason == "RESPONSE_CANCELLED"
    store.close()
