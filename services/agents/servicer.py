"""llama.agents.v1.AgentsService: reads requests, calls the agent book and batch jobs, writes responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import grpc

from llama.agents.v1 import agents_pb2 as pb
from llama.agents.v1 import agents_pb2_grpc, responses_pb2, responses_pb2_grpc
from llama_mesh.runtime.channels import remaining_timeout
from llama_mesh.runtime.errors import InvalidArgument
from services.agents.agent_book import AgentBook
from services.agents.batch_jobs import BatchJobs
from services.agents.responses import ResponseBook
from services.agents.turn_results import final_turn


def _time_left(context: grpc.aio.ServicerContext):  # noqa: ANN202 - a TimeLeft callable
    return lambda: remaining_timeout(context)


class AgentsServicer(agents_pb2_grpc.AgentsServiceServicer):
    def __init__(self, book: AgentBook, jobs: BatchJobs) -> None:
        self._book = book
        self._jobs = jobs

    # ---------- agents ----------
    async def CreateAgent(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        if not request.HasField("agent_config"):
            raise InvalidArgument("agent_config", "is required")
        return await self._book.create_agent(request.agent_config, _time_left(context))

    async def GetAgent(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._book.agent(request.agent_id)

    async def ListAgents(self, request, context):  # noqa: N802, ANN001, ANN201
        agents, token = await self._book.list_agents(request.page_size, request.page_token)
        return pb.ListAgentsResponse(agents=agents, next_page_token=token)

    async def DeleteAgent(self, request, context):  # noqa: N802, ANN001, ANN201
        await self._book.agent(request.agent_id)  # NOT_FOUND for another principal's agent, before its jobs are touched
        self._jobs.cancel_all_of(request.agent_id)
        await self._book.delete_agent(request.agent_id, _time_left(context))
        return pb.DeleteAgentResponse()

    # ---------- sessions ----------
    async def CreateSession(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._book.create_session(request.agent_id, request.session_name)

    async def GetSession(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._book.session(request.agent_id, request.session_id, list(request.turn_ids))

    async def ListSessions(self, request, context):  # noqa: N802, ANN001, ANN201
        sessions, token = await self._book.list_sessions(request.agent_id, request.page_size, request.page_token)
        return pb.ListSessionsResponse(sessions=sessions, next_page_token=token)

    async def DeleteSession(self, request, context):  # noqa: N802, ANN001, ANN201
        await self._book.delete_session(request.agent_id, request.session_id, _time_left(context))
        return pb.DeleteSessionResponse()

    # ---------- turns ----------
    # A streamed turn whose call is cancelled while grpc sends one of its events is not cancelled inside these
    # generators: it is left suspended and closed later, from another task. Each one therefore closes the stream it
    # reads (aclosing) when it is closed, so that the turn is recorded FAILED before its session is freed.
    async def _turn_events(self, request: pb.CreateTurnRequest, context) -> AsyncIterator[pb.CreateTurnResponse]:  # noqa: ANN001
        loop = await self._book.start_turn(request, _time_left(context))
        with self._book.running(request.session_id):
            async with aclosing(loop.run_new()) as events:
                async for event in events:
                    yield event

    async def _resume_events(self, request: pb.ResumeTurnRequest, context) -> AsyncIterator[pb.CreateTurnResponse]:  # noqa: ANN001
        loop = await self._book.resume_turn(request, _time_left(context))
        with self._book.running(request.session_id):
            async with aclosing(loop.run_resumed(list(request.tool_responses))) as events:
                async for event in events:
                    yield event

    async def CreateTurn(self, request, context):  # noqa: N802, ANN001, ANN201
        async with aclosing(self._turn_events(request, context)) as events:
            async for event in events:
                yield event

    async def CreateTurnAndWait(self, request, context):  # noqa: N802, ANN001, ANN201
        same = pb.CreateTurnRequest.FromString(request.SerializeToString())  # the same fields, same numbers
        return await final_turn(self._turn_events(same, context))

    async def ResumeTurn(self, request, context):  # noqa: N802, ANN001, ANN201
        async with aclosing(self._resume_events(request, context)) as events:
            async for event in events:
                # ResumeTurnResponse has the same events under the same numbers, less turn_start.
                yield pb.ResumeTurnResponse.FromString(event.SerializeToString())

    async def ResumeTurnAndWait(self, request, context):  # noqa: N802, ANN001, ANN201
        same = pb.ResumeTurnRequest.FromString(request.SerializeToString())
        return await final_turn(self._resume_events(same, context))

    async def GetTurn(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._book.turn(request.agent_id, request.session_id, request.turn_id)

    async def GetStep(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._book.step(request.agent_id, request.session_id, request.turn_id, request.step_id)

    # ---------- batch jobs ----------
    async def CreateAgentBatchJob(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._jobs.create(request)

    async def GetAgentBatchJob(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._jobs.get(request.job_id)

    async def ListAgentBatchJobs(self, request, context):  # noqa: N802, ANN001, ANN201
        jobs, token = await self._jobs.list(request.agent_id, request.page_size, request.page_token)
        return pb.ListAgentBatchJobsResponse(jobs=jobs, next_page_token=token)

    async def CancelAgentBatchJob(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._jobs.cancel(request.job_id)

    async def GetAgentBatchJobResult(self, request, context):  # noqa: N802, ANN001, ANN201
        results, token = await self._jobs.results(request.job_id, request.page_size, request.page_token)
        return pb.GetAgentBatchJobResultResponse(results=results, next_page_token=token)


class ResponsesServicer(responses_pb2_grpc.ResponsesServiceServicer):
    def __init__(self, book: ResponseBook) -> None:
        self._book = book

    async def CreateResponse(self, request, context):  # noqa: N802, ANN001, ANN201
        _, events = await self._book.start(request, _time_left(context))
        last = None
        async for event in events:
            last = event
        assert last is not None
        return getattr(last, last.WhichOneof("event"))

    async def StreamResponse(self, request, context):  # noqa: N802, ANN001, ANN201
        same = responses_pb2.CreateResponseRequest.FromString(request.SerializeToString())  # same fields, numbers
        _, events = await self._book.start(same, _time_left(context))
        async with aclosing(events):  # closed with this stream (see the turns above): the response is recorded FAILED
            async for event in events:
                yield event

    async def GetResponse(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._book.response(request.response_id)

    async def DeleteResponse(self, request, context):  # noqa: N802, ANN001, ANN201
        await self._book.delete_response(request.response_id)
        return responses_pb2.DeleteResponseResponse()

    async def ListResponseInputItems(self, request, context):  # noqa: N802, ANN001, ANN201
        items, token = await self._book.input_items(
            request.response_id, request.page_size, request.page_token, request.order, request.after
        )
        return responses_pb2.ListResponseInputItemsResponse(items=items, next_page_token=token)


class ConversationsServicer(responses_pb2_grpc.ConversationsServiceServicer):
    def __init__(self, book: ResponseBook) -> None:
        self._book = book

    async def CreateConversation(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._book.create_conversation(list(request.items), request.metadata)

    async def GetConversation(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._book.conversation(request.conversation_id)

    async def UpdateConversation(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._book.update_conversation(request.conversation_id, request.metadata)

    async def DeleteConversation(self, request, context):  # noqa: N802, ANN001, ANN201
        await self._book.delete_conversation(request.conversation_id)
        return responses_pb2.DeleteConversationResponse()

    async def ListConversationItems(self, request, context):  # noqa: N802, ANN001, ANN201
        items, token = await self._book.list_items(
            request.conversation_id, request.page_size, request.page_token, request.order, request.after
        )
        return responses_pb2.ListConversationItemsResponse(items=items, next_page_token=token)

    async def AddConversationItems(self, request, context):  # noqa: N802, ANN001, ANN201
        items = await self._book.add_items(request.conversation_id, list(request.items))
        return responses_pb2.AddConversationItemsResponse(items=items)

    async def GetConversationItem(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._book.item(request.conversation_id, request.item_id)

    async def DeleteConversationItem(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._book.delete_item(request.conversation_id, request.item_id)
