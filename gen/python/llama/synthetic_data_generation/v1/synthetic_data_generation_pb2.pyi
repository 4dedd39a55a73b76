from google.protobuf import struct_pb2 as _struct_pb2
from llama.common.v1 import messages_pb2 as _messages_pb2
from llama.common.v1 import sampling_pb2 as _sampling_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FilteringFunction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILTERING_FUNCTION_UNSPECIFIED: _ClassVar[FilteringFunction]
    FILTERING_FUNCTION_NONE: _ClassVar[FilteringFunction]
    FILTERING_FUNCTION_RANDOM: _ClassVar[FilteringFunction]
    FILTERING_FUNCTION_TOP_K: _ClassVar[FilteringFunction]
    FILTERING_FUNCTION_TOP_P: _ClassVar[FilteringFunction]
    FILTERING_FUNCTION_TOP_K_TOP_P: _ClassVar[FilteringFunction]
    FILTERING_FUNCTION_SIGMOID: _ClassVar[FilteringFunction]
FILTERING_FUNCTION_UNSPECIFIED: FilteringFunction
FILTERING_FUNCTION_NONE: FilteringFunction
FILTERING_FUNCTION_RANDOM: FilteringFunction
FILTERING_FUNCTION_TOP_K: FilteringFunction
FILTERING_FUNCTION_TOP_P: FilteringFunction
FILTERING_FUNCTION_TOP_K_TOP_P: FilteringFunction
FILTERING_FUNCTION_SIGMOID: FilteringFunction

class Dialog(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[_messages_pb2.Message]
    def __init__(self, messages: _Optional[_Iterable[_Union[_messages_pb2.Message, _Mapping]]] = ...) -> None: ...

class SynthesizeDataRequest(_message.Message):
    __slots__ = ("dialogs", "filtering_function", "model", "k", "p", "threshold", "num_candidates", "sampling_params")
    DIALOGS_FIELD_NUMBER: _ClassVar[int]
    FILTERING_FUNCTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    P_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    NUM_CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    dialogs: _containers.RepeatedCompositeFieldContainer[Dialog]
    filtering_function: FilteringFunction
    model: str
    k: int
    p: float
    threshold: float
    num_candidates: int
    sampling_params: _sampling_pb2.SamplingParams
    def __init__(self, dialogs: _Optional[_Iterable[_Union[Dialog, _Mapping]]] = ..., filtering_function: _Optional[_Union[FilteringFunction, str]] = ..., model: _Optional[str] = ..., k: _Optional[int] = ..., p: _Optional[float] = ..., threshold: _Optional[float] = ..., num_candidates: _Optional[int] = ..., sampling_params: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ...) -> None: ...

class SynthesizeDataResponse(_message.Message):
    __slots__ = ("synthetic_data", "statistics")
    SYNTHETIC_DATA_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_FIELD_NUMBER: _ClassVar[int]
    synthetic_data: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    statistics: _struct_pb2.Struct
    def __init__(self, synthetic_data: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., statistics: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
