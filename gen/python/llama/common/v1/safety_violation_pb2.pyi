from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ViolationLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VIOLATION_LEVEL_UNSPECIFIED: _ClassVar[ViolationLevel]
    VIOLATION_LEVEL_INFO: _ClassVar[ViolationLevel]
    VIOLATION_LEVEL_WARN: _ClassVar[ViolationLevel]
    VIOLATION_LEVEL_ERROR: _ClassVar[ViolationLevel]
VIOLATION_LEVEL_UNSPECIFIED: ViolationLevel
VIOLATION_LEVEL_INFO: ViolationLevel
VIOLATION_LEVEL_WARN: ViolationLevel
VIOLATION_LEVEL_ERROR: ViolationLevel

class SafetyViolation(_message.Message):
    __slots__ = ("violation_level", "user_message", "metadata")
    VIOLATION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    USER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    violation_level: ViolationLevel
    user_message: str
    metadata: _struct_pb2.Struct
    def __init__(self, violation_level: _Optional[_Union[ViolationLevel, str]] = ..., user_message: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
