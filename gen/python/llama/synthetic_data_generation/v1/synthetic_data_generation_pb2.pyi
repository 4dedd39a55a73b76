from google.protobuf import struct_pb2 as _struct_pb2
from llama.common.v1 import jobs_pb2 as _jobs_pb2
from llama.common.v1 import messages_pb2 as _messages_pb2
from llama.common.v1 import resources_pb2 as _resources_pb2
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

class OutputFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTPUT_FORMAT_UNSPECIFIED: _ClassVar[OutputFormat]
    OUTPUT_FORMAT_DIALOG: _ClassVar[OutputFormat]
    OUTPUT_FORMAT_PREFERENCE_PAIRS: _ClassVar[OutputFormat]
FILTERING_FUNCTION_UNSPECIFIED: FilteringFunction
FILTERING_FUNCTION_NONE: FilteringFunction
FILTERING_FUNCTION_RANDOM: FilteringFunction
FILTERING_FUNCTION_TOP_K: FilteringFunction
FILTERING_FUNCTION_TOP_P: FilteringFunction
FILTERING_FUNCTION_TOP_K_TOP_P: FilteringFunction
FILTERING_FUNCTION_SIGMOID: FilteringFunction
OUTPUT_FORMAT_UNSPECIFIED: OutputFormat
OUTPUT_FORMAT_DIALOG: OutputFormat
OUTPUT_FORMAT_PREFERENCE_PAIRS: OutputFormat

class Dialog(_message.Message):
    __slots__ = ("messages", "expected_answer")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_ANSWER_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[_messages_pb2.Message]
    expected_answer: str
    def __init__(self, messages: _Optional[_Iterable[_Union[_messages_pb2.Message, _Mapping]]] = ..., expected_answer: _Optional[str] = ...) -> None: ...

class ScoringFunctionScorer(_message.Message):
    __slots__ = ("scoring_function_id", "params")
    SCORING_FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    scoring_function_id: str
    params: _resources_pb2.ScoringFunctionParams
    def __init__(self, scoring_function_id: _Optional[str] = ..., params: _Optional[_Union[_resources_pb2.ScoringFunctionParams, _Mapping]] = ...) -> None: ...

class JudgeLogprobsScorer(_message.Message):
    __slots__ = ("judge_model", "prompt_template")
    JUDGE_MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    judge_model: str
    prompt_template: str
    def __init__(self, judge_model: _Optional[str] = ..., prompt_template: _Optional[str] = ...) -> None: ...

class Scorer(_message.Message):
    __slots__ = ("scoring_function", "judge_logprobs")
    SCORING_FUNCTION_FIELD_NUMBER: _ClassVar[int]
    JUDGE_LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    scoring_function: ScoringFunctionScorer
    judge_logprobs: JudgeLogprobsScorer
    def __init__(self, scoring_function: _Optional[_Union[ScoringFunctionScorer, _Mapping]] = ..., judge_logprobs: _Optional[_Union[JudgeLogprobsScorer, _Mapping]] = ...) -> None: ...

class SynthesizeDataRequest(_message.Message):
    __slots__ = ("dialogs", "filtering_function", "model", "k", "p", "threshold", "num_candidates", "sampling_params", "seed", "scorer", "append_to_dataset_id", "append_format")
    DIALOGS_FIELD_NUMBER: _ClassVar[int]
    FILTERING_FUNCTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    P_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    NUM_CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SCORER_FIELD_NUMBER: _ClassVar[int]
    APPEND_TO_DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    APPEND_FORMAT_FIELD_NUMBER: _ClassVar[int]
    dialogs: _containers.RepeatedCompositeFieldContainer[Dialog]
    filtering_function: FilteringFunction
    model: str
    k: int
    p: float
    threshold: float
    num_candidates: int
    sampling_params: _sampling_pb2.SamplingParams
    seed: int
    scorer: Scorer
    append_to_dataset_id: str
    append_format: OutputFormat
    def __init__(self, dialogs: _Optional[_Iterable[_Union[Dialog, _Mapping]]] = ..., filtering_function: _Optional[_Union[FilteringFunction, str]] = ..., model: _Optional[str] = ..., k: _Optional[int] = ..., p: _Optional[float] = ..., threshold: _Optional[float] = ..., num_candidates: _Optional[int] = ..., sampling_params: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., seed: _Optional[int] = ..., scorer: _Optional[_Union[Scorer, _Mapping]] = ..., append_to_dataset_id: _Optional[str] = ..., append_format: _Optional[_Union[OutputFormat, str]] = ...) -> None: ...

class SynthesizeDataResponse(_message.Message):
    __slots__ = ("synthetic_data", "statistics", "preference_pairs", "candidates")
    SYNTHETIC_DATA_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_FIELD_NUMBER: _ClassVar[int]
    PREFERENCE_PAIRS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    synthetic_data: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    statistics: _struct_pb2.Struct
    preference_pairs: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    candidates: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    def __init__(self, synthetic_data: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., statistics: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., preference_pairs: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., candidates: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ...) -> None: ...

class StreamSynthesizeDataResponse(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _jobs_pb2.JobProgress
    result: SynthesizeDataResponse
    def __init__(self, progress: _Optional[_Union[_jobs_pb2.JobProgress, _Mapping]] = ..., result: _Optional[_Union[SynthesizeDataResponse, _Mapping]] = ...) -> None: ...
