from google.protobuf import struct_pb2 as _struct_pb2
from llama.common.v1 import sampling_pb2 as _sampling_pb2
from llama.common.v1 import tools_pb2 as _tools_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AgentToolGroup(_message.Message):
    __slots__ = ("tool_group_id", "args", "tool_names")
    TOOL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAMES_FIELD_NUMBER: _ClassVar[int]
    tool_group_id: str
    args: _struct_pb2.Struct
    tool_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tool_group_id: _Optional[str] = ..., args: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., tool_names: _Optional[_Iterable[str]] = ...) -> None: ...

class AgentConfig(_message.Message):
    __slots__ = ("model", "instructions", "name", "sampling_params", "toolgroups", "client_tools", "input_shields", "output_shields", "tool_choice", "tool_prompt_format", "max_infer_iters", "response_format", "enable_session_persistence")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    TOOLGROUPS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TOOLS_FIELD_NUMBER: _ClassVar[int]
    INPUT_SHIELDS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SHIELDS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    TOOL_PROMPT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    MAX_INFER_ITERS_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    ENABLE_SESSION_PERSISTENCE_FIELD_NUMBER: _ClassVar[int]
    model: str
    instructions: str
    name: str
    sampling_params: _sampling_pb2.SamplingParams
    toolgroups: _containers.RepeatedCompositeFieldContainer[AgentToolGroup]
    client_tools: _containers.RepeatedCompositeFieldContainer[_tools_pb2.ToolDefinition]
    input_shields: _containers.RepeatedScalarFieldContainer[str]
    output_shields: _containers.RepeatedScalarFieldContainer[str]
    tool_choice: _tools_pb2.ToolChoice
    tool_prompt_format: _tools_pb2.ToolPromptFormat
    max_infer_iters: int
    response_format: _sampling_pb2.ResponseFormat
    enable_session_persistence: bool
    def __init__(self, model: _Optional[str] = ..., instructions: _Optional[str] = ..., name: _Optional[str] = ..., sampling_params: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., toolgroups: _Optional[_Iterable[_Union[AgentToolGroup, _Mapping]]] = ..., client_tools: _Optional[_Iterable[_Union[_tools_pb2.ToolDefinition, _Mapping]]] = ..., input_shields: _Optional[_Iterable[str]] = ..., output_shields: _Optional[_Iterable[str]] = ..., tool_choice: _Optional[_Union[_tools_pb2.ToolChoice, _Mapping]] = ..., tool_prompt_format: _Optional[_Union[_tools_pb2.ToolPromptFormat, str]] = ..., max_infer_iters: _Optional[int] = ..., response_format: _Optional[_Union[_sampling_pb2.ResponseFormat, _Mapping]] = ..., enable_session_persistence: _Optional[bool] = ...) -> None: ...
