"""Responses API items and the agent loop's messages and events, both ways: what the model reads of a context of items
(`items_to_messages`), and the response events a running turn's events become (`ResponseEvents`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from google.protobuf import json_format

from llama.agents.v1 import agents_pb2
from llama.agents.v1 import responses_pb2 as pb
from llama.common.v1 import content_pb2, messages_pb2, tools_pb2

FILE_SEARCH_TOOL = "file_search"
WEB_SEARCH_TOOL = "web_search"
TOOL_FAILED_PREFIX = "error: "

_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "file_search_call": "fs",
    "mcp_call": "mcp",
    "mcp_list_tools": "mcpl",
    "web_search_call": "ws",
}
_ROLES = {
    pb.MESSAGE_ROLE_USER: messages_pb2.ROLE_USER,
    pb.MESSAGE_ROLE_ASSISTANT: messages_pb2.ROLE_ASSISTANT,
    pb.MESSAGE_ROLE_SYSTEM: messages_pb2.ROLE_SYSTEM,
    pb.MESSAGE_ROLE_DEVELOPER: messages_pb2.ROLE_SYSTEM,
}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def with_id(item: pb.ResponseItem) -> pb.ResponseItem:
    """The item with an id of its kind when it has none, and a status (COMPLETED) when it has none."""
    if not item.id:
        item.id = new_id(_PREFIXES.get(item.WhichOneof("item") or "", "item"))
    if item.status == pb.ITEM_STATUS_UNSPECIFIED:
        item.status = pb.ITEM_STATUS_COMPLETED
    return item


def file_search_text(results: list[pb.FileSearchResult]) -> str:
    """What the model reads of a file search: each result's text, with its file."""
    if not results:
        return "file_search found nothing."
    parts = [
        f"[{index}] {result.filename or result.file_id}:\n{result.text}" for index, result in enumerate(results, 1)
    ]
    return "file_search results:\n\n" + "\n\n".join(parts)


def _message_content(parts: list[pb.ContentPart]) -> content_pb2.Content:
    if not any(part.HasField("input_image_url") for part in parts):
        return content_pb2.Content(text="".join(_part_text(part) for part in parts))
    items = [
        content_pb2.ContentItem(image=content_pb2.ImageContent(url=part.input_image_url))
        if part.HasField("input_image_url")
        else content_pb2.ContentItem(text=_part_text(part))
        for part in parts
    ]
    return content_pb2.Content(items=content_pb2.ContentItems(items=items))


def _part_text(part: pb.ContentPart) -> str:
    kind = part.WhichOneof("part")
    return getattr(part, kind) if kind in ("input_text", "output_text", "refusal") else ""


def _server_call(item: pb.ResponseItem, position: int) -> tuple[tools_pb2.ToolCall, str] | None:
    """A server tool call item as the model's call and the tool's answer. The call and its answer travel together, so
    an item given back without a call id (OpenAI's shape has none) is paired by its item id, else by its position."""
    kind = item.WhichOneof("item")
    if kind not in ("file_search_call", "mcp_call", "web_search_call"):
        return None
    call_id = getattr(item, kind).call_id or item.id or f"call_{position}"
    if kind == "file_search_call":
        search = item.file_search_call
        arguments = json.dumps({"query": search.queries[0] if search.queries else ""})
        answer = file_search_text(list(search.results))
        return tools_pb2.ToolCall(call_id=call_id, tool_name=FILE_SEARCH_TOOL, arguments=arguments), answer
    if kind == "mcp_call":
        mcp = item.mcp_call
        answer = mcp.output if not mcp.error else f"{TOOL_FAILED_PREFIX}{mcp.error}"
        return tools_pb2.ToolCall(call_id=call_id, tool_name=mcp.name, arguments=mcp.arguments), answer
    web = item.web_search_call
    arguments = json.dumps({"query": web.query})
    return tools_pb2.ToolCall(call_id=call_id, tool_name=WEB_SEARCH_TOOL, arguments=arguments), web.output


def items_to_messages(items: list[pb.ResponseItem]) -> list[messages_pb2.Message]:
    """The model's view of items: messages as they are; consecutive tool calls as one assistant message followed by
    the answers of the server tools; function_call_output items as tool messages. mcp_list_tools are left out."""
    messages: list[messages_pb2.Message] = []
    calls: list[tools_pb2.ToolCall] = []
    answers: list[messages_pb2.Message] = []
    names: dict[str, str] = {}

    def flush() -> None:
        if calls:
            messages.append(messages_pb2.Message(role=messages_pb2.ROLE_ASSISTANT, tool_calls=calls))
            messages.extend(answers)
        calls.clear()
        answers.clear()

    for position, item in enumerate(items):
        kind = item.WhichOneof("item")
        if kind == "function_call":
            call = item.function_call
            names[call.call_id] = call.name
            calls.append(tools_pb2.ToolCall(call_id=call.call_id, tool_name=call.name, arguments=call.arguments))
        elif (server := _server_call(item, position)) is not None:
            call, answer = server
            names[call.call_id] = call.tool_name
            calls.append(call)
            answers.append(tool_answer(call.call_id, call.tool_name, answer))
        elif kind == "function_call_output":
            flush()
            output = item.function_call_output
            messages.append(tool_answer(output.call_id, names.get(output.call_id, ""), output.output))
        elif kind == "message":
            flush()
            role = _ROLES.get(item.message.role, messages_pb2.ROLE_USER)
            messages.append(messages_pb2.Message(role=role, content=_message_content(list(item.message.content))))
    flush()
    return messages


def tool_answer(call_id: str, name: str, text: str) -> messages_pb2.Message:
    return messages_pb2.Message(
        role=messages_pb2.ROLE_TOOL, call_id=call_id, tool_name=name, content=content_pb2.Content(text=text)
    )


def _text(content: content_pb2.Content) -> str:
    if content.HasField("items"):
        return "".join(item.text for item in content.items.items if item.HasField("text"))
    return content.text


Event = pb.StreamResponseResponse


class ResponseEvents:
    """Turns the events of a running turn into the response's events, keeping its output items and usage.

    `kinds` says what each tool is: "function" (the caller's), "file_search", "web_search", or ("mcp", label).
    Text is streamed as the model writes it only when `stream_text` (no tool may be called, no output shield may
    replace it); otherwise a message comes whole once the turn has its answer.
    """

    def __init__(self, kinds: dict[str, Any], stream_text: bool) -> None:
        self.kinds = kinds
        self.stream_text = stream_text
        self.output: list[pb.ResponseItem] = []
        self.usage_prompt = 0
        self.usage_completion = 0
        self._open: int | None = None  # the output index of a message being streamed
        self._pending: dict[str, int] = {}  # call id -> output index of a server call item
        self._answered = False

    # ---- items ----
    def _add(self, item: pb.ResponseItem) -> tuple[int, Event]:
        self.output.append(item)
        index = len(self.output) - 1
        snapshot = pb.ResponseItem()
        snapshot.CopyFrom(item)
        return index, Event(output_item_added=pb.OutputItemEvent(output_index=index, item=snapshot))

    def _done(self, index: int) -> Event:
        item = self.output[index]
        if item.status in (pb.ITEM_STATUS_IN_PROGRESS, pb.ITEM_STATUS_SEARCHING):
            item.status = pb.ITEM_STATUS_COMPLETED
        return Event(output_item_done=pb.OutputItemEvent(output_index=index, item=item))

    def _progress(self, index: int, status: int) -> Event:
        item = self.output[index]
        item.status = status
        return Event(tool_call_progress=pb.ToolCallProgressEvent(item_id=item.id, output_index=index, status=status))

    def listed_tools(self, label: str, tools: list[pb.McpListedTool]) -> Iterator[Event]:
        """An mcp_list_tools item for an MCP server the response uses."""
        item = pb.ResponseItem(
            id=new_id("mcpl"),
            mcp_list_tools=pb.McpListToolsItem(server_label=label),
            status=pb.ITEM_STATUS_IN_PROGRESS,
        )
        index, added = self._add(item)
        yield added
        yield self._progress(index, pb.ITEM_STATUS_IN_PROGRESS)
        self.output[index].mcp_list_tools.tools.extend(tools)
        yield self._progress(index, pb.ITEM_STATUS_COMPLETED)
        yield self._done(index)

    def _open_message(self) -> Iterator[Event]:
        item = pb.ResponseItem(
            id=new_id("msg"),
            message=pb.MessageItem(role=pb.MESSAGE_ROLE_ASSISTANT),
            status=pb.ITEM_STATUS_IN_PROGRESS,
        )
        index, added = self._add(item)
        self._open = index
        yield added
        part = pb.ContentPart(output_text="")
        yield Event(content_part_added=pb.ContentPartEvent(item_id=item.id, output_index=index, part=part))

    def _close_message(self, text: str, refusal: bool = False, cut: bool = False) -> Iterator[Event]:
        """Ends the open message; `cut`: the model ran out of tokens (the item is INCOMPLETE)."""
        assert self._open is not None
        index, self._open = self._open, None
        item = self.output[index]
        if cut:
            item.status = pb.ITEM_STATUS_INCOMPLETE
        part = pb.ContentPart(refusal=text) if refusal else pb.ContentPart(output_text=text)
        if not refusal:
            yield Event(output_text_done=pb.TextDoneEvent(item_id=item.id, output_index=index, text=text))
        item.message.content.append(part)
        yield Event(content_part_done=pb.ContentPartEvent(item_id=item.id, output_index=index, part=part))
        yield self._done(index)

    def _whole_message(self, text: str, refusal: bool = False, cut: bool = False) -> Iterator[Event]:
        if self._open is None:
            yield from self._open_message()
        index = self._open
        assert index is not None
        item_id = self.output[index].id
        if text and not refusal:
            yield Event(output_text_delta=pb.TextDeltaEvent(item_id=item_id, output_index=index, delta=text))
        yield from self._close_message(text, refusal, cut)

    # ---- the turn's events ----
    def on_turn_event(self, event: agents_pb2.CreateTurnResponse) -> Iterator[Event]:
        kind = event.WhichOneof("event")
        if kind == "step_progress":
            delta = event.step_progress.delta
            if self.stream_text and delta.WhichOneof("delta") == "text" and delta.text:
                if self._open is None:
                    yield from self._open_message()
                assert self._open is not None
                item_id = self.output[self._open].id
                yield Event(
                    output_text_delta=pb.TextDeltaEvent(item_id=item_id, output_index=self._open, delta=delta.text)
                )
        elif kind == "step_complete":
            step = event.step_complete.step
            if step.HasField("inference"):
                yield from self._on_model_response(step.inference)
            elif step.HasField("tool_execution"):
                for answer in step.tool_execution.tool_responses:
                    yield from self._on_tool_answer(answer)
        elif kind in ("turn_complete", "turn_awaiting_input"):
            turn = getattr(event, kind).turn
            yield from self._on_answer(turn)

    def _on_model_response(self, step: agents_pb2.InferenceStep) -> Iterator[Event]:
        self.usage_prompt += step.usage.prompt_tokens
        self.usage_completion += step.usage.completion_tokens
        message = step.model_response
        if self._open is not None:
            self._answered = not message.tool_calls
            cut = message.stop_reason == messages_pb2.STOP_REASON_OUT_OF_TOKENS
            yield from self._close_message(_text(message.content), cut=cut)
        for call in message.tool_calls:
            yield from self._on_call(call)

    def _on_call(self, call: tools_pb2.ToolCall) -> Iterator[Event]:
        kind = self.kinds.get(call.tool_name, "function")
        if kind == "function":
            item = pb.ResponseItem(
                id=new_id("fc"),
                function_call=pb.FunctionCallItem(call_id=call.call_id, name=call.tool_name),
                status=pb.ITEM_STATUS_IN_PROGRESS,
            )
            index, added = self._add(item)
            yield added
            yield from self._arguments(index, call.arguments)
            self.output[index].function_call.arguments = call.arguments
            yield self._done(index)
            return
        try:
            arguments = json.loads(call.arguments or "{}")
        except json.JSONDecodeError:
            arguments = {}
        query = str(arguments.get("query", "")) if isinstance(arguments, dict) else ""
        if kind == FILE_SEARCH_TOOL:
            item = pb.ResponseItem(
                id=new_id("fs"), file_search_call=pb.FileSearchCallItem(queries=[query], call_id=call.call_id)
            )
        elif kind == WEB_SEARCH_TOOL:
            item = pb.ResponseItem(
                id=new_id("ws"), web_search_call=pb.WebSearchCallItem(query=query, call_id=call.call_id)
            )
        else:
            label = kind[1]
            mcp = pb.McpCallItem(server_label=label, name=call.tool_name, call_id=call.call_id)
            item = pb.ResponseItem(id=new_id("mcp"), mcp_call=mcp)
        item.status = pb.ITEM_STATUS_IN_PROGRESS
        index, added = self._add(item)
        self._pending[call.call_id] = index
        yield added
        yield self._progress(index, pb.ITEM_STATUS_IN_PROGRESS)
        if item.HasField("mcp_call"):
            yield from self._arguments(index, call.arguments)
            self.output[index].mcp_call.arguments = call.arguments
        else:
            yield self._progress(index, pb.ITEM_STATUS_SEARCHING)

    def _arguments(self, index: int, arguments: str) -> Iterator[Event]:
        item_id = self.output[index].id
        yield Event(arguments_delta=pb.ArgumentsDeltaEvent(item_id=item_id, output_index=index, delta=arguments))
        yield Event(arguments_done=pb.ArgumentsDoneEvent(item_id=item_id, output_index=index, arguments=arguments))

    def _on_tool_answer(self, answer: agents_pb2.ToolResponse) -> Iterator[Event]:
        index = self._pending.pop(answer.call_id, None)
        if index is None:
            return
        item = self.output[index]
        text = _text(answer.content)
        failed = text.startswith(TOOL_FAILED_PREFIX)
        kind = item.WhichOneof("item")
        if kind == "file_search_call":
            results = json_format.MessageToDict(answer.metadata).get("results", [])
            for result in results:
                json_format.ParseDict(result, item.file_search_call.results.add(), ignore_unknown_fields=True)
        elif kind == "web_search_call":
            item.web_search_call.output = text
        elif failed:
            item.mcp_call.error = text.removeprefix(TOOL_FAILED_PREFIX)
        else:
            item.mcp_call.output = text
        status = pb.ITEM_STATUS_FAILED if failed and kind == "mcp_call" else pb.ITEM_STATUS_COMPLETED
        yield self._progress(index, status)
        yield self._done(index)

    def _on_answer(self, turn: agents_pb2.Turn) -> Iterator[Event]:
        if self._answered:
            return
        refused = turn.end_reason == agents_pb2.TURN_END_REASON_SHIELD_VIOLATION
        message = turn.output_message
        cut = turn.end_reason == agents_pb2.TURN_END_REASON_OUT_OF_TOKENS
        if refused or not message.tool_calls:
            yield from self._whole_message(_text(message.content), refusal=refused, cut=cut)
