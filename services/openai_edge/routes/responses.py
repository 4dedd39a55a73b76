"""/v1/responses on the agents service's ResponsesService: create (unary, or streamed as OpenAI's named `response.*`
events with sequence numbers), retrieve, delete and input_items.

Caps: input at most 2048 items, tools at most 128, include at most 16 entries, the body at most
settings.max_request_bytes, metadata and a file search result's attributes as OpenAI caps them (metadata.py); list
`limit` 1..100. The agents service checks the rest (see responses.proto).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from llama.agents.v1 import responses_pb2 as pb
from services.openai_edge import convert
from services.openai_edge import response_objects as objects
from services.openai_edge.calls import Mesh
from services.openai_edge.errors import bad_request
from services.openai_edge.json_body import JSONBodyRoute
from services.openai_edge.listing import list_object
from services.openai_edge.metadata import Metadata
from services.openai_edge.response_objects import RESPONSE_FIELDS, InputItem, TextParam, ToolChoiceParam, ToolParam
from services.openai_edge.sse import EventStream, opened

router = APIRouter(route_class=JSONBodyRoute)

MAX_TOOLS = 128
_STATUS_EVENTS = {
    pb.ITEM_STATUS_IN_PROGRESS: "in_progress",
    pb.ITEM_STATUS_SEARCHING: "searching",
    pb.ITEM_STATUS_COMPLETED: "completed",
    pb.ITEM_STATUS_FAILED: "failed",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConversationRef(_Strict):
    id: str = Field(min_length=1, max_length=objects.MAX_NAME)


Items = Annotated[list[InputItem], BeforeValidator(objects.with_message_type), Field(max_length=objects.MAX_ITEMS)]


class CreateResponse(_Strict):
    model: str = Field(min_length=1, max_length=objects.MAX_NAME)
    input: Items | None = None
    instructions: str | None = None
    tools: list[ToolParam] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: ToolChoiceParam | None = None
    text: TextParam | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_output_tokens: int | None = Field(default=None, ge=16, le=convert.INT32_MAX)
    previous_response_id: str | None = Field(default=None, min_length=1, max_length=objects.MAX_NAME)
    conversation: str | ConversationRef | None = None
    store: bool | None = None
    stream: bool = False
    metadata: Metadata | None = None
    include: list[str] | None = Field(default=None, max_length=objects.MAX_INCLUDE)
    # Accepted with the values the mesh serves (others: 400 naming them).
    parallel_tool_calls: bool | None = None
    background: bool | None = None
    truncation: Literal["auto", "disabled"] | None = None
    user: str | None = Field(default=None, max_length=objects.MAX_NAME)
    safety_identifier: str | None = Field(default=None, max_length=objects.MAX_NAME)
    prompt_cache_key: str | None = Field(default=None, max_length=objects.MAX_NAME)
    service_tier: str | None = None
    reasoning: dict[str, Any] | None = None
    max_tool_calls: int | None = Field(default=None, ge=1)
    stream_options: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _supported(self) -> CreateResponse:
        if self.background:
            raise bad_request("background", "is not supported; use stream: true to follow a long response")
        objects.shown(self.include)
        if self.stream_options is not None and not self.stream:
            raise bad_request("stream_options", "is only allowed with stream: true")
        if self.previous_response_id and self.conversation is not None:
            raise bad_request("conversation", "give previous_response_id or conversation, not both")
        return self


def create_request(body: CreateResponse) -> pb.CreateResponseRequest:
    conversation = body.conversation.id if isinstance(body.conversation, ConversationRef) else body.conversation
    request = pb.CreateResponseRequest(
        model=body.model,
        input=objects.input_items(body.input),
        instructions=body.instructions or "",
        tools=[objects.tool_proto(tool, f"tools[{index}]") for index, tool in enumerate(body.tools or ())],
        previous_response_id=body.previous_response_id or "",
        conversation_id=conversation or "",
        metadata=body.metadata or {},
    )
    if (choice := objects.tool_choice_proto(body.tool_choice)) is not None:
        request.tool_choice.CopyFrom(choice)
    if (text := objects.text_format_proto(body.text)) is not None:
        request.text_format.CopyFrom(text)
    for name in ("temperature", "top_p", "max_output_tokens", "store"):
        if (value := getattr(body, name)) is not None:
            setattr(request, name, value)
    return request


class EventNames:
    """OpenAI's name of each event of one streamed response, and its sequence number."""

    def __init__(self, include: frozenset[str]) -> None:
        self.include = include
        self.sequence = 0
        self.kinds: dict[int, str] = {}  # output index -> item type

    def _event(self, name: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        event = {"type": name, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return name, event

    def render(self, event: pb.StreamResponseResponse) -> list[tuple[str, dict[str, Any]]]:
        kind = event.WhichOneof("event")
        value = getattr(event, kind)
        if kind == "created":
            response = objects.response_json(value, self.include)
            return [
                self._event("response.created", response=response),
                self._event("response.in_progress", response=response),
            ]
        if kind in ("completed", "incomplete", "failed"):
            return [self._event(f"response.{kind}", response=objects.response_json(value, self.include))]
        if kind in ("output_item_added", "output_item_done"):
            self.kinds[value.output_index] = value.item.WhichOneof("item")
            item = objects.item_json(value.item, self.include)
            name = "response.output_item.added" if kind == "output_item_added" else "response.output_item.done"
            return [self._event(name, output_index=value.output_index, item=item)]
        where = {"item_id": value.item_id, "output_index": value.output_index}
        if kind in ("content_part_added", "content_part_done"):
            name = "response.content_part.added" if kind == "content_part_added" else "response.content_part.done"
            part = objects.content_json(value.part)
            return [self._event(name, **where, content_index=value.content_index, part=part)]
        if kind == "output_text_delta":
            fields = {"content_index": value.content_index, "delta": value.delta, "logprobs": []}
            return [self._event("response.output_text.delta", **where, **fields)]
        if kind == "output_text_done":
            fields = {"content_index": value.content_index, "text": value.text, "logprobs": []}
            return [self._event("response.output_text.done", **where, **fields)]
        item_kind = self.kinds.get(value.output_index, "function_call")
        if kind == "arguments_delta":
            prefix = "response.mcp_call_arguments" if item_kind == "mcp_call" else "response.function_call_arguments"
            return [self._event(f"{prefix}.delta", **where, delta=value.delta)]
        if kind == "arguments_done":
            prefix = "response.mcp_call_arguments" if item_kind == "mcp_call" else "response.function_call_arguments"
            return [self._event(f"{prefix}.done", **where, arguments=value.arguments)]
        return [self._event(f"response.{item_kind}.{_STATUS_EVENTS[value.status]}", **where)]


async def _named_events(
    events: AsyncIterator[pb.StreamResponseResponse], names: EventNames
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    async for event in events:
        for named in names.render(event):
            yield named


@router.post("/responses")
async def create_response(body: CreateResponse, mesh: Mesh) -> Any:
    request = create_request(body)
    include = frozenset(body.include or ())  # checked by CreateResponse (objects.shown)
    if body.stream:
        streamed = pb.StreamResponseRequest.FromString(request.SerializeToString())  # same fields, same numbers
        events = await opened(mesh.stream(mesh.client.responses.StreamResponse, streamed, RESPONSE_FIELDS))
        return EventStream(_named_events(events, EventNames(include)), events, done=False)
    response = await mesh.call(mesh.client.responses.CreateResponse, request, RESPONSE_FIELDS)
    if response.status == pb.RESPONSE_STATUS_FAILED:  # as OpenAI answers a failed request: an error (it is stored)
        raise convert.stream_error(response.error)
    return objects.response_json(response, include)


@router.get("/responses/{response_id}")
async def get_response(response_id: str, mesh: Mesh, include: Annotated[list[str] | None, Query()] = None) -> Any:
    shown = objects.shown(include)
    request = pb.GetResponseRequest(response_id=response_id)
    response = await mesh.call(mesh.client.responses.GetResponse, request, RESPONSE_FIELDS)
    return objects.response_json(response, shown)


@router.delete("/responses/{response_id}")
async def delete_response(response_id: str, mesh: Mesh) -> dict[str, Any]:
    request = pb.DeleteResponseRequest(response_id=response_id)
    await mesh.call(mesh.client.responses.DeleteResponse, request, RESPONSE_FIELDS)
    return {"id": response_id, "object": "response", "deleted": True}


ORDERS = {"asc": pb.LIST_ORDER_ASCENDING, "desc": pb.LIST_ORDER_DESCENDING}


@router.get("/responses/{response_id}/input_items")
async def list_input_items(
    response_id: str,
    mesh: Mesh,
    limit: int = 20,
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
    include: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    if not 1 <= limit <= 100:
        raise bad_request("limit", f"must be between 1 and 100, got {limit}")
    shown = objects.shown(include)
    request = pb.ListResponseInputItemsRequest(
        response_id=response_id, page_size=limit, order=ORDERS[order], after=after or ""
    )
    page = await mesh.call(mesh.client.responses.ListResponseInputItems, request, RESPONSE_FIELDS)
    return list_object([objects.item_json(item, shown) for item in page.items], bool(page.next_page_token))
