from google.protobuf import struct_pb2 as _struct_pb2
from llama.common.v1 import resources_pb2 as _resources_pb2
from llama.common.v1 import scoring_pb2 as _scoring_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScoreRequest(_message.Message):
    __slots__ = ("input_rows", "scoring_functions")
    class ScoringFunctionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _resources_pb2.ScoringFunctionParams
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_resources_pb2.ScoringFunctionParams, _Mapping]] = ...) -> None: ...
    INPUT_ROWS_FIELD_NUMBER: _ClassVar[int]
    SCORING_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    input_rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    scoring_functions: _containers.MessageMap[str, _resources_pb2.ScoringFunctionParams]
    def __init__(self, input_rows: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., scoring_functions: _Optional[_Mapping[str, _resources_pb2.ScoringFunctionParams]] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("results",)
    class ResultsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _scoring_pb2.ScoringResult
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_scoring_pb2.ScoringResult, _Mapping]] = ...) -> None: ...
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.MessageMap[str, _scoring_pb2.ScoringResult]
    def __init__(self, results: _Optional[_Mapping[str, _scoring_pb2.ScoringResult]] = ...) -> None: ...

class ScoreBatchRequest(_message.Message):
    __slots__ = ("dataset_id", "scoring_functions", "save_results_dataset")
    class ScoringFunctionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _resources_pb2.ScoringFunctionParams
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_resources_pb2.ScoringFunctionParams, _Mapping]] = ...) -> None: ...
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    SCORING_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    SAVE_RESULTS_DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    scoring_functions: _containers.MessageMap[str, _resources_pb2.ScoringFunctionParams]
    save_results_dataset: bool
    def __init__(self, dataset_id: _Optional[str] = ..., scoring_functions: _Optional[_Mapping[str, _resources_pb2.ScoringFunctionParams]] = ..., save_results_dataset: _Optional[bool] = ...) -> None: ...

class ScoreBatchResponse(_message.Message):
    __slots__ = ("results", "saved_dataset_id")
    class ResultsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _scoring_pb2.ScoringResult
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_scoring_pb2.ScoringResult, _Mapping]] = ...) -> None: ...
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SAVED_DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    results: _containers.MessageMap[str, _scoring_pb2.ScoringResult]
    saved_dataset_id: str
    def __init__(self, results: _Optional[_Mapping[str, _scoring_pb2.ScoringResult]] = ..., saved_dataset_id: _Optional[str] = ...) -> None: ...
