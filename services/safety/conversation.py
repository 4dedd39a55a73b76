"""Validate RunShield requests and turn their messages into plain turns; every problem names the field at fault."""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2

from llama.common.v1 import content_pb2, messages_pb2
from llama.safety.v1 import safety_pb2
from llama_mesh.runtime.errors import InvalidArgument
from llama_mesh.runtime.struct_values import struct_dict
from services.safety.provider import Turn

MAX_MESSAGES = 1000
_ROLES = {
    messages_pb2.ROLE_SYSTEM: "system",
    messages_pb2.ROLE_USER: "user",
    messages_pb2.ROLE_ASSISTANT: "assistant",
    messages_pb2.ROLE_TOOL: "tool",
}


def content_text(content: content_pb2.Content) -> str:
    """The text of a message content; image items carry no text for these shields and are left out."""
    kind = content.WhichOneof("value")
    if kind == "text":
        return content.text
    if kind == "items":
        return "".join(item.text for item in content.items.items if item.WhichOneof("item") == "text")
    return ""


def parse_turns(request: safety_pb2.RunShieldRequest) -> list[Turn]:
    if not request.shield_id:
        raise InvalidArgument("shield_id", "is required")
    if not request.messages:
        raise InvalidArgument("messages", "at least one message is required")
    if len(request.messages) > MAX_MESSAGES:
        raise InvalidArgument("messages", f"at most {MAX_MESSAGES} messages per call, got {len(request.messages)}")
    turns: list[Turn] = []
    for index, message in enumerate(request.messages):
        role = _ROLES.get(message.role)
        if role is None:
            raise InvalidArgument(
                f"messages[{index}].role", f"must be one of system, user, assistant, tool; got {message.role}"
            )
        turns.append(Turn(role=role, text=content_text(message.content)))
    return turns


def merged_params(registered: struct_pb2.Struct, per_call: struct_pb2.Struct) -> dict[str, Any]:
    """The shield's registered params with the call's params over them."""
    return {**struct_dict(registered, "shield.params"), **struct_dict(per_call, "params")}
