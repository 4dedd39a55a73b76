from google.protobuf import descriptor_pb2 as _descriptor_pb2
from llama.common.v1 import resources_pb2 as _resources_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
ROUTE_FIELD_NUMBER: _ClassVar[int]
route: _descriptor.FieldDescriptor

class Route(_message.Message):
    __slots__ = ("resource_kind", "field", "model_type")
    RESOURCE_KIND_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MODEL_TYPE_FIELD_NUMBER: _ClassVar[int]
    resource_kind: _resources_pb2.ResourceKind
    field: str
    model_type: _resources_pb2.ModelType
    def __init__(self, resource_kind: _Optional[_Union[_resources_pb2.ResourceKind, str]] = ..., field: _Optional[str] = ..., model_type: _Optional[_Union[_resources_pb2.ModelType, str]] = ...) -> None: ...
