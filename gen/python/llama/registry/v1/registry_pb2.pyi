from llama.common.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterModelRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: _resources_pb2.Model
    def __init__(self, model: _Optional[_Union[_resources_pb2.Model, _Mapping]] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Model]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[_resources_pb2.Model, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UnregisterModelRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class RegisterShieldRequest(_message.Message):
    __slots__ = ("shield",)
    SHIELD_FIELD_NUMBER: _ClassVar[int]
    shield: _resources_pb2.Shield
    def __init__(self, shield: _Optional[_Union[_resources_pb2.Shield, _Mapping]] = ...) -> None: ...

class GetShieldRequest(_message.Message):
    __slots__ = ("shield_id",)
    SHIELD_ID_FIELD_NUMBER: _ClassVar[int]
    shield_id: str
    def __init__(self, shield_id: _Optional[str] = ...) -> None: ...

class ListShieldsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListShieldsResponse(_message.Message):
    __slots__ = ("shields", "next_page_token")
    SHIELDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    shields: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Shield]
    next_page_token: str
    def __init__(self, shields: _Optional[_Iterable[_Union[_resources_pb2.Shield, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UnregisterShieldRequest(_message.Message):
    __slots__ = ("shield_id",)
    SHIELD_ID_FIELD_NUMBER: _ClassVar[int]
    shield_id: str
    def __init__(self, shield_id: _Optional[str] = ...) -> None: ...

class RegisterVectorDBRequest(_message.Message):
    __slots__ = ("vector_db",)
    VECTOR_DB_FIELD_NUMBER: _ClassVar[int]
    vector_db: _resources_pb2.VectorDB
    def __init__(self, vector_db: _Optional[_Union[_resources_pb2.VectorDB, _Mapping]] = ...) -> None: ...

class GetVectorDBRequest(_message.Message):
    __slots__ = ("vector_db_id",)
    VECTOR_DB_ID_FIELD_NUMBER: _ClassVar[int]
    vector_db_id: str
    def __init__(self, vector_db_id: _Optional[str] = ...) -> None: ...

class ListVectorDBsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListVectorDBsResponse(_message.Message):
    __slots__ = ("vector_dbs", "next_page_token")
    VECTOR_DBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    vector_dbs: _containers.RepeatedCompositeFieldContainer[_resources_pb2.VectorDB]
    next_page_token: str
    def __init__(self, vector_dbs: _Optional[_Iterable[_Union[_resources_pb2.VectorDB, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UnregisterVectorDBRequest(_message.Message):
    __slots__ = ("vector_db_id",)
    VECTOR_DB_ID_FIELD_NUMBER: _ClassVar[int]
    vector_db_id: str
    def __init__(self, vector_db_id: _Optional[str] = ...) -> None: ...

class RegisterToolGroupRequest(_message.Message):
    __slots__ = ("tool_group",)
    TOOL_GROUP_FIELD_NUMBER: _ClassVar[int]
    tool_group: _resources_pb2.ToolGroup
    def __init__(self, tool_group: _Optional[_Union[_resources_pb2.ToolGroup, _Mapping]] = ...) -> None: ...

class GetToolGroupRequest(_message.Message):
    __slots__ = ("tool_group_id",)
    TOOL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    tool_group_id: str
    def __init__(self, tool_group_id: _Optional[str] = ...) -> None: ...

class ListToolGroupsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListToolGroupsResponse(_message.Message):
    __slots__ = ("tool_groups", "next_page_token")
    TOOL_GROUPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tool_groups: _containers.RepeatedCompositeFieldContainer[_resources_pb2.ToolGroup]
    next_page_token: str
    def __init__(self, tool_groups: _Optional[_Iterable[_Union[_resources_pb2.ToolGroup, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UnregisterToolGroupRequest(_message.Message):
    __slots__ = ("tool_group_id",)
    TOOL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    tool_group_id: str
    def __init__(self, tool_group_id: _Optional[str] = ...) -> None: ...

class RegisterDatasetRequest(_message.Message):
    __slots__ = ("dataset",)
    DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset: _resources_pb2.Dataset
    def __init__(self, dataset: _Optional[_Union[_resources_pb2.Dataset, _Mapping]] = ...) -> None: ...

class GetDatasetRequest(_message.Message):
    __slots__ = ("dataset_id",)
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    def __init__(self, dataset_id: _Optional[str] = ...) -> None: ...

class ListDatasetsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDatasetsResponse(_message.Message):
    __slots__ = ("datasets", "next_page_token")
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    datasets: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Dataset]
    next_page_token: str
    def __init__(self, datasets: _Optional[_Iterable[_Union[_resources_pb2.Dataset, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UnregisterDatasetRequest(_message.Message):
    __slots__ = ("dataset_id",)
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    def __init__(self, dataset_id: _Optional[str] = ...) -> None: ...

class RegisterScoringFunctionRequest(_message.Message):
    __slots__ = ("scoring_function",)
    SCORING_FUNCTION_FIELD_NUMBER: _ClassVar[int]
    scoring_function: _resources_pb2.ScoringFunction
    def __init__(self, scoring_function: _Optional[_Union[_resources_pb2.ScoringFunction, _Mapping]] = ...) -> None: ...

class GetScoringFunctionRequest(_message.Message):
    __slots__ = ("scoring_function_id",)
    SCORING_FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    scoring_function_id: str
    def __init__(self, scoring_function_id: _Optional[str] = ...) -> None: ...

class ListScoringFunctionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListScoringFunctionsResponse(_message.Message):
    __slots__ = ("scoring_functions", "next_page_token")
    SCORING_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    scoring_functions: _containers.RepeatedCompositeFieldContainer[_resources_pb2.ScoringFunction]
    next_page_token: str
    def __init__(self, scoring_functions: _Optional[_Iterable[_Union[_resources_pb2.ScoringFunction, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UnregisterScoringFunctionRequest(_message.Message):
    __slots__ = ("scoring_function_id",)
    SCORING_FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    scoring_function_id: str
    def __init__(self, scoring_function_id: _Optional[str] = ...) -> None: ...

class RegisterBenchmarkRequest(_message.Message):
    __slots__ = ("benchmark",)
    BENCHMARK_FIELD_NUMBER: _ClassVar[int]
    benchmark: _resources_pb2.Benchmark
    def __init__(self, benchmark: _Optional[_Union[_resources_pb2.Benchmark, _Mapping]] = ...) -> None: ...

class GetBenchmarkRequest(_message.Message):
    __slots__ = ("benchmark_id",)
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    def __init__(self, benchmark_id: _Optional[str] = ...) -> None: ...

class ListBenchmarksRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBenchmarksResponse(_message.Message):
    __slots__ = ("benchmarks", "next_page_token")
    BENCHMARKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    benchmarks: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Benchmark]
    next_page_token: str
    def __init__(self, benchmarks: _Optional[_Iterable[_Union[_resources_pb2.Benchmark, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UnregisterBenchmarkRequest(_message.Message):
    __slots__ = ("benchmark_id",)
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    def __init__(self, benchmark_id: _Optional[str] = ...) -> None: ...
