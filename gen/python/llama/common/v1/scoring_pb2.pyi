from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScoringResult(_message.Message):
    __slots__ = ("score_rows", "aggregated_results")
    SCORE_ROWS_FIELD_NUMBER: _ClassVar[int]
    AGGREGATED_RESULTS_FIELD_NUMBER: _ClassVar[int]
    score_rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    aggregated_results: _struct_pb2.Struct
    def __init__(self, score_rows: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., aggregated_results: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
