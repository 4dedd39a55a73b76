from google.protobuf import struct_pb2 as _struct_pb2
from llama.common.v1 import agent_config_pb2 as _agent_config_pb2
from llama.common.v1 import jobs_pb2 as _jobs_pb2
from llama.common.v1 import messages_pb2 as _messages_pb2
from llama.common.v1 import resources_pb2 as _resources_pb2
from llama.common.v1 import routing_pb2 as _routing_pb2
from llama.common.v1 import sampling_pb2 as _sampling_pb2
from llama.common.v1 import scoring_pb2 as _scoring_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelCandidate(_message.Message):
    __slots__ = ("model", "sampling_params", "system_message")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    model: str
    sampling_params: _sampling_pb2.SamplingParams
    system_message: _messages_pb2.Message
    def __init__(self, model: _Optional[str] = ..., sampling_params: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., system_message: _Optional[_Union[_messages_pb2.Message, _Mapping]] = ...) -> None: ...

class AgentCandidate(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: _agent_config_pb2.AgentConfig
    def __init__(self, config: _Optional[_Union[_agent_config_pb2.AgentConfig, _Mapping]] = ...) -> None: ...

class EvalCandidate(_message.Message):
    __slots__ = ("model", "agent")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    model: ModelCandidate
    agent: AgentCandidate
    def __init__(self, model: _Optional[_Union[ModelCandidate, _Mapping]] = ..., agent: _Optional[_Union[AgentCandidate, _Mapping]] = ...) -> None: ...

class BenchmarkConfig(_message.Message):
    __slots__ = ("eval_candidate", "scoring_params", "num_examples")
    class ScoringParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _resources_pb2.ScoringFunctionParams
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_resources_pb2.ScoringFunctionParams, _Mapping]] = ...) -> None: ...
    EVAL_CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    SCORING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    NUM_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    eval_candidate: EvalCandidate
    scoring_params: _containers.MessageMap[str, _resources_pb2.ScoringFunctionParams]
    num_examples: int
    def __init__(self, eval_candidate: _Optional[_Union[EvalCandidate, _Mapping]] = ..., scoring_params: _Optional[_Mapping[str, _resources_pb2.ScoringFunctionParams]] = ..., num_examples: _Optional[int] = ...) -> None: ...

class RunEvalRequest(_message.Message):
    __slots__ = ("benchmark_id", "benchmark_config")
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_CONFIG_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    benchmark_config: BenchmarkConfig
    def __init__(self, benchmark_id: _Optional[str] = ..., benchmark_config: _Optional[_Union[BenchmarkConfig, _Mapping]] = ...) -> None: ...

class GetEvalJobRequest(_message.Message):
    __slots__ = ("benchmark_id", "job_id")
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    job_id: str
    def __init__(self, benchmark_id: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class CancelEvalJobRequest(_message.Message):
    __slots__ = ("benchmark_id", "job_id")
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    job_id: str
    def __init__(self, benchmark_id: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class GetEvalJobResultRequest(_message.Message):
    __slots__ = ("benchmark_id", "job_id")
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    job_id: str
    def __init__(self, benchmark_id: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class GetEvalJobResultResponse(_message.Message):
    __slots__ = ("generations", "scores")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _scoring_pb2.ScoringResult
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_scoring_pb2.ScoringResult, _Mapping]] = ...) -> None: ...
    GENERATIONS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    generations: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    scores: _containers.MessageMap[str, _scoring_pb2.ScoringResult]
    def __init__(self, generations: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., scores: _Optional[_Mapping[str, _scoring_pb2.ScoringResult]] = ...) -> None: ...

class ListEvalJobsRequest(_message.Message):
    __slots__ = ("benchmark_id", "page_size", "page_token")
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    page_size: int
    page_token: str
    def __init__(self, benchmark_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEvalJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_jobs_pb2.Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[_jobs_pb2.Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class EvaluateRowsRequest(_message.Message):
    __slots__ = ("benchmark_id", "input_rows", "scoring_functions", "benchmark_config")
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_ROWS_FIELD_NUMBER: _ClassVar[int]
    SCORING_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_CONFIG_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    input_rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    scoring_functions: _containers.RepeatedScalarFieldContainer[str]
    benchmark_config: BenchmarkConfig
    def __init__(self, benchmark_id: _Optional[str] = ..., input_rows: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., scoring_functions: _Optional[_Iterable[str]] = ..., benchmark_config: _Optional[_Union[BenchmarkConfig, _Mapping]] = ...) -> None: ...

class EvaluateRowsResponse(_message.Message):
    __slots__ = ("generations", "scores")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _scoring_pb2.ScoringResult
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_scoring_pb2.ScoringResult, _Mapping]] = ...) -> None: ...
    GENERATIONS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    generations: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    scores: _containers.MessageMap[str, _scoring_pb2.ScoringResult]
    def __init__(self, generations: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., scores: _Optional[_Mapping[str, _scoring_pb2.ScoringResult]] = ...) -> None: ...
