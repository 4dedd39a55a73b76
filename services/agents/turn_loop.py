"""One turn of an agent, streamed as events: attached documents, input shields, then model call -> tool calls ->
model call until the model answers, the iteration limit is reached, or a client tool must be answered by the caller.

The loop owns the turn record: it saves it after every step, so GetTurn shows progress and a restart loses at most the
step that was running. Failures after turn_start end the stream with an `error` event and leave the turn FAILED.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import struct_pb2
from opentelemetry import trace

from llama.agents.v1 import agents_pb2 as pb
from llama.common.v1 import (
    agent_config_pb2,
    content_pb2,
    messages_pb2,
    resources_pb2,
    safety_violation_pb2,
    stream_error_pb2,
    tools_pb2,
)
from llama.inference.v1 import inference_pb2
from llama.registry.v1 import registry_pb2
from llama.safety.v1 import safety_pb2
from llama.tool_runtime.v1 import tool_runtime_pb2 as tr
from llama_mesh.runtime.errors import MeshError, RemoteError, Unavailable, status_code_number
from llama_mesh.runtime.gateway_client import GatewayClient
from services.agents.conversation import conversation, text_message, text_of
from services.agents.toolbox import Toolbox

DEFAULT_MAX_INFER_ITERS = 10
MAX_INFER_ITERS = 100
tracer = trace.get_tracer("llama_mesh.agents")


class StreamFailure(MeshError):
    """An error another service reported inside its stream (a google.rpc code number, reason and message)."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message, reason=reason or "STREAM_ERROR")
        self.code = next((status for status in grpc.StatusCode if status.value[0] == code), grpc.StatusCode.UNKNOWN)


def stream_error(error: MeshError) -> stream_error_pb2.StreamError:
    return stream_error_pb2.StreamError(code=status_code_number(error.code), reason=error.reason, message=error.message)


def _new_id() -> str:
    return uuid.uuid4().hex


def _now(step_or_turn: Any, field: str) -> None:
    getattr(step_or_turn, field).GetCurrentTime()


def _forced(choice: tools_pb2.ToolChoice | None) -> bool:
    if choice is None:
        return False
    return choice.HasField("tool_name") or choice.mode == tools_pb2.TOOL_CHOICE_MODE_REQUIRED


@dataclass
class TurnSettings:
    """How the turn runs, from the agent's config and the request."""

    config: agent_config_pb2.AgentConfig
    toolbox: Toolbox
    tool_choice: tools_pb2.ToolChoice | None
    # Where attached documents go when the agent has the RAG tool group.
    session_vector_db: str
    embedding_model: str
    chunk_size_in_tokens: int


class TurnLoop:
    def __init__(
        self,
        mesh: GatewayClient,
        settings: TurnSettings,
        turn: pb.Turn,
        earlier_turns: list[pb.Turn],
        save: Callable[[pb.Turn], None],
        time_left: Callable[[], float | None],
        history: list[messages_pb2.Message] | None = None,
    ) -> None:
        """`history`: messages the model reads before the earlier turns (a Responses API context)."""
        self._mesh = mesh
        self._history = history or []
        self._settings = settings
        self.turn = turn
        self._earlier = earlier_turns
        self._save_sync = save
        self._time_left = time_left
        config = settings.config
        self._max_iters = config.max_infer_iters if config.HasField("max_infer_iters") else DEFAULT_MAX_INFER_ITERS
        self._response: messages_pb2.Message | None = None
        self._violation: safety_violation_pb2.SafetyViolation | None = None

    # ---------- entry points ----------
    # Closing either stream closes the guarded run at once (aclosing), so the turn is recorded FAILED then, in the task
    # closing it, not later when the garbage collector finalizes the run.
    async def run_new(self) -> AsyncIterator[pb.CreateTurnResponse]:
        yield pb.CreateTurnResponse(turn_start=pb.TurnStartEvent(turn_id=self.turn.turn_id))
        async with aclosing(self._guarded(self._new_turn())) as events:
            async for event in events:
                yield event

    async def run_resumed(self, responses: list[pb.ToolResponse]) -> AsyncIterator[pb.CreateTurnResponse]:
        async with aclosing(self._guarded(self._resumed(responses))) as events:
            async for event in events:
                yield event

    async def _guarded(self, events: AsyncIterator[pb.CreateTurnResponse]) -> AsyncIterator[pb.CreateTurnResponse]:
        with tracer.start_as_current_span("agents.turn") as span:
            span.set_attribute("agent.turn_id", self.turn.turn_id)
            span.set_attribute("agent.session_id", self.turn.session_id)
            span.set_attribute("agent.model", self._settings.config.model)
            try:
                async for event in events:
                    yield event
            except MeshError as error:
                span.set_attribute("error.reason", error.reason)
                self._fail(stream_error(error))
                await self._save()
                yield pb.CreateTurnResponse(error=stream_error(error))
            except (asyncio.CancelledError, GeneratorExit):
                self._fail(
                    stream_error_pb2.StreamError(
                        code=status_code_number(grpc.StatusCode.CANCELLED),
                        reason="TURN_CANCELLED",
                        message="the turn was stopped: its call was cancelled or its session deleted",
                    )
                )
                self._save_sync(self._snapshot())  # no awaiting here: the task is being cancelled
                raise

    # ---------- the parts of a turn ----------
    async def _new_turn(self) -> AsyncIterator[pb.CreateTurnResponse]:
        if self.turn.documents and self._settings.toolbox.has_rag:
            async for event in self._retrieve_documents():
                yield event
        shields = list(self._settings.config.input_shields)
        if shields:
            async for event in self._shield_step(shields, list(self.turn.input_messages)):
                yield event
            if self._refused():
                yield await self._complete(pb.TURN_END_REASON_SHIELD_VIOLATION, self._refusal())
                return
        async for event in self._loop(self._settings.tool_choice):
            yield event

    async def _resumed(self, responses: list[pb.ToolResponse]) -> AsyncIterator[pb.CreateTurnResponse]:
        pending = list(self.turn.output_message.tool_calls)  # the model response the turn stopped at
        calls = [call for call in pending if call.tool_name in self._settings.toolbox.client]
        self.turn.status = pb.TURN_STATUS_IN_PROGRESS
        self.turn.end_reason = pb.TURN_END_REASON_UNSPECIFIED
        self.turn.ClearField("output_message")
        step = self._begin(pb.Step(tool_execution=pb.ToolExecutionStep(tool_calls=calls)))
        yield self._step_start(step, pb.STEP_TYPE_TOOL_EXECUTION, {"tool_names": [c.tool_name for c in calls]})
        by_id = {response.call_id: response for response in responses}
        step.tool_execution.tool_responses.extend(by_id[call.call_id] for call in calls)
        yield await self._end(step, pb.STEP_TYPE_TOOL_EXECUTION)
        async for event in self._loop(None):
            yield event

    async def _loop(self, choice: tools_pb2.ToolChoice | None) -> AsyncIterator[pb.CreateTurnResponse]:
        toolbox = self._settings.toolbox
        while True:
            if self._inference_steps() >= self._max_iters:
                yield await self._complete(pb.TURN_END_REASON_MAX_INFER_ITERS, self._last_response())
                return
            async for event in self._inference_step(choice):
                yield event
            choice = None  # a forced choice applies to the first model call only
            response = self._response
            assert response is not None
            if not response.tool_calls:
                async for event in self._answer(response):
                    yield event
                return
            server_calls = [call for call in response.tool_calls if call.tool_name not in toolbox.client]
            if server_calls:
                async for event in self._tool_step(server_calls):
                    yield event
            if len(server_calls) < len(response.tool_calls):
                yield await self._await_client_tools(response)
                return

    async def _answer(self, response: messages_pb2.Message) -> AsyncIterator[pb.CreateTurnResponse]:
        """The model's final answer: checked by the output shields, then the turn completes."""
        shields = list(self._settings.config.output_shields)
        if shields:
            async for event in self._shield_step(shields, [*self.turn.input_messages, response]):
                yield event
            if self._refused():
                yield await self._complete(pb.TURN_END_REASON_SHIELD_VIOLATION, self._refusal())
                return
        out_of_tokens = response.stop_reason == messages_pb2.STOP_REASON_OUT_OF_TOKENS
        reason = pb.TURN_END_REASON_OUT_OF_TOKENS if out_of_tokens else pb.TURN_END_REASON_END_OF_TURN
        yield await self._complete(reason, response)

    # ---------- steps ----------
    async def _inference_step(self, choice: tools_pb2.ToolChoice | None) -> AsyncIterator[pb.CreateTurnResponse]:
        config = self._settings.config
        step = self._begin(pb.Step(inference=pb.InferenceStep()))
        yield self._step_start(step, pb.STEP_TYPE_INFERENCE, {"model": config.model})
        request = inference_pb2.StreamChatCompletionRequest(
            model_id=config.model,
            messages=conversation(config.instructions, self._earlier, self.turn, self._history),
            tools=self._settings.toolbox.definitions(),
            tool_prompt_format=config.tool_prompt_format,
        )
        if config.HasField("sampling_params"):
            request.sampling_params.CopyFrom(config.sampling_params)
        if request.tools and choice is not None:
            request.tool_choice.CopyFrom(choice)
        elif not request.tools and config.HasField("response_format"):
            request.response_format.CopyFrom(config.response_format)  # constrains answers, not tool calls
        forced = bool(request.tools) and _forced(choice)
        message: messages_pb2.Message | None = None
        written = False
        with tracer.start_as_current_span("agents.step.inference") as span:
            span.set_attribute("agent.step_id", step.step_id)
            async for reply in self._mesh.stream(self._mesh.inference.StreamChatCompletion, request, self._time_left()):
                if reply.HasField("chunk") and reply.chunk.text_delta:
                    if forced:
                        status = pb.TOOL_CALL_PARSE_STATUS_IN_PROGRESS if written else pb.TOOL_CALL_PARSE_STATUS_STARTED
                        call_text = pb.ToolCallDelta(text=reply.chunk.text_delta, parse_status=status)
                        delta = pb.StepDelta(tool_call=call_text)
                    else:
                        delta = pb.StepDelta(text=reply.chunk.text_delta)
                    written = True
                    yield self._progress(step, pb.STEP_TYPE_INFERENCE, delta)
                elif reply.HasField("complete"):
                    message = reply.complete.completion_message
                    step.inference.usage.CopyFrom(reply.complete.usage)
                elif reply.HasField("error"):
                    raise StreamFailure(reply.error.code, reply.error.reason, reply.error.message)
            if message is None:
                raise Unavailable("the inference stream ended without its final message", reason="STREAM_INCOMPLETE")
            span.set_attribute("agent.tool_calls", [call.tool_name for call in message.tool_calls])
        for call in message.tool_calls:
            parsed = pb.ToolCallDelta(tool_call=call, parse_status=pb.TOOL_CALL_PARSE_STATUS_SUCCEEDED)
            yield self._progress(step, pb.STEP_TYPE_INFERENCE, pb.StepDelta(tool_call=parsed))
        if forced and not message.tool_calls:
            failed = pb.ToolCallDelta(text="", parse_status=pb.TOOL_CALL_PARSE_STATUS_FAILED)
            yield self._progress(step, pb.STEP_TYPE_INFERENCE, pb.StepDelta(tool_call=failed))
        step.inference.model_response.CopyFrom(message)
        self._response = message
        yield await self._end(step, pb.STEP_TYPE_INFERENCE)

    async def _tool_step(self, calls: list[tools_pb2.ToolCall]) -> AsyncIterator[pb.CreateTurnResponse]:
        step = self._begin(pb.Step(tool_execution=pb.ToolExecutionStep(tool_calls=calls)))
        yield self._step_start(step, pb.STEP_TYPE_TOOL_EXECUTION, {"tool_names": [call.tool_name for call in calls]})
        with tracer.start_as_current_span("agents.step.tool_execution") as span:
            span.set_attribute("agent.step_id", step.step_id)
            span.set_attribute("agent.tool_names", [call.tool_name for call in calls])
            responses = await asyncio.gather(*(self._invoke(call) for call in calls))
        step.tool_execution.tool_responses.extend(responses)
        yield await self._end(step, pb.STEP_TYPE_TOOL_EXECUTION)

    async def _invoke(self, call: tools_pb2.ToolCall) -> pb.ToolResponse:
        """Runs one server tool. Whatever goes wrong is the tool's answer, for the model to read."""
        answer = pb.ToolResponse(call_id=call.call_id, tool_name=call.tool_name)
        tool = self._settings.toolbox.server.get(call.tool_name)
        local = self._settings.toolbox.local.get(call.tool_name)
        if tool is None and local is None:
            known = ", ".join([*self._settings.toolbox.server, *self._settings.toolbox.local]) or "none"
            answer.content.text = f"error: there is no tool named {call.tool_name!r} (tools: {known})"
            return answer
        try:
            kwargs = json.loads(call.arguments or "{}")
        except json.JSONDecodeError as exc:
            kwargs = exc
        if not isinstance(kwargs, dict):
            answer.content.text = f"error: the arguments of {call.tool_name!r} must be a JSON object"
            return answer
        if local is not None:
            try:
                text, extras = await local.run(kwargs, self._time_left())
            except RemoteError as error:
                text, extras = f"error: {call.tool_name} failed: {error.message}", {}
            answer.content.text = text
            answer.metadata.update(extras)
            return answer
        assert tool is not None
        request = tr.InvokeToolRequest(tool_group_id=tool.tool_group_id, tool_name=call.tool_name)
        request.kwargs.update({**kwargs, **tool.args})
        try:
            reply = await self._mesh.call(self._mesh.tool_runtime.InvokeTool, request, self._time_left())
        except RemoteError as error:
            answer.content.text = f"error: {call.tool_name} failed: {error.message}"
            return answer
        if reply.error_message:
            answer.content.text = f"error: {reply.error_message}"
        else:
            answer.content.CopyFrom(reply.content)
        answer.metadata.CopyFrom(reply.metadata)
        return answer

    async def _shield_step(
        self, shield_ids: list[str], messages: list[messages_pb2.Message]
    ) -> AsyncIterator[pb.CreateTurnResponse]:
        """Runs the shields at once; records the first ERROR-level violation, else the first violation."""
        step = self._begin(pb.Step(shield_call=pb.ShieldCallStep(shield_ids=shield_ids)))
        yield self._step_start(step, pb.STEP_TYPE_SHIELD_CALL, {"shield_ids": shield_ids})
        with tracer.start_as_current_span("agents.step.shield_call") as span:
            span.set_attribute("agent.step_id", step.step_id)
            span.set_attribute("agent.shield_ids", shield_ids)
            requests = [safety_pb2.RunShieldRequest(shield_id=shield, messages=messages) for shield in shield_ids]
            shield = self._mesh.safety.RunShield
            replies = await asyncio.gather(*(self._mesh.call(shield, r, self._time_left()) for r in requests))
            found = [reply.violation for reply in replies if reply.HasField("violation")]
            errors = [v for v in found if v.violation_level == safety_violation_pb2.VIOLATION_LEVEL_ERROR]
            self._violation = (errors or found or [None])[0]
            if self._violation is not None:
                step.shield_call.violation.CopyFrom(self._violation)
                span.set_attribute("agent.violation_level", self._violation.violation_level)
        yield await self._end(step, pb.STEP_TYPE_SHIELD_CALL)

    async def _retrieve_documents(self) -> AsyncIterator[pb.CreateTurnResponse]:
        """Puts the attached documents into the session's vector DB, then retrieves what fits the input."""
        settings = self._settings
        step = self._begin(pb.Step(memory_retrieval=pb.MemoryRetrievalStep()))
        vector_db_ids = [settings.session_vector_db, *(settings.toolbox.rag_vector_db_ids or [])]
        step.memory_retrieval.vector_db_ids.extend(vector_db_ids)
        yield self._step_start(step, pb.STEP_TYPE_MEMORY_RETRIEVAL, {"vector_db_ids": vector_db_ids})
        with tracer.start_as_current_span("agents.step.memory_retrieval") as span:
            span.set_attribute("agent.step_id", step.step_id)
            await self._ensure_session_vector_db()
            insert = tr.InsertDocumentsRequest(
                vector_db_id=settings.session_vector_db, chunk_size_in_tokens=settings.chunk_size_in_tokens
            )
            for index, document in enumerate(self.turn.documents):
                rag = insert.documents.add(document_id=f"{self.turn.turn_id}-{index}", mime_type=document.mime_type)
                if document.HasField("content"):
                    rag.content.CopyFrom(document.content)
                else:
                    rag.uri = document.uri
            await self._mesh.call(self._mesh.tool_runtime.InsertDocuments, insert, self._time_left())
            query = "\n".join(
                text_of(message.content)
                for message in self.turn.input_messages
                if message.role == messages_pb2.ROLE_USER
            )
            knowledge = tr.QueryKnowledgeRequest(vector_db_ids=vector_db_ids, content=content_pb2.Content(text=query))
            found = await self._mesh.call(self._mesh.tool_runtime.QueryKnowledge, knowledge, self._time_left())
        step.memory_retrieval.inserted_context.CopyFrom(found.content)
        yield await self._end(step, pb.STEP_TYPE_MEMORY_RETRIEVAL)

    async def _ensure_session_vector_db(self) -> None:
        settings = self._settings
        vector_db = resources_pb2.VectorDB(
            identifier=settings.session_vector_db, embedding_model=settings.embedding_model
        )
        try:
            request = registry_pb2.RegisterVectorDBRequest(vector_db=vector_db)
            await self._mesh.call(self._mesh.registry.RegisterVectorDB, request, self._time_left())
        except RemoteError as error:
            if error.code != grpc.StatusCode.ALREADY_EXISTS:
                raise

    # ---------- turn and step records ----------
    def _inference_steps(self) -> int:
        return sum(1 for step in self.turn.steps if step.HasField("inference"))

    def _last_response(self) -> messages_pb2.Message:
        for step in reversed(self.turn.steps):
            if step.HasField("inference"):
                return step.inference.model_response
        return messages_pb2.Message(role=messages_pb2.ROLE_ASSISTANT)

    def _refused(self) -> bool:
        level = self._violation.violation_level if self._violation is not None else 0
        return level == safety_violation_pb2.VIOLATION_LEVEL_ERROR

    def _refusal(self) -> messages_pb2.Message:
        assert self._violation is not None
        text = self._violation.user_message or "I can't help with that: a safety shield refused it."
        message = text_message(messages_pb2.ROLE_ASSISTANT, text)
        message.stop_reason = messages_pb2.STOP_REASON_END_OF_TURN
        return message

    def _begin(self, step: pb.Step) -> pb.Step:
        step.step_id = _new_id()
        step.turn_id = self.turn.turn_id
        _now(step, "start_time")
        return step

    def _step_start(self, step: pb.Step, step_type: int, metadata: dict[str, Any]) -> pb.CreateTurnResponse:
        details = struct_pb2.Struct()
        details.update(metadata)
        return pb.CreateTurnResponse(
            step_start=pb.StepStartEvent(step_id=step.step_id, step_type=step_type, metadata=details)
        )

    def _progress(self, step: pb.Step, step_type: int, delta: pb.StepDelta) -> pb.CreateTurnResponse:
        return pb.CreateTurnResponse(
            step_progress=pb.StepProgressEvent(step_id=step.step_id, step_type=step_type, delta=delta)
        )

    async def _end(self, step: pb.Step, step_type: int) -> pb.CreateTurnResponse:
        _now(step, "end_time")
        self.turn.steps.append(step)
        await self._save()
        return pb.CreateTurnResponse(
            step_complete=pb.StepCompleteEvent(step_id=step.step_id, step_type=step_type, step=step)
        )

    async def _complete(self, reason: int, output: messages_pb2.Message) -> pb.CreateTurnResponse:
        self.turn.status = pb.TURN_STATUS_COMPLETED
        self.turn.end_reason = reason
        self.turn.output_message.CopyFrom(output)
        _now(self.turn, "end_time")
        await self._save()
        return pb.CreateTurnResponse(turn_complete=pb.TurnCompleteEvent(turn=self.turn))

    async def _await_client_tools(self, response: messages_pb2.Message) -> pb.CreateTurnResponse:
        self.turn.status = pb.TURN_STATUS_AWAITING_INPUT
        self.turn.end_reason = pb.TURN_END_REASON_CLIENT_TOOL_CALL
        self.turn.output_message.CopyFrom(response)
        await self._save()
        return pb.CreateTurnResponse(turn_awaiting_input=pb.TurnAwaitingInputEvent(turn=self.turn))

    def _fail(self, error: stream_error_pb2.StreamError) -> None:
        self.turn.status = pb.TURN_STATUS_FAILED
        self.turn.end_reason = pb.TURN_END_REASON_UNSPECIFIED
        self.turn.error.CopyFrom(error)
        _now(self.turn, "end_time")

    def _snapshot(self) -> pb.Turn:
        copy = pb.Turn()
        copy.CopyFrom(self.turn)
        return copy

    async def _save(self) -> None:
        await asyncio.to_thread(self._save_sync, self._snapshot())
