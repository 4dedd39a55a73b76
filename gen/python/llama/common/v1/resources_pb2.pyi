from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResourceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESOURCE_KIND_UNSPECIFIED: _ClassVar[ResourceKind]
    RESOURCE_KIND_MODEL: _ClassVar[ResourceKind]
    RESOURCE_KIND_SHIELD: _ClassVar[ResourceKind]
    RESOURCE_KIND_VECTOR_DB: _ClassVar[ResourceKind]
    RESOURCE_KIND_TOOL_GROUP: _ClassVar[ResourceKind]
    RESOURCE_KIND_DATASET: _ClassVar[ResourceKind]
    RESOURCE_KIND_SCORING_FUNCTION: _ClassVar[ResourceKind]
    RESOURCE_KIND_BENCHMARK: _ClassVar[ResourceKind]

class ModelType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_TYPE_UNSPECIFIED: _ClassVar[ModelType]
    MODEL_TYPE_LLM: _ClassVar[ModelType]
    MODEL_TYPE_EMBEDDING: _ClassVar[ModelType]

class DatasetPurpose(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATASET_PURPOSE_UNSPECIFIED: _ClassVar[DatasetPurpose]
    DATASET_PURPOSE_POST_TRAINING_MESSAGES: _ClassVar[DatasetPurpose]
    DATASET_PURPOSE_EVAL_QUESTION_ANSWER: _ClassVar[DatasetPurpose]
    DATASET_PURPOSE_EVAL_MESSAGES_ANSWER: _ClassVar[DatasetPurpose]

class ScoringFunctionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCORING_FUNCTION_TYPE_UNSPECIFIED: _ClassVar[ScoringFunctionType]
    SCORING_FUNCTION_TYPE_BASIC: _ClassVar[ScoringFunctionType]
    SCORING_FUNCTION_TYPE_REGEX_PARSER: _ClassVar[ScoringFunctionType]
    SCORING_FUNCTION_TYPE_LLM_AS_JUDGE: _ClassVar[ScoringFunctionType]

class AggregationFunction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGGREGATION_FUNCTION_UNSPECIFIED: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_ACCURACY: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_AVERAGE: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_WEIGHTED_AVERAGE: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_MEDIAN: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_CATEGORICAL_COUNT: _ClassVar[AggregationFunction]
RESOURCE_KIND_UNSPECIFIED: ResourceKind
RESOURCE_KIND_MODEL: ResourceKind
RESOURCE_KIND_SHIELD: ResourceKind
RESOURCE_KIND_VECTOR_DB: ResourceKind
RESOURCE_KIND_TOOL_GROUP: ResourceKind
RESOURCE_KIND_DATASET: ResourceKind
RESOURCE_KIND_SCORING_FUNCTION: ResourceKind
RESOURCE_KIND_BENCHMARK: ResourceKind
MODEL_TYPE_UNSPECIFIED: ModelType
MODEL_TYPE_LLM: ModelType
MODEL_TYPE_EMBEDDING: ModelType
DATASET_PURPOSE_UNSPECIFIED: DatasetPurpose
DATASET_PURPOSE_POST_TRAINING_MESSAGES: DatasetPurpose
DATASET_PURPOSE_EVAL_QUESTION_ANSWER: DatasetPurpose
DATASET_PURPOSE_EVAL_MESSAGES_ANSWER: DatasetPurpose
SCORING_FUNCTION_TYPE_UNSPECIFIED: ScoringFunctionType
SCORING_FUNCTION_TYPE_BASIC: ScoringFunctionType
SCORING_FUNCTION_TYPE_REGEX_PARSER: ScoringFunctionType
SCORING_FUNCTION_TYPE_LLM_AS_JUDGE: ScoringFunctionType
AGGREGATION_FUNCTION_UNSPECIFIED: AggregationFunction
AGGREGATION_FUNCTION_ACCURACY: AggregationFunction
AGGREGATION_FUNCTION_AVERAGE: AggregationFunction
AGGREGATION_FUNCTION_WEIGHTED_AVERAGE: AggregationFunction
AGGREGATION_FUNCTION_MEDIAN: AggregationFunction
AGGREGATION_FUNCTION_CATEGORICAL_COUNT: AggregationFunction

class Model(_message.Message):
    __slots__ = ("identifier", "provider_id", "provider_resource_id", "model_type", "metadata")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    provider_id: str
    provider_resource_id: str
    model_type: ModelType
    metadata: _struct_pb2.Struct
    def __init__(self, identifier: _Optional[str] = ..., provider_id: _Optional[str] = ..., provider_resource_id: _Optional[str] = ..., model_type: _Optional[_Union[ModelType, str]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Shield(_message.Message):
    __slots__ = ("identifier", "provider_id", "provider_resource_id", "params")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    provider_id: str
    provider_resource_id: str
    params: _struct_pb2.Struct
    def __init__(self, identifier: _Optional[str] = ..., provider_id: _Optional[str] = ..., provider_resource_id: _Optional[str] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class VectorDB(_message.Message):
    __slots__ = ("identifier", "provider_id", "provider_resource_id", "embedding_model", "embedding_dimension", "metadata")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    provider_id: str
    provider_resource_id: str
    embedding_model: str
    embedding_dimension: int
    metadata: _struct_pb2.Struct
    def __init__(self, identifier: _Optional[str] = ..., provider_id: _Optional[str] = ..., provider_resource_id: _Optional[str] = ..., embedding_model: _Optional[str] = ..., embedding_dimension: _Optional[int] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class McpEndpoint(_message.Message):
    __slots__ = ("uri",)
    URI_FIELD_NUMBER: _ClassVar[int]
    uri: str
    def __init__(self, uri: _Optional[str] = ...) -> None: ...

class ToolGroup(_message.Message):
    __slots__ = ("identifier", "provider_id", "provider_resource_id", "mcp_endpoint", "args")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    MCP_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    provider_id: str
    provider_resource_id: str
    mcp_endpoint: McpEndpoint
    args: _struct_pb2.Struct
    def __init__(self, identifier: _Optional[str] = ..., provider_id: _Optional[str] = ..., provider_resource_id: _Optional[str] = ..., mcp_endpoint: _Optional[_Union[McpEndpoint, _Mapping]] = ..., args: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class RowsSource(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    def __init__(self, rows: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ...) -> None: ...

class DataSource(_message.Message):
    __slots__ = ("uri", "rows")
    URI_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    uri: str
    rows: RowsSource
    def __init__(self, uri: _Optional[str] = ..., rows: _Optional[_Union[RowsSource, _Mapping]] = ...) -> None: ...

class Dataset(_message.Message):
    __slots__ = ("identifier", "provider_id", "provider_resource_id", "purpose", "source", "metadata")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    provider_id: str
    provider_resource_id: str
    purpose: DatasetPurpose
    source: DataSource
    metadata: _struct_pb2.Struct
    def __init__(self, identifier: _Optional[str] = ..., provider_id: _Optional[str] = ..., provider_resource_id: _Optional[str] = ..., purpose: _Optional[_Union[DatasetPurpose, str]] = ..., source: _Optional[_Union[DataSource, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ScoringFunctionParams(_message.Message):
    __slots__ = ("type", "judge_model", "prompt_template", "judge_score_regexes", "parsing_regexes", "aggregation_functions")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    JUDGE_MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    JUDGE_SCORE_REGEXES_FIELD_NUMBER: _ClassVar[int]
    PARSING_REGEXES_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    type: ScoringFunctionType
    judge_model: str
    prompt_template: str
    judge_score_regexes: _containers.RepeatedScalarFieldContainer[str]
    parsing_regexes: _containers.RepeatedScalarFieldContainer[str]
    aggregation_functions: _containers.RepeatedScalarFieldContainer[AggregationFunction]
    def __init__(self, type: _Optional[_Union[ScoringFunctionType, str]] = ..., judge_model: _Optional[str] = ..., prompt_template: _Optional[str] = ..., judge_score_regexes: _Optional[_Iterable[str]] = ..., parsing_regexes: _Optional[_Iterable[str]] = ..., aggregation_functions: _Optional[_Iterable[_Union[AggregationFunction, str]]] = ...) -> None: ...

class ScoringFunction(_message.Message):
    __slots__ = ("identifier", "provider_id", "provider_resource_id", "description", "params", "metadata")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    provider_id: str
    provider_resource_id: str
    description: str
    params: ScoringFunctionParams
    metadata: _struct_pb2.Struct
    def __init__(self, identifier: _Optional[str] = ..., provider_id: _Optional[str] = ..., provider_resource_id: _Optional[str] = ..., description: _Optional[str] = ..., params: _Optional[_Union[ScoringFunctionParams, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Benchmark(_message.Message):
    __slots__ = ("identifier", "provider_id", "provider_resource_id", "dataset_id", "scoring_functions", "metadata")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    SCORING_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    provider_id: str
    provider_resource_id: str
    dataset_id: str
    scoring_functions: _containers.RepeatedScalarFieldContainer[str]
    metadata: _struct_pb2.Struct
    def __init__(self, identifier: _Optional[str] = ..., provider_id: _Optional[str] = ..., provider_resource_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., scoring_functions: _Optional[_Iterable[str]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
