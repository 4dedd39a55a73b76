"""What the model reads: the agent's instructions, the session's earlier turns and the current turn, as messages."""

from __future__ import annotations

import base64
import binascii
import urllib.parse

from llama.agents.v1 import agents_pb2 as pb
from llama.common.v1 import content_pb2, messages_pb2
from llama_mesh.runtime.errors import InvalidArgument


def text_of(content: content_pb2.Content) -> str:
    if content.HasField("items"):
        return "\n".join(item.text for item in content.items.items if item.HasField("text"))
    return content.text


def text_message(role: int, text: str) -> messages_pb2.Message:
    return messages_pb2.Message(role=role, content=content_pb2.Content(text=text))


def tool_message(response: pb.ToolResponse) -> messages_pb2.Message:
    return messages_pb2.Message(
        role=messages_pb2.ROLE_TOOL, call_id=response.call_id, tool_name=response.tool_name, content=response.content
    )


def document_text(document: pb.Document, field_name: str) -> str:
    """The text of a document given inline or as a data: URL (documents by other URIs need the RAG tool group)."""
    if document.HasField("content"):
        return text_of(document.content)
    uri = document.uri
    if not uri.startswith("data:"):
        raise InvalidArgument(
            field_name,
            f"{uri[:80]!r}: documents given by URI are read by the builtin::rag tool group; give the agent that "
            "group, or attach the document's content",
        )
    header, _, data = uri[5:].partition(",")
    try:
        encoded = header.endswith(";base64")
        raw = base64.b64decode(data, validate=True) if encoded else urllib.parse.unquote_to_bytes(data)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidArgument(field_name, f"is not a readable text data: URL ({exc})") from exc


def with_context(messages: list[messages_pb2.Message], context: str) -> list[messages_pb2.Message]:
    """The messages with `context` appended to the last user message."""
    if not context:
        return messages
    result = [messages_pb2.Message() for _ in messages]
    for copy, message in zip(result, messages, strict=True):
        copy.CopyFrom(message)
    for message in reversed(result):
        if message.role == messages_pb2.ROLE_USER:
            message.content.CopyFrom(content_pb2.Content(text=f"{text_of(message.content)}\n\n{context}"))
            break
    return result


def turn_context(turn: pb.Turn) -> str:
    """Context the turn gives the model besides its messages: retrieved passages, or attached documents' text."""
    for step in turn.steps:
        if step.HasField("memory_retrieval"):
            return text_of(step.memory_retrieval.inserted_context)
    texts = [document_text(document, f"documents[{index}]") for index, document in enumerate(turn.documents)]
    if not texts:
        return ""
    return "Attached documents:\n" + "\n\n".join(f"--- document {i + 1} ---\n{text}" for i, text in enumerate(texts))


def turn_messages(turn: pb.Turn) -> list[messages_pb2.Message]:
    """The turn as the model sees it: its input (with context), each model response and each tool result."""
    messages = with_context(list(turn.input_messages), turn_context(turn))
    for step in turn.steps:
        if step.HasField("inference"):
            messages.append(step.inference.model_response)
        elif step.HasField("tool_execution"):
            messages.extend(tool_message(response) for response in step.tool_execution.tool_responses)
    if turn.end_reason == pb.TURN_END_REASON_SHIELD_VIOLATION and turn.HasField("output_message"):
        messages.append(turn.output_message)
    return messages


def conversation(
    instructions: str,
    earlier_turns: list[pb.Turn],
    turn: pb.Turn,
    history: list[messages_pb2.Message] | None = None,
) -> list[messages_pb2.Message]:
    """System prompt, then `history` (messages of a context given otherwise), the finished turns of the session,
    then the current one."""
    messages = [text_message(messages_pb2.ROLE_SYSTEM, instructions)] if instructions else []
    messages.extend(history or [])
    for earlier in earlier_turns:
        if earlier.status == pb.TURN_STATUS_COMPLETED:
            messages.extend(turn_messages(earlier))
    messages.extend(turn_messages(turn))
    return messages
