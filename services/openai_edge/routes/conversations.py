"""/v1/conversations on the agents service's ConversationsService: create, retrieve, update (metadata), delete, and
the conversation's items (list, add, retrieve, delete).

Caps: items at most 2048 per call (the agents service keeps at most 10000 per conversation), metadata and a file
search result's attributes as OpenAI caps them (metadata.py), list `limit` 1..100, `include` as a response's
(response_objects.shown).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from llama.agents.v1 import responses_pb2 as pb
from services.openai_edge import response_objects as objects
from services.openai_edge.calls import Mesh
from services.openai_edge.errors import bad_request
from services.openai_edge.json_body import JSONBodyRoute
from services.openai_edge.listing import list_object
from services.openai_edge.metadata import Metadata
from services.openai_edge.response_objects import RESPONSE_FIELDS, InputItem
from services.openai_edge.routes.responses import ORDERS

router = APIRouter(route_class=JSONBodyRoute)

Items = Annotated[list[InputItem], BeforeValidator(objects.with_message_type), Field(max_length=objects.MAX_ITEMS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateConversation(_Strict):
    items: Items | None = None
    metadata: Metadata | None = None


class UpdateConversation(_Strict):
    metadata: Metadata


class AddItems(_Strict):
    items: Items = Field(min_length=1)


@router.post("/conversations")
async def create_conversation(body: CreateConversation, mesh: Mesh) -> dict[str, Any]:
    request = pb.CreateConversationRequest(items=objects.input_items(body.items), metadata=body.metadata or {})
    return objects.conversation_json(
        await mesh.call(mesh.client.conversations.CreateConversation, request, RESPONSE_FIELDS)
    )


@router.get("/conversations/{conversation_id}")
async def get_conversation(conversation_id: str, mesh: Mesh) -> dict[str, Any]:
    request = pb.GetConversationRequest(conversation_id=conversation_id)
    return objects.conversation_json(await mesh.call(mesh.client.conversations.GetConversation, request))


@router.post("/conversations/{conversation_id}")
async def update_conversation(conversation_id: str, body: UpdateConversation, mesh: Mesh) -> dict[str, Any]:
    request = pb.UpdateConversationRequest(conversation_id=conversation_id, metadata=body.metadata)
    return objects.conversation_json(await mesh.call(mesh.client.conversations.UpdateConversation, request))


@router.delete("/conversations/{conversation_id}")
async def delete_conversation(conversation_id: str, mesh: Mesh) -> dict[str, Any]:
    request = pb.DeleteConversationRequest(conversation_id=conversation_id)
    await mesh.call(mesh.client.conversations.DeleteConversation, request)
    return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}


Include = Annotated[list[str] | None, Query()]


@router.get("/conversations/{conversation_id}/items")
async def list_items(
    conversation_id: str,
    mesh: Mesh,
    limit: int = 20,
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
    include: Include = None,
) -> dict[str, Any]:
    if not 1 <= limit <= 100:
        raise bad_request("limit", f"must be between 1 and 100, got {limit}")
    shown = objects.shown(include)
    request = pb.ListConversationItemsRequest(
        conversation_id=conversation_id, page_size=limit, order=ORDERS[order], after=after or ""
    )
    page = await mesh.call(mesh.client.conversations.ListConversationItems, request)
    return list_object([objects.item_json(item, shown) for item in page.items], bool(page.next_page_token))


@router.post("/conversations/{conversation_id}/items")
async def add_items(conversation_id: str, body: AddItems, mesh: Mesh, include: Include = None) -> dict[str, Any]:
    shown = objects.shown(include)  # before the items are added: a refused call adds nothing
    request = pb.AddConversationItemsRequest(conversation_id=conversation_id, items=objects.input_items(body.items))
    added = await mesh.call(mesh.client.conversations.AddConversationItems, request)
    return list_object([objects.item_json(item, shown) for item in added.items], False)


@router.get("/conversations/{conversation_id}/items/{item_id}")
async def get_item(conversation_id: str, item_id: str, mesh: Mesh, include: Include = None) -> dict[str, Any]:
    shown = objects.shown(include)
    request = pb.GetConversationItemRequest(conversation_id=conversation_id, item_id=item_id)
    item = await mesh.call(mesh.client.conversations.GetConversationItem, request)
    return objects.item_json(item, shown)


@router.delete("/conversations/{conversation_id}/items/{item_id}")
async def delete_item(conversation_id: str, item_id: str, mesh: Mesh) -> dict[str, Any]:
    request = pb.DeleteConversationItemRequest(conversation_id=conversation_id, item_id=item_id)
    return objects.conversation_json(await mesh.call(mesh.client.conversations.DeleteConversationItem, request))
