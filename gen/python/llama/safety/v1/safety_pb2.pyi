from google.protobuf import struct_pb2 as _struct_pb2
from llama.common.v1 import messages_pb2 as _messages_pb2
from llama.common.v1 import routing_pb2 as _routing_pb2
from llama.common.v1 import safety_violation_pb2 as _safety_violation_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunShieldRequest(_message.Message):
    __slots__ = ("shield_id", "messages", "params")
    SHIELD_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    shield_id: str
    messages: _containers.RepeatedCompositeFieldContainer[_messages_pb2.Message]
    params: _struct_pb2.Struct
    def __init__(self, shield_id: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_messages_pb2.Message, _Mapping]]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class RunShieldResponse(_message.Message):
    __slots__ = ("violation",)
    VIOLATION_FIELD_NUMBER: _ClassVar[int]
    violation: _safety_violation_pb2.SafetyViolation
    def __init__(self, violation: _Optional[_Union[_safety_violation_pb2.SafetyViolation, _Mapping]] = ...) -> None: ...
