from llama.common.v1 import content_pb2 as _content_pb2
from llama.common.v1 import tools_pb2 as _tools_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_SYSTEM: _ClassVar[Role]
    ROLE_USER: _ClassVar[Role]
    ROLE_ASSISTANT: _ClassVar[Role]
    ROLE_TOOL: _ClassVar[Role]

class StopReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STOP_REASON_UNSPECIFIED: _ClassVar[StopReason]
    STOP_REASON_END_OF_TURN: _ClassVar[StopReason]
    STOP_REASON_END_OF_MESSAGE: _ClassVar[StopReason]
    STOP_REASON_OUT_OF_TOKENS: _ClassVar[StopReason]
ROLE_UNSPECIFIED: Role
ROLE_SYSTEM: Role
ROLE_USER: Role
ROLE_ASSISTANT: Role
ROLE_TOOL: Role
STOP_REASON_UNSPECIFIED: StopReason
STOP_REASON_END_OF_TURN: StopReason
STOP_REASON_END_OF_MESSAGE: StopReason
STOP_REASON_OUT_OF_TOKENS: StopReason

class Message(_message.Message):
    __slots__ = ("role", "content", "tool_calls", "call_id", "tool_name", "stop_reason")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    role: Role
    content: _content_pb2.Content
    tool_calls: _containers.RepeatedCompositeFieldContainer[_tools_pb2.ToolCall]
    call_id: str
    tool_name: str
    stop_reason: StopReason
    def __init__(self, role: _Optional[_Union[Role, str]] = ..., content: _Optional[_Union[_content_pb2.Content, _Mapping]] = ..., tool_calls: _Optional[_Iterable[_Union[_tools_pb2.ToolCall, _Mapping]]] = ..., call_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., stop_reason: _Optional[_Union[StopReason, str]] = ...) -> None: ...
