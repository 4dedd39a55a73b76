from llama.common.v1 import content_pb2 as _content_pb2
from llama.common.v1 import messages_pb2 as _messages_pb2
from llama.common.v1 import routing_pb2 as _routing_pb2
from llama.common.v1 import sampling_pb2 as _sampling_pb2
from llama.common.v1 import stream_error_pb2 as _stream_error_pb2
from llama.common.v1 import tools_pb2 as _tools_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EmbeddingTaskType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EMBEDDING_TASK_TYPE_UNSPECIFIED: _ClassVar[EmbeddingTaskType]
    EMBEDDING_TASK_TYPE_QUERY: _ClassVar[EmbeddingTaskType]
    EMBEDDING_TASK_TYPE_DOCUMENT: _ClassVar[EmbeddingTaskType]

class TextTruncation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEXT_TRUNCATION_UNSPECIFIED: _ClassVar[TextTruncation]
    TEXT_TRUNCATION_NONE: _ClassVar[TextTruncation]
    TEXT_TRUNCATION_END: _ClassVar[TextTruncation]
    TEXT_TRUNCATION_START: _ClassVar[TextTruncation]
EMBEDDING_TASK_TYPE_UNSPECIFIED: EmbeddingTaskType
EMBEDDING_TASK_TYPE_QUERY: EmbeddingTaskType
EMBEDDING_TASK_TYPE_DOCUMENT: EmbeddingTaskType
TEXT_TRUNCATION_UNSPECIFIED: TextTruncation
TEXT_TRUNCATION_NONE: TextTruncation
TEXT_TRUNCATION_END: TextTruncation
TEXT_TRUNCATION_START: TextTruncation

class ChatCompletionRequest(_message.Message):
    __slots__ = ("model_id", "messages", "sampling_params", "tools", "tool_choice", "tool_prompt_format", "response_format", "logprobs")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    TOOL_PROMPT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    messages: _containers.RepeatedCompositeFieldContainer[_messages_pb2.Message]
    sampling_params: _sampling_pb2.SamplingParams
    tools: _containers.RepeatedCompositeFieldContainer[_tools_pb2.ToolDefinition]
    tool_choice: _tools_pb2.ToolChoice
    tool_prompt_format: _tools_pb2.ToolPromptFormat
    response_format: _sampling_pb2.ResponseFormat
    logprobs: _sampling_pb2.LogprobsConfig
    def __init__(self, model_id: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_messages_pb2.Message, _Mapping]]] = ..., sampling_params: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., tools: _Optional[_Iterable[_Union[_tools_pb2.ToolDefinition, _Mapping]]] = ..., tool_choice: _Optional[_Union[_tools_pb2.ToolChoice, _Mapping]] = ..., tool_prompt_format: _Optional[_Union[_tools_pb2.ToolPromptFormat, str]] = ..., response_format: _Optional[_Union[_sampling_pb2.ResponseFormat, _Mapping]] = ..., logprobs: _Optional[_Union[_sampling_pb2.LogprobsConfig, _Mapping]] = ...) -> None: ...

class ChatCompletionResponse(_message.Message):
    __slots__ = ("completion_message", "logprobs", "usage")
    COMPLETION_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    completion_message: _messages_pb2.Message
    logprobs: _containers.RepeatedCompositeFieldContainer[_sampling_pb2.TokenLogprob]
    usage: _sampling_pb2.Usage
    def __init__(self, completion_message: _Optional[_Union[_messages_pb2.Message, _Mapping]] = ..., logprobs: _Optional[_Iterable[_Union[_sampling_pb2.TokenLogprob, _Mapping]]] = ..., usage: _Optional[_Union[_sampling_pb2.Usage, _Mapping]] = ...) -> None: ...

class StreamChatCompletionRequest(_message.Message):
    __slots__ = ("model_id", "messages", "sampling_params", "tools", "tool_choice", "tool_prompt_format", "response_format", "logprobs")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    TOOL_PROMPT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    messages: _containers.RepeatedCompositeFieldContainer[_messages_pb2.Message]
    sampling_params: _sampling_pb2.SamplingParams
    tools: _containers.RepeatedCompositeFieldContainer[_tools_pb2.ToolDefinition]
    tool_choice: _tools_pb2.ToolChoice
    tool_prompt_format: _tools_pb2.ToolPromptFormat
    response_format: _sampling_pb2.ResponseFormat
    logprobs: _sampling_pb2.LogprobsConfig
    def __init__(self, model_id: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_messages_pb2.Message, _Mapping]]] = ..., sampling_params: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., tools: _Optional[_Iterable[_Union[_tools_pb2.ToolDefinition, _Mapping]]] = ..., tool_choice: _Optional[_Union[_tools_pb2.ToolChoice, _Mapping]] = ..., tool_prompt_format: _Optional[_Union[_tools_pb2.ToolPromptFormat, str]] = ..., response_format: _Optional[_Union[_sampling_pb2.ResponseFormat, _Mapping]] = ..., logprobs: _Optional[_Union[_sampling_pb2.LogprobsConfig, _Mapping]] = ...) -> None: ...

class ChatCompletionChunk(_message.Message):
    __slots__ = ("text_delta", "logprobs")
    TEXT_DELTA_FIELD_NUMBER: _ClassVar[int]
    LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    text_delta: str
    logprobs: _containers.RepeatedCompositeFieldContainer[_sampling_pb2.TokenLogprob]
    def __init__(self, text_delta: _Optional[str] = ..., logprobs: _Optional[_Iterable[_Union[_sampling_pb2.TokenLogprob, _Mapping]]] = ...) -> None: ...

class ChatCompletionComplete(_message.Message):
    __slots__ = ("completion_message", "usage")
    COMPLETION_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    completion_message: _messages_pb2.Message
    usage: _sampling_pb2.Usage
    def __init__(self, completion_message: _Optional[_Union[_messages_pb2.Message, _Mapping]] = ..., usage: _Optional[_Union[_sampling_pb2.Usage, _Mapping]] = ...) -> None: ...

class StreamChatCompletionResponse(_message.Message):
    __slots__ = ("chunk", "complete", "error")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    chunk: ChatCompletionChunk
    complete: ChatCompletionComplete
    error: _stream_error_pb2.StreamError
    def __init__(self, chunk: _Optional[_Union[ChatCompletionChunk, _Mapping]] = ..., complete: _Optional[_Union[ChatCompletionComplete, _Mapping]] = ..., error: _Optional[_Union[_stream_error_pb2.StreamError, _Mapping]] = ...) -> None: ...

class CompletionRequest(_message.Message):
    __slots__ = ("model_id", "content", "sampling_params", "response_format", "logprobs")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    content: _content_pb2.Content
    sampling_params: _sampling_pb2.SamplingParams
    response_format: _sampling_pb2.ResponseFormat
    logprobs: _sampling_pb2.LogprobsConfig
    def __init__(self, model_id: _Optional[str] = ..., content: _Optional[_Union[_content_pb2.Content, _Mapping]] = ..., sampling_params: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., response_format: _Optional[_Union[_sampling_pb2.ResponseFormat, _Mapping]] = ..., logprobs: _Optional[_Union[_sampling_pb2.LogprobsConfig, _Mapping]] = ...) -> None: ...

class CompletionResponse(_message.Message):
    __slots__ = ("text", "stop_reason", "logprobs", "usage")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    text: str
    stop_reason: _messages_pb2.StopReason
    logprobs: _containers.RepeatedCompositeFieldContainer[_sampling_pb2.TokenLogprob]
    usage: _sampling_pb2.Usage
    def __init__(self, text: _Optional[str] = ..., stop_reason: _Optional[_Union[_messages_pb2.StopReason, str]] = ..., logprobs: _Optional[_Iterable[_Union[_sampling_pb2.TokenLogprob, _Mapping]]] = ..., usage: _Optional[_Union[_sampling_pb2.Usage, _Mapping]] = ...) -> None: ...

class StreamCompletionRequest(_message.Message):
    __slots__ = ("model_id", "content", "sampling_params", "response_format", "logprobs")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    content: _content_pb2.Content
    sampling_params: _sampling_pb2.SamplingParams
    response_format: _sampling_pb2.ResponseFormat
    logprobs: _sampling_pb2.LogprobsConfig
    def __init__(self, model_id: _Optional[str] = ..., content: _Optional[_Union[_content_pb2.Content, _Mapping]] = ..., sampling_params: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., response_format: _Optional[_Union[_sampling_pb2.ResponseFormat, _Mapping]] = ..., logprobs: _Optional[_Union[_sampling_pb2.LogprobsConfig, _Mapping]] = ...) -> None: ...

class CompletionChunk(_message.Message):
    __slots__ = ("text_delta", "logprobs")
    TEXT_DELTA_FIELD_NUMBER: _ClassVar[int]
    LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    text_delta: str
    logprobs: _containers.RepeatedCompositeFieldContainer[_sampling_pb2.TokenLogprob]
    def __init__(self, text_delta: _Optional[str] = ..., logprobs: _Optional[_Iterable[_Union[_sampling_pb2.TokenLogprob, _Mapping]]] = ...) -> None: ...

class CompletionComplete(_message.Message):
    __slots__ = ("text", "stop_reason", "usage")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    text: str
    stop_reason: _messages_pb2.StopReason
    usage: _sampling_pb2.Usage
    def __init__(self, text: _Optional[str] = ..., stop_reason: _Optional[_Union[_messages_pb2.StopReason, str]] = ..., usage: _Optional[_Union[_sampling_pb2.Usage, _Mapping]] = ...) -> None: ...

class StreamCompletionResponse(_message.Message):
    __slots__ = ("chunk", "complete", "error")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    chunk: CompletionChunk
    complete: CompletionComplete
    error: _stream_error_pb2.StreamError
    def __init__(self, chunk: _Optional[_Union[CompletionChunk, _Mapping]] = ..., complete: _Optional[_Union[CompletionComplete, _Mapping]] = ..., error: _Optional[_Union[_stream_error_pb2.StreamError, _Mapping]] = ...) -> None: ...

class EmbeddingsRequest(_message.Message):
    __slots__ = ("model_id", "contents", "task_type", "output_dimension", "text_truncation")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    TEXT_TRUNCATION_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    contents: _containers.RepeatedScalarFieldContainer[str]
    task_type: EmbeddingTaskType
    output_dimension: int
    text_truncation: TextTruncation
    def __init__(self, model_id: _Optional[str] = ..., contents: _Optional[_Iterable[str]] = ..., task_type: _Optional[_Union[EmbeddingTaskType, str]] = ..., output_dimension: _Optional[int] = ..., text_truncation: _Optional[_Union[TextTruncation, str]] = ...) -> None: ...

class Embedding(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class EmbeddingsResponse(_message.Message):
    __slots__ = ("embeddings", "usage")
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    embeddings: _containers.RepeatedCompositeFieldContainer[Embedding]
    usage: _sampling_pb2.Usage
    def __init__(self, embeddings: _Optional[_Iterable[_Union[Embedding, _Mapping]]] = ..., usage: _Optional[_Union[_sampling_pb2.Usage, _Mapping]] = ...) -> None: ...

class ChatConversation(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[_messages_pb2.Message]
    def __init__(self, messages: _Optional[_Iterable[_Union[_messages_pb2.Message, _Mapping]]] = ...) -> None: ...

class BatchChatCompletionRequest(_message.Message):
    __slots__ = ("model_id", "conversations", "sampling_params", "tools", "tool_choice", "response_format", "logprobs")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    conversations: _containers.RepeatedCompositeFieldContainer[ChatConversation]
    sampling_params: _sampling_pb2.SamplingParams
    tools: _containers.RepeatedCompositeFieldContainer[_tools_pb2.ToolDefinition]
    tool_choice: _tools_pb2.ToolChoice
    response_format: _sampling_pb2.ResponseFormat
    logprobs: _sampling_pb2.LogprobsConfig
    def __init__(self, model_id: _Optional[str] = ..., conversations: _Optional[_Iterable[_Union[ChatConversation, _Mapping]]] = ..., sampling_params: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., tools: _Optional[_Iterable[_Union[_tools_pb2.ToolDefinition, _Mapping]]] = ..., tool_choice: _Optional[_Union[_tools_pb2.ToolChoice, _Mapping]] = ..., response_format: _Optional[_Union[_sampling_pb2.ResponseFormat, _Mapping]] = ..., logprobs: _Optional[_Union[_sampling_pb2.LogprobsConfig, _Mapping]] = ...) -> None: ...

class BatchChatCompletionResult(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: ChatCompletionResponse
    error: _stream_error_pb2.StreamError
    def __init__(self, response: _Optional[_Union[ChatCompletionResponse, _Mapping]] = ..., error: _Optional[_Union[_stream_error_pb2.StreamError, _Mapping]] = ...) -> None: ...

class BatchChatCompletionResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchChatCompletionResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BatchChatCompletionResult, _Mapping]]] = ...) -> None: ...

class GetEngineStatusRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class GetEngineStatusResponse(_message.Message):
    __slots__ = ("provider_id", "provider_resource_id", "loaded", "running_requests", "waiting_requests")
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    RUNNING_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    WAITING_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    provider_resource_id: str
    loaded: bool
    running_requests: int
    waiting_requests: int
    def __init__(self, provider_id: _Optional[str] = ..., provider_resource_id: _Optional[str] = ..., loaded: _Optional[bool] = ..., running_requests: _Optional[int] = ..., waiting_requests: _Optional[int] = ...) -> None: ...
