"""OpenAI's Responses and Conversations objects and the agents service's protos (llama.agents.v1 responses.proto),
both ways: input items, tools, tool_choice and text.format in; responses, items, conversations and stream events out.
Shared by routes/responses.py and routes/conversations.py."""

from __future__ import annotations

import functools
import operator
from typing import Annotated, Any, Literal, get_args

from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from llama.agents.v1 import responses_pb2 as pb
from llama.common.v1 import tools_pb2
from services.openai_edge.convert import struct
from services.openai_edge.errors import bad_request
from services.openai_edge.metadata import Attributes
from services.openai_edge.routes.vector_stores import Comparison, Compound, equality_filter

MAX_ITEMS = 2048
MAX_NAME = 256
RESULTS_INCLUDE = "file_search_call.results"
MAX_INCLUDE = 16
INCLUDABLE = frozenset(
    {
        RESULTS_INCLUDE,
        "message.output_text.logprobs",
        "message.input_image.image_url",
        "web_search_call.action.sources",
        "web_search_call.results",
        "reasoning.encrypted_content",
    }
)


def shown(include: list[str] | None) -> frozenset[str]:
    """What a request's `include` (a create's body, or a query parameter of a read) adds to the objects it answers:
    at most MAX_INCLUDE entries, each one of INCLUDABLE, else a 400 naming `include`."""
    if not include:
        return frozenset()
    if len(include) > MAX_INCLUDE:
        raise bad_request("include", f"at most {MAX_INCLUDE} entries, got {len(include)}")
    unknown = sorted(set(include) - INCLUDABLE)
    if unknown:
        raise bad_request("include", f"{unknown[0][:64]!r} is not one of {sorted(INCLUDABLE)}")
    return frozenset(include)


_ROLES = {
    "user": pb.MESSAGE_ROLE_USER,
    "assistant": pb.MESSAGE_ROLE_ASSISTANT,
    "system": pb.MESSAGE_ROLE_SYSTEM,
    "developer": pb.MESSAGE_ROLE_DEVELOPER,
}
_ROLE_NAMES = {number: name for name, number in _ROLES.items()}
_STATUS = {
    pb.ITEM_STATUS_IN_PROGRESS: "in_progress",
    pb.ITEM_STATUS_SEARCHING: "searching",
    pb.ITEM_STATUS_COMPLETED: "completed",
    pb.ITEM_STATUS_INCOMPLETE: "incomplete",
    pb.ITEM_STATUS_FAILED: "failed",
}
_RESPONSE_STATUS = {
    pb.RESPONSE_STATUS_IN_PROGRESS: "in_progress",
    pb.RESPONSE_STATUS_COMPLETED: "completed",
    pb.RESPONSE_STATUS_INCOMPLETE: "incomplete",
    pb.RESPONSE_STATUS_FAILED: "failed",
}
_MODES = {
    "auto": tools_pb2.TOOL_CHOICE_MODE_AUTO,
    "required": tools_pb2.TOOL_CHOICE_MODE_REQUIRED,
    "none": tools_pb2.TOOL_CHOICE_MODE_NONE,
}
_MODE_NAMES = {number: name for name, number in _MODES.items()}
_FORMATS = {
    "text": pb.TEXT_FORMAT_TYPE_TEXT,
    "json_object": pb.TEXT_FORMAT_TYPE_JSON_OBJECT,
    "json_schema": pb.TEXT_FORMAT_TYPE_JSON_SCHEMA,
}
WEB_SEARCH_TYPES = ("web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11")


class _Lenient(BaseModel):
    """Items echoed back from earlier output carry fields (status, annotations, logprobs) the edge need not read."""

    model_config = ConfigDict(extra="ignore")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def tagged(*models: type[BaseModel]) -> Any:
    """A union of models told apart by their `type`, tagged with the model's name: errors then name the parameter
    (`input[0].role`) without the tag (see errors.validation_param, which leaves capitalised parts out)."""
    tags = {kind: model.__name__ for model in models for kind in get_args(model.model_fields["type"].annotation)}

    def tag(value: Any) -> str | None:
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        return tags.get(kind) if isinstance(kind, str) else None

    members = [Annotated[model, Tag(model.__name__)] for model in models]
    return Annotated[functools.reduce(operator.or_, members), Discriminator(tag)]


# ---------- input items ----------
class InputText(_Lenient):
    type: Literal["input_text", "output_text", "text"]
    text: str


class InputImage(_Lenient):
    type: Literal["input_image"]
    image_url: str = Field(min_length=1)


class Refusal(_Lenient):
    type: Literal["refusal"]
    refusal: str


Part = tagged(InputText, InputImage, Refusal)


class MessageInput(_Lenient):
    type: Literal["message"] = "message"
    id: str | None = Field(default=None, max_length=MAX_NAME)
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[Part]


class FunctionCallInput(_Lenient):
    type: Literal["function_call"]
    id: str | None = Field(default=None, max_length=MAX_NAME)
    call_id: str = Field(min_length=1, max_length=MAX_NAME)
    name: str = Field(min_length=1, max_length=64)
    arguments: str


class FunctionCallOutputInput(_Lenient):
    type: Literal["function_call_output"]
    id: str | None = Field(default=None, max_length=MAX_NAME)
    call_id: str = Field(min_length=1, max_length=MAX_NAME)
    output: str | list[InputText]


class FileSearchResultInput(_Lenient):
    file_id: str | None = None
    filename: str | None = None
    score: float | None = None
    text: str | None = None
    attributes: Attributes | None = None


class FileSearchCallInput(_Lenient):
    type: Literal["file_search_call"]
    id: str = Field(min_length=1, max_length=MAX_NAME)
    queries: list[str] = Field(default_factory=list)
    results: list[FileSearchResultInput] | None = None


class McpCallInput(_Lenient):
    type: Literal["mcp_call"]
    id: str = Field(min_length=1, max_length=MAX_NAME)
    server_label: str
    name: str
    arguments: str
    output: str | None = None
    error: str | None = None


class McpListToolsInput(_Lenient):
    type: Literal["mcp_list_tools"]
    id: str = Field(min_length=1, max_length=MAX_NAME)
    server_label: str


class WebSearchCallInput(_Lenient):
    type: Literal["web_search_call"]
    id: str = Field(min_length=1, max_length=MAX_NAME)
    action: dict[str, Any] | None = None


InputItem = tagged(
    MessageInput,
    FunctionCallInput,
    FunctionCallOutputInput,
    FileSearchCallInput,
    McpCallInput,
    McpListToolsInput,
    WebSearchCallInput,
)


def with_message_type(items: Any) -> Any:
    """OpenAI's easy input messages (`{"role", "content"}`) have no `type`: they are messages; a string is one user
    message."""
    if isinstance(items, str):
        return [{"type": "message", "role": "user", "content": items}]
    if isinstance(items, list):
        return [
            {**item, "type": "message"} if isinstance(item, dict) and "type" not in item and "role" in item else item
            for item in items
        ]
    return items


def _part(part: Any, role: str) -> pb.ContentPart:
    if isinstance(part, InputImage):
        return pb.ContentPart(input_image_url=part.image_url)
    if isinstance(part, Refusal):
        return pb.ContentPart(refusal=part.refusal)
    return pb.ContentPart(output_text=part.text) if role == "assistant" else pb.ContentPart(input_text=part.text)


def item_proto(item: Any) -> pb.ResponseItem:
    """One validated input item as the agents service's item (one for one, so `input[i]` names the same item). A
    server tool call given back (file_search_call, mcp_call, web_search_call) has no call id in OpenAI's shape: the
    agents service pairs the call with its answer by the item id."""
    result = pb.ResponseItem(id=getattr(item, "id", None) or "")
    if isinstance(item, MessageInput):
        parts = [InputText(type="input_text", text=item.content)] if isinstance(item.content, str) else item.content
        result.message.role = _ROLES[item.role]
        result.message.content.extend(_part(part, item.role) for part in parts)
    elif isinstance(item, FunctionCallInput):
        result.function_call.CopyFrom(
            pb.FunctionCallItem(call_id=item.call_id, name=item.name, arguments=item.arguments)
        )
    elif isinstance(item, FunctionCallOutputInput):
        output = item.output if isinstance(item.output, str) else "".join(part.text for part in item.output)
        result.function_call_output.CopyFrom(pb.FunctionCallOutputItem(call_id=item.call_id, output=output))
    elif isinstance(item, FileSearchCallInput):
        call = result.file_search_call
        call.queries.extend(item.queries)
        for found in item.results or ():
            added = call.results.add(
                file_id=found.file_id or "",
                filename=found.filename or "",
                score=found.score or 0,
                text=found.text or "",
            )
            added.attributes.update(found.attributes or {})
    elif isinstance(item, McpCallInput):
        result.mcp_call.CopyFrom(
            pb.McpCallItem(
                server_label=item.server_label,
                name=item.name,
                arguments=item.arguments,
                output=item.output or "",
                error=item.error or "",
            )
        )
    elif isinstance(item, McpListToolsInput):
        result.mcp_list_tools.server_label = item.server_label
    elif isinstance(item, WebSearchCallInput):
        result.web_search_call.query = str((item.action or {}).get("query") or "")
    return result


def input_items(value: str | list[Any] | None) -> list[pb.ResponseItem]:
    if value is None:
        return []
    if isinstance(value, str):
        return [
            pb.ResponseItem(
                message=pb.MessageItem(role=pb.MESSAGE_ROLE_USER, content=[pb.ContentPart(input_text=value)])
            )
        ]
    return [item_proto(item) for item in value]


# ---------- tools ----------
class FunctionToolParam(_Strict):
    type: Literal["function"]
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FileSearchToolParam(_Strict):
    type: Literal["file_search"]
    vector_store_ids: list[str] = Field(min_length=1, max_length=16)
    max_num_results: int | None = Field(default=None, ge=1, le=50)
    filters: Comparison | Compound | None = None
    ranking_options: dict[str, Any] | None = None


class AllowedTools(_Strict):
    tool_names: list[str] | None = Field(default=None, max_length=128)
    read_only: bool | None = None


class McpToolParam(_Strict):
    type: Literal["mcp"]
    server_label: str = Field(min_length=1, max_length=MAX_NAME)
    server_url: str | None = Field(default=None, min_length=1, max_length=2048)
    server_description: str | None = None
    allowed_tools: list[str] | AllowedTools | None = None
    require_approval: Literal["never", "always"] | dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    authorization: str | None = None
    connector_id: str | None = None


class WebSearchToolParam(_Strict):
    type: Literal["web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11"]
    search_context_size: Literal["low", "medium", "high"] | None = None
    user_location: dict[str, Any] | None = None
    filters: dict[str, Any] | None = None


ToolParam = tagged(FunctionToolParam, FileSearchToolParam, McpToolParam, WebSearchToolParam)


def tool_proto(tool: Any, param: str) -> pb.ResponseTool:
    if isinstance(tool, FunctionToolParam):
        parameters = struct(tool.parameters or {"type": "object", "properties": {}})
        function = pb.FunctionTool(
            name=tool.name, description=tool.description or "", parameters=parameters, strict=bool(tool.strict)
        )
        return pb.ResponseTool(function=function)
    if isinstance(tool, FileSearchToolParam):
        search = pb.FileSearchTool(vector_store_ids=tool.vector_store_ids)
        if tool.max_num_results is not None:
            search.max_num_results = tool.max_num_results
        if tool.filters is not None:
            search.filters.CopyFrom(struct(equality_filter(tool.filters, f"{param}.filters")))
        return pb.ResponseTool(file_search=search)
    if isinstance(tool, McpToolParam):
        for name in ("headers", "authorization", "connector_id"):
            if getattr(tool, name):
                raise bad_request(f"{param}.{name}", "is not supported: register the MCP server as a tool group")
        if tool.require_approval not in (None, "never"):
            raise bad_request(f"{param}.require_approval", "only 'never' is supported (tools run without approval)")
        allowed = tool.allowed_tools.tool_names if isinstance(tool.allowed_tools, AllowedTools) else tool.allowed_tools
        mcp = pb.McpTool(server_label=tool.server_label, server_url=tool.server_url or "", allowed_tools=allowed or [])
        return pb.ResponseTool(mcp=mcp)
    return pb.ResponseTool(web_search=pb.WebSearchTool())


class FunctionChoice(_Strict):
    type: Literal["function"]
    name: str = Field(min_length=1, max_length=64)


class BuiltinChoice(_Strict):
    type: Literal["file_search", "web_search", "web_search_preview", "web_search_2025_08_26"]


class McpChoice(_Strict):
    type: Literal["mcp"]
    server_label: str = Field(min_length=1, max_length=MAX_NAME)
    name: str | None = Field(default=None, max_length=MAX_NAME)


ToolChoiceParam = (
    Literal["none", "auto", "required"]
    | Annotated[FunctionChoice | BuiltinChoice | McpChoice, Field(discriminator="type")]
)


def tool_choice_proto(choice: Any) -> pb.ResponseToolChoice | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        return pb.ResponseToolChoice(mode=_MODES[choice])
    if isinstance(choice, FunctionChoice):
        return pb.ResponseToolChoice(function_name=choice.name)
    if isinstance(choice, McpChoice):
        return pb.ResponseToolChoice(mcp=pb.McpToolChoice(server_label=choice.server_label, name=choice.name or ""))
    builtin = pb.BUILTIN_TOOL_TYPE_FILE_SEARCH if choice.type == "file_search" else pb.BUILTIN_TOOL_TYPE_WEB_SEARCH
    return pb.ResponseToolChoice(builtin=builtin)


class TextFormatParam(_Strict):
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = Field(default=None, min_length=1, max_length=64)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None
    description: str | None = None


class TextParam(_Strict):
    format: TextFormatParam | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


def text_format_proto(text: TextParam | None) -> pb.TextFormat | None:
    if text is None or text.format is None:
        return None
    chosen = text.format
    if chosen.type == "json_schema" and (chosen.schema_ is None or not chosen.name):
        raise bad_request("text.format", "type json_schema needs name and schema")
    result = pb.TextFormat(type=_FORMATS[chosen.type], name=chosen.name or "", strict=bool(chosen.strict))
    result.description = chosen.description or ""
    if chosen.schema_ is not None:
        result.schema.CopyFrom(struct(chosen.schema_))
    return result


# ---------- out ----------
def _dict(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def content_json(part: pb.ContentPart) -> dict[str, Any]:
    kind = part.WhichOneof("part")
    if kind == "output_text":
        annotations = [
            {"type": "file_citation", "file_id": note.file_id, "filename": note.filename, "index": note.index}
            for note in part.annotations
        ]
        return {"type": "output_text", "text": part.output_text, "annotations": annotations, "logprobs": []}
    if kind == "refusal":
        return {"type": "refusal", "refusal": part.refusal}
    if kind == "input_image_url":
        return {"type": "input_image", "image_url": part.input_image_url, "detail": "auto", "file_id": None}
    return {"type": "input_text", "text": part.input_text}


def item_json(item: pb.ResponseItem, include: frozenset[str] = frozenset()) -> dict[str, Any]:
    status = _STATUS.get(item.status, "completed")
    kind = item.WhichOneof("item")
    base: dict[str, Any] = {"id": item.id, "type": kind}
    if kind == "message":
        return base | {
            "role": _ROLE_NAMES.get(item.message.role, "user"),
            "status": status,
            "content": [content_json(part) for part in item.message.content],
        }
    if kind == "function_call":
        call = item.function_call
        return base | {"call_id": call.call_id, "name": call.name, "arguments": call.arguments, "status": status}
    if kind == "function_call_output":
        answer = item.function_call_output
        return base | {"call_id": answer.call_id, "output": answer.output, "status": status}
    if kind == "file_search_call":
        search = item.file_search_call
        results = [
            {
                "file_id": found.file_id,
                "filename": found.filename,
                "score": found.score,
                "text": found.text,
                "attributes": _dict(found.attributes),
            }
            for found in search.results
        ]
        shown = results if RESULTS_INCLUDE in include else None
        return base | {"queries": list(search.queries), "status": status, "results": shown}
    if kind == "mcp_call":
        call = item.mcp_call
        return base | {
            "server_label": call.server_label,
            "name": call.name,
            "arguments": call.arguments,
            "output": call.output or None,
            "error": call.error or None,
            "status": status,
        }
    if kind == "mcp_list_tools":
        listed = item.mcp_list_tools
        tools = [
            {
                "name": tool.name,
                "description": tool.description,
                "input_schema": _dict(tool.input_schema),
                "annotations": None,
            }
            for tool in listed.tools
        ]
        return base | {"server_label": listed.server_label, "tools": tools, "error": None}
    search = item.web_search_call
    return base | {"status": status, "action": {"type": "search", "query": search.query}}


def _tool_json(tool: pb.ResponseTool) -> dict[str, Any]:
    kind = tool.WhichOneof("tool")
    if kind == "function":
        function = tool.function
        return {
            "type": "function",
            "name": function.name,
            "description": function.description or None,
            "parameters": _dict(function.parameters),
            "strict": function.strict,
        }
    if kind == "file_search":
        search = tool.file_search
        filters = _dict(search.filters)
        return {
            "type": "file_search",
            "vector_store_ids": list(search.vector_store_ids),
            "max_num_results": search.max_num_results if search.HasField("max_num_results") else None,
            "filters": {"type": "and", "filters": [{"type": "eq", "key": k, "value": v} for k, v in filters.items()]}
            if filters
            else None,
        }
    if kind == "mcp":
        mcp = tool.mcp
        return {
            "type": "mcp",
            "server_label": mcp.server_label,
            "server_url": mcp.server_url or None,
            "allowed_tools": list(mcp.allowed_tools) or None,
            "require_approval": "never",
        }
    return {"type": "web_search"}


def _tool_choice_json(choice: pb.ResponseToolChoice) -> Any:
    kind = choice.WhichOneof("choice")
    if kind == "function_name":
        return {"type": "function", "name": choice.function_name}
    if kind == "builtin":
        return {"type": "file_search" if choice.builtin == pb.BUILTIN_TOOL_TYPE_FILE_SEARCH else "web_search"}
    if kind == "mcp":
        return {"type": "mcp", "server_label": choice.mcp.server_label, "name": choice.mcp.name or None}
    return _MODE_NAMES.get(choice.mode, "auto") if kind == "mode" else "auto"


def _text_json(text: pb.TextFormat) -> dict[str, Any]:
    if text.type == pb.TEXT_FORMAT_TYPE_JSON_SCHEMA:
        chosen: dict[str, Any] = {
            "type": "json_schema",
            "name": text.name,
            "schema": _dict(text.schema),
            "strict": text.strict,
            "description": text.description or None,
        }
    else:
        chosen = {"type": "json_object" if text.type == pb.TEXT_FORMAT_TYPE_JSON_OBJECT else "text"}
    return {"format": chosen}


def _seconds(stamp: Any) -> int:
    return int(stamp.seconds)


def response_json(response: pb.Response, include: frozenset[str] = frozenset()) -> dict[str, Any]:
    usage = None
    if response.HasField("usage"):
        usage = {
            "input_tokens": response.usage.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": response.usage.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": response.usage.total_tokens,
        }
    error = None
    if response.status == pb.RESPONSE_STATUS_FAILED:
        reason = response.error.reason.lower() or "server_error"
        error = {"code": "server_error", "message": f"{response.error.message} ({reason})"}
    return {
        "id": response.id,
        "object": "response",
        "created_at": _seconds(response.create_time),
        "completed_at": _seconds(response.complete_time) if response.HasField("complete_time") else None,
        "status": _RESPONSE_STATUS.get(response.status, "in_progress"),
        "error": error,
        "incomplete_details": {"reason": response.incomplete_reason} if response.incomplete_reason else None,
        "instructions": response.instructions or None,
        "metadata": dict(response.metadata),
        "model": response.model,
        "output": [item_json(item, include) for item in response.output],
        "parallel_tool_calls": True,
        "temperature": response.temperature if response.HasField("temperature") else None,
        "top_p": response.top_p if response.HasField("top_p") else None,
        "max_output_tokens": response.max_output_tokens if response.HasField("max_output_tokens") else None,
        "tool_choice": _tool_choice_json(response.tool_choice),
        "tools": [_tool_json(tool) for tool in response.tools],
        "text": _text_json(response.text_format),
        "previous_response_id": response.previous_response_id or None,
        "conversation": {"id": response.conversation_id} if response.conversation_id else None,
        "store": response.store,
        "background": False,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
    }


def conversation_json(conversation: pb.Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "object": "conversation",
        "created_at": _seconds(conversation.create_time),
        "metadata": dict(conversation.metadata),
    }


# The agents service's request fields, as OpenAI's parameters (for naming the parameter of an error).
RESPONSE_FIELDS = {
    "model_id": "model",
    "model": "model",
    "input": "input",
    "tools": "tools",
    "tool_choice": "tool_choice",
    "text_format": "text.format",
    "conversation_id": "conversation",
    "previous_response_id": "previous_response_id",
    "response_id": "response_id",
}
