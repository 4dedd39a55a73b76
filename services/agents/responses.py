"""Responses and conversations: checks, context, tools, and the run of each response as one turn of the agent loop.

A response reads a context of items (its previous response's context, input and output, or its conversation's
items), runs a turn whose input is its own input items, and is stored (unless store is false) with its input and the
context a following response continues. A response left IN_PROGRESS by a stopped service is marked FAILED when the
service starts again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from typing import Any

import grpc
from google.protobuf import json_format, timestamp_pb2

from llama.agents.v1 import agents_pb2
from llama.agents.v1 import responses_pb2 as pb
from llama.common.v1 import agent_config_pb2, content_pb2, resources_pb2, sampling_pb2, stream_error_pb2, tools_pb2
from llama.registry.v1 import registry_pb2
from llama.vector_io.v1 import vector_io_pb2
from llama_mesh.openai_caps import RESERVED_ATTRIBUTES, attributes_problem, metadata_problem
from llama_mesh.runtime import paging
from llama_mesh.runtime.caller import owner_filter, record_owner
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument, MeshError, NotFound, RemoteError
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.struct_values import struct_dict
from services.agents.config import AgentsSettings
from services.agents.response_items import (
    FILE_SEARCH_TOOL,
    WEB_SEARCH_TOOL,
    ResponseEvents,
    file_search_text,
    items_to_messages,
    new_id,
    with_id,
)
from services.agents.response_store import DuplicateItemId, ResponseStore
from services.agents.toolbox import TOOL_NAME, LocalTool, Toolbox, build_toolbox
from services.agents.turn_loop import TurnLoop, TurnSettings, stream_error

MAX_INPUT_ITEMS = 2048
MAX_TOOLS = 128
MAX_VECTOR_STORES = 16
MAX_RESULTS = 50
DEFAULT_RESULTS = 10
MAX_CONTEXT_ITEMS = 10000
LIST_DEFAULT = 20
LIST_MAX = 100
MIN_OUTPUT_TOKENS = 16

TimeLeft = Callable[[], float | None]
Request = pb.CreateResponseRequest


def _now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


def _check_metadata(metadata: Mapping[str, str], field: str) -> None:
    problem = metadata_problem(metadata)
    if problem is not None:
        raise InvalidArgument(field, problem)


def _check_results(search: pb.FileSearchCallItem, field: str) -> None:
    """A file search call given back: its results' attributes are OpenAI's attributes, stored with the item."""
    for index, result in enumerate(search.results):
        where = f"{field}.results[{index}].attributes"
        problem = attributes_problem(struct_dict(result.attributes, where))
        if problem is not None:
            raise InvalidArgument(where, problem)


def check_items(items: list[pb.ResponseItem], field: str) -> list[pb.ResponseItem]:
    """The items with ids (see with_id), once checked; an id the caller gave is unique among them."""
    if len(items) > MAX_INPUT_ITEMS:
        raise InvalidArgument(field, f"at most {MAX_INPUT_ITEMS} items, got {len(items)}")
    given: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.id in given:
            why = f"{item.id!r} is the id of {field}[{given[item.id]}] too; give each item its own id, or none"
            raise _duplicate_id(field, index, why)
        if item.id:
            given[item.id] = index
        kind = item.WhichOneof("item")
        if kind is None:
            raise InvalidArgument(f"{field}[{index}]", "is empty: give a message or another item")
        if kind == "message" and item.message.role == pb.MESSAGE_ROLE_UNSPECIFIED:
            raise InvalidArgument(f"{field}[{index}].role", "is required: user, assistant, system or developer")
        if kind == "function_call_output" and not item.function_call_output.call_id:
            raise InvalidArgument(f"{field}[{index}].call_id", "is required")
        if kind == "file_search_call":
            _check_results(item.file_search_call, f"{field}[{index}].file_search_call")
    return [with_id(item) for item in items]


def check_new_ids(items: list[pb.ResponseItem], taken: Collection[str], field: str, conversation_id: str) -> None:
    """Items to add to a conversation have ids its items do not have (an item id names one item of a conversation)."""
    for index, item in enumerate(items):
        if item.id in taken:
            why = f"conversation {conversation_id!r} already has an item {item.id!r}; give another id, or none"
            raise _duplicate_id(field, index, why)


def _duplicate_id(field: str, index: int, why: str) -> InvalidArgument:
    """The refusal of `field[index]`'s id, one another item has (`why`)."""
    return InvalidArgument(f"{field}[{index}].id", why, reason="DUPLICATE_ITEM_ID")


def _sampling(request: Request) -> sampling_pb2.SamplingParams:
    """OpenAI's defaults (temperature 1, top_p 1); temperature 0 is greedy decoding."""
    params = sampling_pb2.SamplingParams()
    temperature = request.temperature if request.HasField("temperature") else 1.0
    if not 0 <= temperature <= 2:
        raise InvalidArgument("temperature", f"must be in 0..2, got {temperature}")
    top_p = request.top_p if request.HasField("top_p") else 1.0
    if not 0 < top_p <= 1:
        raise InvalidArgument("top_p", f"must be in (0, 1], got {top_p}")
    if temperature == 0:
        params.strategy.greedy.SetInParent()
    else:
        params.strategy.top_p.temperature = temperature
        params.strategy.top_p.top_p = top_p
    if request.HasField("max_output_tokens"):
        if request.max_output_tokens < MIN_OUTPUT_TOKENS:
            raise InvalidArgument(
                "max_output_tokens", f"must be at least {MIN_OUTPUT_TOKENS}, got {request.max_output_tokens}"
            )
        params.max_tokens = request.max_output_tokens
    return params


def _response_format(text: pb.TextFormat) -> sampling_pb2.ResponseFormat | None:
    if text.type == pb.TEXT_FORMAT_TYPE_JSON_OBJECT:
        return sampling_pb2.ResponseFormat(json_schema={"type": "object"})
    if text.type == pb.TEXT_FORMAT_TYPE_JSON_SCHEMA:
        if not text.name or len(text.name) > 64:
            raise InvalidArgument("text_format.name", "is required for json_schema: 1-64 characters")
        if not text.HasField("schema"):
            raise InvalidArgument("text_format.schema", "is required for json_schema")
        return sampling_pb2.ResponseFormat(json_schema=text.schema)
    return None


@dataclasses.dataclass
class ResponseTools:
    """The tools of one response: the toolbox the loop runs, what kind each tool is (see ResponseEvents), and the
    MCP servers' labels by tool group id."""

    box: Toolbox = dataclasses.field(default_factory=Toolbox)
    kinds: dict[str, Any] = dataclasses.field(default_factory=dict)
    mcp_servers: dict[str, str] = dataclasses.field(default_factory=dict)


class ResponseBook:
    def __init__(self, mesh: GatewayClient, settings: AgentsSettings, store: ResponseStore) -> None:
        self.mesh = mesh
        self.settings = settings
        self._store = store

    # ---------- responses ----------
    async def _context(self, request: Request) -> list[pb.ResponseItem]:
        if request.previous_response_id and request.conversation_id:
            raise InvalidArgument("conversation_id", "give previous_response_id or conversation_id, not both")
        if request.previous_response_id:
            previous, _, context = await self._stored(request.previous_response_id, "previous_response_id")
            if previous.status == pb.RESPONSE_STATUS_IN_PROGRESS:
                raise FailedPrecondition(
                    f"response {previous.id!r} is still in progress; continue it once it has finished",
                    reason="RESPONSE_IN_PROGRESS",
                    field="previous_response_id",
                )
            return context
        if request.conversation_id:
            await self.conversation(request.conversation_id)
            return await asyncio.to_thread(self._store.items, request.conversation_id)
        return []

    async def _check_model(self, model: str, time_left: TimeLeft) -> None:
        if not model:
            raise InvalidArgument("model", "is required: a registered LLM")
        found = await self.mesh.call(
            self.mesh.registry.GetModel, registry_pb2.GetModelRequest(model_id=model), time_left()
        )
        if found.model_type != resources_pb2.MODEL_TYPE_LLM:
            raise InvalidArgument("model", f"{model!r} is not an LLM; responses need a chat model")

    async def start(
        self, request: Request, time_left: TimeLeft
    ) -> tuple[pb.Response, AsyncIterator[pb.StreamResponseResponse]]:
        """Checks the request and returns the response as it starts and the events of its run (the caller iterates
        them to run it)."""
        await self._check_model(request.model, time_left)
        inputs = check_items(list(request.input), "input")
        _check_metadata(request.metadata, "metadata")
        context = await self._context(request)
        if request.conversation_id:
            check_new_ids(inputs, {item.id for item in context}, "input", request.conversation_id)
        if not inputs and not context:
            raise InvalidArgument("input", "is required (or previous_response_id or conversation_id)")
        if len(context) + len(inputs) > MAX_CONTEXT_ITEMS:
            raise FailedPrecondition(
                f"the context would have more than {MAX_CONTEXT_ITEMS} items; start a new conversation",
                reason="CONTEXT_TOO_LONG",
            )
        self._check_outputs_answer_calls(context, inputs)
        sampling = _sampling(request)
        response_format = _response_format(request.text_format)
        tools = await self._tools(list(request.tools), time_left, _last_user_text([*context, *inputs]))
        choice = self._tool_choice(request, tools)
        config = agent_config_pb2.AgentConfig(
            model=request.model,
            instructions=request.instructions,
            sampling_params=sampling,
            input_shields=self.settings.response_input_shields,
            output_shields=self.settings.response_output_shields,
        )
        if response_format is not None:
            config.response_format.CopyFrom(response_format)
        response = pb.Response(
            id=new_id("resp"),
            create_time=_now(),
            status=pb.RESPONSE_STATUS_IN_PROGRESS,
            model=request.model,
            instructions=request.instructions,
            previous_response_id=request.previous_response_id,
            conversation_id=request.conversation_id,
            tools=request.tools,
            tool_choice=request.tool_choice,
            text_format=request.text_format,
            store=request.store if request.HasField("store") else True,
            metadata=request.metadata,
        )
        for name in ("temperature", "top_p", "max_output_tokens"):
            if request.HasField(name):
                setattr(response, name, getattr(request, name))
        owner = record_owner()
        if response.store:
            await asyncio.to_thread(self._store.add_response, response, owner, inputs, context)
        turn = agents_pb2.Turn(
            turn_id=new_id("turn"),
            session_id=response.id,
            input_messages=items_to_messages(inputs),
            status=agents_pb2.TURN_STATUS_IN_PROGRESS,
            start_time=_now(),
        )
        settings = TurnSettings(
            config=config,
            toolbox=tools.box,
            tool_choice=choice,
            session_vector_db="",
            embedding_model=self.settings.document_embedding_model,
            chunk_size_in_tokens=self.settings.document_chunk_tokens,
        )
        loop = TurnLoop(self.mesh, settings, turn, [], lambda _turn: None, time_left, items_to_messages(context))
        no_tools = not tools.box.definitions() or (
            choice is not None and choice.mode == tools_pb2.TOOL_CHOICE_MODE_NONE
        )
        events = ResponseEvents(tools.kinds, stream_text=no_tools and not config.output_shields)
        run = self._run(response, inputs, context, loop, events, tools)
        return response, run

    def _check_outputs_answer_calls(self, context: list[pb.ResponseItem], inputs: list[pb.ResponseItem]) -> None:
        calls = {item.function_call.call_id for item in [*context, *inputs] if item.HasField("function_call")}
        for index, item in enumerate(inputs):
            if item.HasField("function_call_output") and item.function_call_output.call_id not in calls:
                raise InvalidArgument(
                    f"input[{index}].call_id",
                    f"no function call {item.function_call_output.call_id!r} in the context or input to answer",
                    reason="FUNCTION_CALL_NOT_FOUND",
                )

    async def _run(
        self,
        response: pb.Response,
        inputs: list[pb.ResponseItem],
        context: list[pb.ResponseItem],
        loop: TurnLoop,
        events: ResponseEvents,
        tools: ResponseTools,
    ) -> AsyncIterator[pb.StreamResponseResponse]:
        started = pb.Response()
        started.CopyFrom(response)
        end: agents_pb2.CreateTurnResponse | None = None
        try:
            # Inside the try: a stream closed while `created` is sent records the response FAILED, not in progress.
            yield pb.StreamResponseResponse(created=started)
            for group_id, label in tools.mcp_servers.items():
                for event in events.listed_tools(label, self._listed(tools.box, group_id)):
                    yield event
            async for turn_event in loop.run_new():
                for event in events.on_turn_event(turn_event):
                    yield event
                if turn_event.WhichOneof("event") in ("turn_complete", "turn_awaiting_input", "error"):
                    end = turn_event
        except (asyncio.CancelledError, GeneratorExit):
            response.status = pb.RESPONSE_STATUS_FAILED
            response.error.CopyFrom(
                stream_error_pb2.StreamError(code=1, reason="RESPONSE_CANCELLED", message="the call was cancelled")
            )
            self._finish(response, events)
            if response.store:
                self._store.update_response(response, context)  # no awaiting: being cancelled
            raise
        except MeshError as error:
            end = agents_pb2.CreateTurnResponse(error=stream_error(error))
        final = self._final(response, events, end)
        added = [*inputs, *events.output]  # to its conversation; and after its context, what a next response reads
        # An update: a response deleted while it ran stays deleted, and its items are not added to its conversation.
        kept = not response.store or await asyncio.to_thread(self._store.update_response, response, [*context, *added])
        if kept and response.conversation_id and response.status != pb.RESPONSE_STATUS_FAILED:
            try:  # unless the conversation was deleted while the response ran
                await asyncio.to_thread(self._store.add_items, response.conversation_id, added)
            except DuplicateItemId as duplicate:  # another call added an item with an input's id meanwhile
                final = self._duplicate(response, duplicate.item_id)
                if response.store:
                    await asyncio.to_thread(self._store.update_response, response, [*context, *added])
        yield final

    @staticmethod
    def _duplicate(response: pb.Response, item_id: str) -> pb.StreamResponseResponse:
        response.status = pb.RESPONSE_STATUS_FAILED
        message = (
            f"conversation {response.conversation_id!r} already has an item {item_id!r} (added while the response"
            " ran); its items were not added"
        )
        response.error.CopyFrom(stream_error_pb2.StreamError(code=3, reason="DUPLICATE_ITEM_ID", message=message))
        failed = pb.Response()
        failed.CopyFrom(response)
        return pb.StreamResponseResponse(failed=failed)

    @staticmethod
    def _listed(box: Toolbox, group_id: str) -> list[pb.McpListedTool]:
        return [
            pb.McpListedTool(
                name=name, description=tool.definition.description, input_schema=tool.definition.parameters
            )
            for name, tool in box.server.items()
            if tool.tool_group_id == group_id
        ]

    @staticmethod
    def _finish(response: pb.Response, events: ResponseEvents) -> None:
        del response.output[:]
        response.output.extend(events.output)
        response.usage.prompt_tokens = events.usage_prompt
        response.usage.completion_tokens = events.usage_completion
        response.usage.total_tokens = events.usage_prompt + events.usage_completion
        response.complete_time.GetCurrentTime()

    def _final(
        self, response: pb.Response, events: ResponseEvents, end: agents_pb2.CreateTurnResponse | None
    ) -> pb.StreamResponseResponse:
        kind = end.WhichOneof("event") if end is not None else None
        if kind == "error" or end is None:
            response.status = pb.RESPONSE_STATUS_FAILED
            error = end.error if end is not None else stream_error_pb2.StreamError(code=13, reason="TURN_INCOMPLETE")
            response.error.CopyFrom(error)
        elif kind == "turn_complete" and end.turn_complete.turn.end_reason == agents_pb2.TURN_END_REASON_OUT_OF_TOKENS:
            response.status = pb.RESPONSE_STATUS_INCOMPLETE
            response.incomplete_reason = "max_output_tokens"
        else:
            response.status = pb.RESPONSE_STATUS_COMPLETED
        self._finish(response, events)
        final = pb.Response()
        final.CopyFrom(response)
        if response.status == pb.RESPONSE_STATUS_FAILED:
            return pb.StreamResponseResponse(failed=final)
        if response.status == pb.RESPONSE_STATUS_INCOMPLETE:
            return pb.StreamResponseResponse(incomplete=final)
        return pb.StreamResponseResponse(completed=final)

    async def _stored(
        self, response_id: str, field: str
    ) -> tuple[pb.Response, list[pb.ResponseItem], list[pb.ResponseItem]]:
        if not response_id:
            raise InvalidArgument(field, "is required")
        found = await asyncio.to_thread(self._store.get_response, response_id, owner_filter())
        if found is None:
            raise NotFound(
                f"response {response_id!r} does not exist (or was created with store: false)",
                reason="RESPONSE_NOT_FOUND",
                field=field,
                response_id=response_id,
            )
        return found

    async def response(self, response_id: str) -> pb.Response:
        return (await self._stored(response_id, "response_id"))[0]

    async def delete_response(self, response_id: str) -> None:
        await self._stored(response_id, "response_id")
        await asyncio.to_thread(self._store.delete_response, response_id)

    async def input_items(
        self, response_id: str, size: int, token: str, order: int, after: str
    ) -> tuple[list[pb.ResponseItem], str]:
        _, inputs, _ = await self._stored(response_id, "response_id")
        ascending = order == pb.LIST_ORDER_ASCENDING
        items = inputs if ascending else list(reversed(inputs))
        listing = f"response_input_items:{response_id}:{'asc' if ascending else 'desc'}"
        if after:
            ids = [item.id for item in items]
            if after not in ids:
                raise InvalidArgument("after", f"{after!r} is not an input item of response {response_id!r}")
            token = paging.make_token(listing, ids.index(after) + 1)
        return paging.page_of(items, size, token, listing, default=LIST_DEFAULT, maximum=LIST_MAX)

    def mark_interrupted(self) -> int:
        """At start-up: responses a stopped service left IN_PROGRESS become FAILED."""
        found = 0
        for response in self._store.responses_in_progress():
            stored = self._store.get_response(response.id, None)
            if stored is None:
                continue
            response.status = pb.RESPONSE_STATUS_FAILED
            response.error.CopyFrom(
                stream_error_pb2.StreamError(
                    code=14, reason="RESPONSE_INTERRUPTED", message="the agents service stopped while it ran"
                )
            )
            self._store.update_response(response, stored[2])
            found += 1
        return found

    # ---------- tools ----------
    async def _tools(self, tools: list[pb.ResponseTool], time_left: TimeLeft, question: str) -> ResponseTools:
        """`question`: what file_search looks for when the model's query is empty (the last user message)."""
        if len(tools) > MAX_TOOLS:
            raise InvalidArgument("tools", f"at most {MAX_TOOLS} tools, got {len(tools)}")
        result = ResponseTools()
        functions: list[tools_pb2.ToolDefinition] = []
        groups: list[agent_config_pb2.AgentToolGroup] = []
        labels: dict[str, str] = {}
        for index, tool in enumerate(tools):
            kind = tool.WhichOneof("tool")
            field = f"tools[{index}]"
            if kind == "function":
                function = tool.function
                if not TOOL_NAME.fullmatch(function.name):
                    raise InvalidArgument(
                        f"{field}.name", f"{function.name!r} must be 1-64 letters, digits, '_' or '-'"
                    )
                if function.name in result.kinds:
                    raise InvalidArgument(f"{field}.name", f"tool {function.name!r} is named twice")
                functions.append(
                    tools_pb2.ToolDefinition(
                        name=function.name, description=function.description, parameters=function.parameters
                    )
                )
                result.kinds[function.name] = "function"
            elif kind == "file_search":
                if FILE_SEARCH_TOOL in result.kinds:
                    raise InvalidArgument(field, "give one file_search tool (it may name several vector stores)")
                result.box.local[FILE_SEARCH_TOOL] = self._file_search(tool.file_search, field, question)
                result.kinds[FILE_SEARCH_TOOL] = FILE_SEARCH_TOOL
                await self._check_stores(
                    list(tool.file_search.vector_store_ids), f"{field}.vector_store_ids", time_left
                )
            elif kind == "mcp":
                if len(tool.mcp.allowed_tools) > MAX_TOOLS:
                    raise InvalidArgument(f"{field}.allowed_tools", f"at most {MAX_TOOLS} tool names")
                group_id = await self._mcp_group(tool.mcp, field, time_left)
                groups.append(
                    agent_config_pb2.AgentToolGroup(tool_group_id=group_id, tool_names=tool.mcp.allowed_tools)
                )
                labels[group_id] = tool.mcp.server_label
            elif kind == "web_search":
                if WEB_SEARCH_TOOL in result.kinds:
                    raise InvalidArgument(field, "give one web_search tool, and no function named web_search")
                group_id = self.settings.web_search_tool_group
                if not await self._registered(group_id, time_left):
                    raise InvalidArgument(
                        field, "web_search is not configured on this mesh", reason="TOOL_NOT_CONFIGURED"
                    )
                groups.append(agent_config_pb2.AgentToolGroup(tool_group_id=group_id, tool_names=[WEB_SEARCH_TOOL]))
                result.kinds[WEB_SEARCH_TOOL] = WEB_SEARCH_TOOL
            else:
                raise InvalidArgument(field, "is empty: give a function, file_search, mcp or web_search tool")
        box = await build_toolbox(self.mesh, groups, functions, time_left(), "tools")
        box.local = result.box.local
        result.box = box
        for name, server in box.server.items():
            if server.tool_group_id in labels:
                result.kinds[name] = ("mcp", labels[server.tool_group_id])
        result.mcp_servers = labels
        return result

    async def _check_stores(self, store_ids: list[str], field: str, time_left: TimeLeft) -> None:
        """Every vector store exists for the caller (NOT_FOUND naming the field), before the model runs."""
        for index, store_id in enumerate(store_ids):
            try:
                request = registry_pb2.GetVectorDBRequest(vector_db_id=store_id)
                await self.mesh.call(self.mesh.registry.GetVectorDB, request, time_left())
            except RemoteError as error:
                if error.code != grpc.StatusCode.NOT_FOUND:
                    raise
                raise NotFound(
                    f"vector store {store_id!r} does not exist",
                    reason="VECTOR_STORE_NOT_FOUND",
                    field=f"{field}[{index}]",
                ) from error

    async def _registered(self, tool_group_id: str, time_left: TimeLeft) -> bool:
        try:
            request = registry_pb2.GetToolGroupRequest(tool_group_id=tool_group_id)
            await self.mesh.call(self.mesh.registry.GetToolGroup, request, time_left())
        except RemoteError as error:
            if error.code == grpc.StatusCode.NOT_FOUND:
                return False
            raise
        return True

    async def _mcp_group(self, tool: pb.McpTool, field: str, time_left: TimeLeft) -> str:
        """The tool group of an MCP tool: the registered group named by server_label, or one registered for the
        caller from server_url (the tool runtime checks the URL)."""
        if not tool.server_label:
            raise InvalidArgument(f"{field}.server_label", "is required")
        if not tool.server_url:
            if not await self._registered(tool.server_label, time_left):
                raise InvalidArgument(
                    f"{field}.server_url",
                    f"is required: no registered tool group {tool.server_label!r}",
                    reason="TOOL_GROUP_NOT_FOUND",
                )
            return tool.server_label
        digest = hashlib.sha256(f"{record_owner()}\n{tool.server_url}".encode()).hexdigest()[:24]
        group_id = f"mcp::response-{digest}"
        group = resources_pb2.ToolGroup(
            identifier=group_id,
            provider_id=self.settings.mcp_provider_id,
            mcp_endpoint=resources_pb2.McpEndpoint(uri=tool.server_url),
        )
        try:
            request = registry_pb2.RegisterToolGroupRequest(tool_group=group)
            await self.mesh.call(self.mesh.registry.RegisterToolGroup, request, time_left())
        except RemoteError as error:
            if error.code == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgument(f"{field}.server_url", error.message, reason=error.reason) from error
            if error.code != grpc.StatusCode.ALREADY_EXISTS:
                raise
        return group_id

    def _file_search(self, tool: pb.FileSearchTool, field: str, question: str) -> LocalTool:
        stores = list(tool.vector_store_ids)
        if not 1 <= len(stores) <= MAX_VECTOR_STORES:
            raise InvalidArgument(f"{field}.vector_store_ids", f"give 1 to {MAX_VECTOR_STORES} vector store ids")
        limit = tool.max_num_results if tool.HasField("max_num_results") else DEFAULT_RESULTS
        if not 1 <= limit <= MAX_RESULTS:
            raise InvalidArgument(f"{field}.max_num_results", f"must be in 1..{MAX_RESULTS}, got {limit}")
        filters = tool.filters if tool.HasField("filters") else None
        mesh = self.mesh

        async def run(arguments: dict[str, Any], time_left: float | None) -> tuple[str, dict[str, Any]]:
            query = str(arguments.get("query") or "").strip() or question
            if not query:
                return "error: file_search needs a non-empty query", {}
            params = vector_io_pb2.QueryParams(max_chunks=limit)
            if filters is not None:
                params.metadata_filter.CopyFrom(filters)
            replies = await asyncio.gather(
                *(
                    mesh.call(
                        mesh.vector_io.QueryChunks,
                        vector_io_pb2.QueryChunksRequest(
                            vector_db_id=store, query=content_pb2.Content(text=query), params=params
                        ),
                        time_left,
                    )
                    for store in stores
                )
            )
            found = [
                _search_result(chunk, score)
                for reply in replies
                for chunk, score in zip(reply.chunks, reply.scores, strict=False)
            ]
            found.sort(key=lambda result: result.score, reverse=True)
            found = found[:limit]
            extras = {
                "results": [json_format.MessageToDict(result, preserving_proto_field_name=True) for result in found]
            }
            return file_search_text(found), extras

        definition = tools_pb2.ToolDefinition(
            name=FILE_SEARCH_TOOL,
            description="Search the user's files for passages relevant to a query",
            parameters={
                "type": "object",
                "properties": {"query": {"type": "string", "description": "what to search for"}},
                "required": ["query"],
            },
        )
        return LocalTool(definition, run)

    @staticmethod
    def _tool_choice(request: Request, tools: ResponseTools) -> tools_pb2.ToolChoice | None:
        choice = request.tool_choice
        kind = choice.WhichOneof("choice")
        if kind is None:
            return None
        if kind == "mode":
            return tools_pb2.ToolChoice(mode=choice.mode)
        if kind == "function_name":
            if tools.kinds.get(choice.function_name) != "function":
                raise InvalidArgument("tool_choice.name", f"there is no function tool {choice.function_name!r}")
            return tools_pb2.ToolChoice(tool_name=choice.function_name)
        if kind == "builtin":
            name = FILE_SEARCH_TOOL if choice.builtin == pb.BUILTIN_TOOL_TYPE_FILE_SEARCH else WEB_SEARCH_TOOL
            if name not in tools.kinds:
                raise InvalidArgument("tool_choice.type", f"the request has no {name} tool")
            return tools_pb2.ToolChoice(tool_name=name)
        label, name = choice.mcp.server_label, choice.mcp.name
        if label not in tools.mcp_servers.values():
            raise InvalidArgument("tool_choice.server_label", f"the request has no mcp tool {label!r}")
        if not name:
            return tools_pb2.ToolChoice(mode=tools_pb2.TOOL_CHOICE_MODE_REQUIRED)
        if tools.kinds.get(name) != ("mcp", label):
            raise InvalidArgument("tool_choice.name", f"MCP server {label!r} has no tool {name!r}")
        return tools_pb2.ToolChoice(tool_name=name)

    # ---------- conversations ----------
    async def create_conversation(self, items: list[pb.ResponseItem], metadata: Any) -> pb.Conversation:
        _check_metadata(metadata, "metadata")
        checked = check_items(items, "items")
        conversation = pb.Conversation(id=new_id("conv"), create_time=_now(), metadata=metadata)
        await asyncio.to_thread(self._store.add_conversation, conversation, record_owner())
        if checked:
            await asyncio.to_thread(self._store.add_items, conversation.id, checked)
        return conversation

    async def conversation(self, conversation_id: str) -> pb.Conversation:
        if not conversation_id:
            raise InvalidArgument("conversation_id", "is required")
        found = await asyncio.to_thread(self._store.get_conversation, conversation_id, owner_filter())
        if found is None:
            raise _no_conversation(conversation_id)
        return found

    async def update_conversation(self, conversation_id: str, metadata: Any) -> pb.Conversation:
        conversation = await self.conversation(conversation_id)
        _check_metadata(metadata, "metadata")
        conversation.metadata.clear()
        conversation.metadata.update(metadata)
        if not await asyncio.to_thread(self._store.update_conversation, conversation):  # deleted meanwhile
            raise _no_conversation(conversation_id)
        return conversation

    async def delete_conversation(self, conversation_id: str) -> None:
        await self.conversation(conversation_id)
        await asyncio.to_thread(self._store.delete_conversation, conversation_id)

    async def add_items(self, conversation_id: str, items: list[pb.ResponseItem]) -> list[pb.ResponseItem]:
        await self.conversation(conversation_id)
        if not items:
            raise InvalidArgument("items", "at least one item is required")
        checked = check_items(items, "items")
        taken = await asyncio.to_thread(self._store.item_ids, conversation_id)
        if len(taken) + len(checked) > MAX_CONTEXT_ITEMS:
            raise FailedPrecondition(
                f"a conversation holds at most {MAX_CONTEXT_ITEMS} items", reason="CONVERSATION_FULL"
            )
        check_new_ids(checked, taken, "items", conversation_id)
        try:
            await asyncio.to_thread(self._store.add_items, conversation_id, checked)
        except DuplicateItemId as duplicate:  # added by another call since `taken` was read
            check_new_ids(checked, {duplicate.item_id}, "items", conversation_id)
            raise
        return checked

    async def item(self, conversation_id: str, item_id: str) -> pb.ResponseItem:
        await self.conversation(conversation_id)
        found = await asyncio.to_thread(self._store.get_item, conversation_id, item_id)
        if found is None:
            raise NotFound(
                f"conversation {conversation_id!r} has no item {item_id!r}", reason="ITEM_NOT_FOUND", field="item_id"
            )
        return found

    async def delete_item(self, conversation_id: str, item_id: str) -> pb.Conversation:
        conversation = await self.conversation(conversation_id)
        if not await asyncio.to_thread(self._store.delete_item, conversation_id, item_id):
            raise NotFound(
                f"conversation {conversation_id!r} has no item {item_id!r}", reason="ITEM_NOT_FOUND", field="item_id"
            )
        return conversation

    async def list_items(
        self, conversation_id: str, size: int, token: str, order: int, after: str
    ) -> tuple[list[pb.ResponseItem], str]:
        await self.conversation(conversation_id)
        page = paging.page_size(size, default=LIST_DEFAULT, maximum=LIST_MAX)
        ascending = order == pb.LIST_ORDER_ASCENDING
        return await asyncio.to_thread(self._store.page_items, conversation_id, page, token, ascending, after)


def _no_conversation(conversation_id: str) -> NotFound:
    return NotFound(
        f"conversation {conversation_id!r} does not exist",
        reason="CONVERSATION_NOT_FOUND",
        field="conversation_id",
        conversation_id=conversation_id,
    )


def _last_user_text(items: list[pb.ResponseItem]) -> str:
    for item in reversed(items):
        if item.HasField("message") and item.message.role == pb.MESSAGE_ROLE_USER:
            return " ".join(part.input_text for part in item.message.content if part.HasField("input_text")).strip()
    return ""


def _search_result(chunk: vector_io_pb2.Chunk, score: float) -> pb.FileSearchResult:
    metadata = json_format.MessageToDict(chunk.metadata)
    file_id = str(metadata.pop("file_id", metadata.get("document_id", "")))
    filename = str(metadata.pop("filename", ""))
    for internal in (*RESERVED_ATTRIBUTES, "token_count"):  # not the file's attributes
        metadata.pop(internal, None)
    text = chunk.content.text
    if chunk.content.HasField("items"):
        text = "".join(item.text for item in chunk.content.items.items)
    result = pb.FileSearchResult(file_id=file_id, filename=filename, score=score, text=text)
    result.attributes.update(
        {key: value for key, value in metadata.items() if isinstance(value, str | float | int | bool)}
    )
    return result
