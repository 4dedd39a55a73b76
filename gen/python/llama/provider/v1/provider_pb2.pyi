from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PrepareResourceRequest(_message.Message):
    __slots__ = ("resource",)
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    resource: _any_pb2.Any
    def __init__(self, resource: _Optional[_Union[_any_pb2.Any, _Mapping]] = ...) -> None: ...

class PrepareResourceResponse(_message.Message):
    __slots__ = ("resource",)
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    resource: _any_pb2.Any
    def __init__(self, resource: _Optional[_Union[_any_pb2.Any, _Mapping]] = ...) -> None: ...

class ReleaseResourceRequest(_message.Message):
    __slots__ = ("resource",)
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    resource: _any_pb2.Any
    def __init__(self, resource: _Optional[_Union[_any_pb2.Any, _Mapping]] = ...) -> None: ...

class ReleaseResourceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
