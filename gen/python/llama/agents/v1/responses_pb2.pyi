import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
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

class MessageRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_ROLE_UNSPECIFIED: _ClassVar[MessageRole]
    MESSAGE_ROLE_USER: _ClassVar[MessageRole]
    MESSAGE_ROLE_ASSISTANT: _ClassVar[MessageRole]
    MESSAGE_ROLE_SYSTEM: _ClassVar[MessageRole]
    MESSAGE_ROLE_DEVELOPER: _ClassVar[MessageRole]

class ItemStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_STATUS_UNSPECIFIED: _ClassVar[ItemStatus]
    ITEM_STATUS_IN_PROGRESS: _ClassVar[ItemStatus]
    ITEM_STATUS_SEARCHING: _ClassVar[ItemStatus]
    ITEM_STATUS_COMPLETED: _ClassVar[ItemStatus]
    ITEM_STATUS_INCOMPLETE: _ClassVar[ItemStatus]
    ITEM_STATUS_FAILED: _ClassVar[ItemStatus]

class BuiltinToolType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUILTIN_TOOL_TYPE_UNSPECIFIED: _ClassVar[BuiltinToolType]
    BUILTIN_TOOL_TYPE_FILE_SEARCH: _ClassVar[BuiltinToolType]
    BUILTIN_TOOL_TYPE_WEB_SEARCH: _ClassVar[BuiltinToolType]

class TextFormatType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEXT_FORMAT_TYPE_UNSPECIFIED: _ClassVar[TextFormatType]
    TEXT_FORMAT_TYPE_TEXT: _ClassVar[TextFormatType]
    TEXT_FORMAT_TYPE_JSON_OBJECT: _ClassVar[TextFormatType]
    TEXT_FORMAT_TYPE_JSON_SCHEMA: _ClassVar[TextFormatType]

class ResponseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESPONSE_STATUS_UNSPECIFIED: _ClassVar[ResponseStatus]
    RESPONSE_STATUS_IN_PROGRESS: _ClassVar[ResponseStatus]
    RESPONSE_STATUS_COMPLETED: _ClassVar[ResponseStatus]
    RESPONSE_STATUS_INCOMPLETE: _ClassVar[ResponseStatus]
    RESPONSE_STATUS_FAILED: _ClassVar[ResponseStatus]

class ListOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIST_ORDER_UNSPECIFIED: _ClassVar[ListOrder]
    LIST_ORDER_DESCENDING: _ClassVar[ListOrder]
    LIST_ORDER_ASCENDING: _ClassVar[ListOrder]
MESSAGE_ROLE_UNSPECIFIED: MessageRole
MESSAGE_ROLE_USER: MessageRole
MESSAGE_ROLE_ASSISTANT: MessageRole
MESSAGE_ROLE_SYSTEM: MessageRole
MESSAGE_ROLE_DEVELOPER: MessageRole
ITEM_STATUS_UNSPECIFIED: ItemStatus
ITEM_STATUS_IN_PROGRESS: ItemStatus
ITEM_STATUS_SEARCHING: ItemStatus
ITEM_STATUS_COMPLETED: ItemStatus
ITEM_STATUS_INCOMPLETE: ItemStatus
ITEM_STATUS_FAILED: ItemStatus
BUILTIN_TOOL_TYPE_UNSPECIFIED: BuiltinToolType
BUILTIN_TOOL_TYPE_FILE_SEARCH: BuiltinToolType
BUILTIN_TOOL_TYPE_WEB_SEARCH: BuiltinToolType
TEXT_FORMAT_TYPE_UNSPECIFIED: TextFormatType
TEXT_FORMAT_TYPE_TEXT: TextFormatType
TEXT_FORMAT_TYPE_JSON_OBJECT: TextFormatType
TEXT_FORMAT_TYPE_JSON_SCHEMA: TextFormatType
RESPONSE_STATUS_UNSPECIFIED: ResponseStatus
RESPONSE_STATUS_IN_PROGRESS: ResponseStatus
RESPONSE_STATUS_COMPLETED: ResponseStatus
RESPONSE_STATUS_INCOMPLETE: ResponseStatus
RESPONSE_STATUS_FAILED: ResponseStatus
LIST_ORDER_UNSPECIFIED: ListOrder
LIST_ORDER_DESCENDING: ListOrder
LIST_ORDER_ASCENDING: ListOrder

class FileCitation(_message.Message):
    __slots__ = ("file_id", "filename", "index")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    filename: str
    index: int
    def __init__(self, file_id: _Optional[str] = ..., filename: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

class ContentPart(_message.Message):
    __slots__ = ("input_text", "output_text", "refusal", "input_image_url", "annotations")
    INPUT_TEXT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TEXT_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    INPUT_IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    input_text: str
    output_text: str
    refusal: str
    input_image_url: str
    annotations: _containers.RepeatedCompositeFieldContainer[FileCitation]
    def __init__(self, input_text: _Optional[str] = ..., output_text: _Optional[str] = ..., refusal: _Optional[str] = ..., input_image_url: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[FileCitation, _Mapping]]] = ...) -> None: ...

class MessageItem(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: MessageRole
    content: _containers.RepeatedCompositeFieldContainer[ContentPart]
    def __init__(self, role: _Optional[_Union[MessageRole, str]] = ..., content: _Optional[_Iterable[_Union[ContentPart, _Mapping]]] = ...) -> None: ...

class FunctionCallItem(_message.Message):
    __slots__ = ("call_id", "name", "arguments")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    name: str
    arguments: str
    def __init__(self, call_id: _Optional[str] = ..., name: _Optional[str] = ..., arguments: _Optional[str] = ...) -> None: ...

class FunctionCallOutputItem(_message.Message):
    __slots__ = ("call_id", "output")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    output: str
    def __init__(self, call_id: _Optional[str] = ..., output: _Optional[str] = ...) -> None: ...

class FileSearchResult(_message.Message):
    __slots__ = ("file_id", "filename", "score", "text", "attributes")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    filename: str
    score: float
    text: str
    attributes: _struct_pb2.Struct
    def __init__(self, file_id: _Optional[str] = ..., filename: _Optional[str] = ..., score: _Optional[float] = ..., text: _Optional[str] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class FileSearchCallItem(_message.Message):
    __slots__ = ("queries", "results", "call_id")
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    queries: _containers.RepeatedScalarFieldContainer[str]
    results: _containers.RepeatedCompositeFieldContainer[FileSearchResult]
    call_id: str
    def __init__(self, queries: _Optional[_Iterable[str]] = ..., results: _Optional[_Iterable[_Union[FileSearchResult, _Mapping]]] = ..., call_id: _Optional[str] = ...) -> None: ...

class McpCallItem(_message.Message):
    __slots__ = ("server_label", "name", "arguments", "output", "error", "call_id")
    SERVER_LABEL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    server_label: str
    name: str
    arguments: str
    output: str
    error: str
    call_id: str
    def __init__(self, server_label: _Optional[str] = ..., name: _Optional[str] = ..., arguments: _Optional[str] = ..., output: _Optional[str] = ..., error: _Optional[str] = ..., call_id: _Optional[str] = ...) -> None: ...

class McpListedTool(_message.Message):
    __slots__ = ("name", "description", "input_schema")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    input_schema: _struct_pb2.Struct
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., input_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class McpListToolsItem(_message.Message):
    __slots__ = ("server_label", "tools")
    SERVER_LABEL_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    server_label: str
    tools: _containers.RepeatedCompositeFieldContainer[McpListedTool]
    def __init__(self, server_label: _Optional[str] = ..., tools: _Optional[_Iterable[_Union[McpListedTool, _Mapping]]] = ...) -> None: ...

class WebSearchCallItem(_message.Message):
    __slots__ = ("query", "call_id", "output")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    query: str
    call_id: str
    output: str
    def __init__(self, query: _Optional[str] = ..., call_id: _Optional[str] = ..., output: _Optional[str] = ...) -> None: ...

class ResponseItem(_message.Message):
    __slots__ = ("id", "message", "function_call", "function_call_output", "file_search_call", "mcp_call", "mcp_list_tools", "web_search_call", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_CALL_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_CALL_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    FILE_SEARCH_CALL_FIELD_NUMBER: _ClassVar[int]
    MCP_CALL_FIELD_NUMBER: _ClassVar[int]
    MCP_LIST_TOOLS_FIELD_NUMBER: _ClassVar[int]
    WEB_SEARCH_CALL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    message: MessageItem
    function_call: FunctionCallItem
    function_call_output: FunctionCallOutputItem
    file_search_call: FileSearchCallItem
    mcp_call: McpCallItem
    mcp_list_tools: McpListToolsItem
    web_search_call: WebSearchCallItem
    status: ItemStatus
    def __init__(self, id: _Optional[str] = ..., message: _Optional[_Union[MessageItem, _Mapping]] = ..., function_call: _Optional[_Union[FunctionCallItem, _Mapping]] = ..., function_call_output: _Optional[_Union[FunctionCallOutputItem, _Mapping]] = ..., file_search_call: _Optional[_Union[FileSearchCallItem, _Mapping]] = ..., mcp_call: _Optional[_Union[McpCallItem, _Mapping]] = ..., mcp_list_tools: _Optional[_Union[McpListToolsItem, _Mapping]] = ..., web_search_call: _Optional[_Union[WebSearchCallItem, _Mapping]] = ..., status: _Optional[_Union[ItemStatus, str]] = ...) -> None: ...

class FunctionTool(_message.Message):
    __slots__ = ("name", "description", "parameters", "strict")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: _struct_pb2.Struct
    strict: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., strict: _Optional[bool] = ...) -> None: ...

class FileSearchTool(_message.Message):
    __slots__ = ("vector_store_ids", "max_num_results", "filters")
    VECTOR_STORE_IDS_FIELD_NUMBER: _ClassVar[int]
    MAX_NUM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    vector_store_ids: _containers.RepeatedScalarFieldContainer[str]
    max_num_results: int
    filters: _struct_pb2.Struct
    def __init__(self, vector_store_ids: _Optional[_Iterable[str]] = ..., max_num_results: _Optional[int] = ..., filters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class McpTool(_message.Message):
    __slots__ = ("server_label", "server_url", "allowed_tools")
    SERVER_LABEL_FIELD_NUMBER: _ClassVar[int]
    SERVER_URL_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_TOOLS_FIELD_NUMBER: _ClassVar[int]
    server_label: str
    server_url: str
    allowed_tools: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, server_label: _Optional[str] = ..., server_url: _Optional[str] = ..., allowed_tools: _Optional[_Iterable[str]] = ...) -> None: ...

class WebSearchTool(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResponseTool(_message.Message):
    __slots__ = ("function", "file_search", "mcp", "web_search")
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    FILE_SEARCH_FIELD_NUMBER: _ClassVar[int]
    MCP_FIELD_NUMBER: _ClassVar[int]
    WEB_SEARCH_FIELD_NUMBER: _ClassVar[int]
    function: FunctionTool
    file_search: FileSearchTool
    mcp: McpTool
    web_search: WebSearchTool
    def __init__(self, function: _Optional[_Union[FunctionTool, _Mapping]] = ..., file_search: _Optional[_Union[FileSearchTool, _Mapping]] = ..., mcp: _Optional[_Union[McpTool, _Mapping]] = ..., web_search: _Optional[_Union[WebSearchTool, _Mapping]] = ...) -> None: ...

class McpToolChoice(_message.Message):
    __slots__ = ("server_label", "name")
    SERVER_LABEL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    server_label: str
    name: str
    def __init__(self, server_label: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ResponseToolChoice(_message.Message):
    __slots__ = ("mode", "function_name", "builtin", "mcp")
    MODE_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    BUILTIN_FIELD_NUMBER: _ClassVar[int]
    MCP_FIELD_NUMBER: _ClassVar[int]
    mode: _tools_pb2.ToolChoiceMode
    function_name: str
    builtin: BuiltinToolType
    mcp: McpToolChoice
    def __init__(self, mode: _Optional[_Union[_tools_pb2.ToolChoiceMode, str]] = ..., function_name: _Optional[str] = ..., builtin: _Optional[_Union[BuiltinToolType, str]] = ..., mcp: _Optional[_Union[McpToolChoice, _Mapping]] = ...) -> None: ...

class TextFormat(_message.Message):
    __slots__ = ("type", "name", "schema", "strict", "description")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    type: TextFormatType
    name: str
    schema: _struct_pb2.Struct
    strict: bool
    description: str
    def __init__(self, type: _Optional[_Union[TextFormatType, str]] = ..., name: _Optional[str] = ..., schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., strict: _Optional[bool] = ..., description: _Optional[str] = ...) -> None: ...

class Response(_message.Message):
    __slots__ = ("id", "create_time", "status", "model", "instructions", "output", "error", "incomplete_reason", "usage", "previous_response_id", "conversation_id", "tools", "tool_choice", "temperature", "top_p", "max_output_tokens", "text_format", "store", "metadata", "complete_time")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    INCOMPLETE_REASON_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    create_time: _timestamp_pb2.Timestamp
    status: ResponseStatus
    model: str
    instructions: str
    output: _containers.RepeatedCompositeFieldContainer[ResponseItem]
    error: _stream_error_pb2.StreamError
    incomplete_reason: str
    usage: _sampling_pb2.Usage
    previous_response_id: str
    conversation_id: str
    tools: _containers.RepeatedCompositeFieldContainer[ResponseTool]
    tool_choice: ResponseToolChoice
    temperature: float
    top_p: float
    max_output_tokens: int
    text_format: TextFormat
    store: bool
    metadata: _containers.ScalarMap[str, str]
    complete_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[ResponseStatus, str]] = ..., model: _Optional[str] = ..., instructions: _Optional[str] = ..., output: _Optional[_Iterable[_Union[ResponseItem, _Mapping]]] = ..., error: _Optional[_Union[_stream_error_pb2.StreamError, _Mapping]] = ..., incomplete_reason: _Optional[str] = ..., usage: _Optional[_Union[_sampling_pb2.Usage, _Mapping]] = ..., previous_response_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., tools: _Optional[_Iterable[_Union[ResponseTool, _Mapping]]] = ..., tool_choice: _Optional[_Union[ResponseToolChoice, _Mapping]] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., max_output_tokens: _Optional[int] = ..., text_format: _Optional[_Union[TextFormat, _Mapping]] = ..., store: _Optional[bool] = ..., metadata: _Optional[_Mapping[str, str]] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateResponseRequest(_message.Message):
    __slots__ = ("model", "input", "instructions", "tools", "tool_choice", "text_format", "temperature", "top_p", "max_output_tokens", "previous_response_id", "conversation_id", "store", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    model: str
    input: _containers.RepeatedCompositeFieldContainer[ResponseItem]
    instructions: str
    tools: _containers.RepeatedCompositeFieldContainer[ResponseTool]
    tool_choice: ResponseToolChoice
    text_format: TextFormat
    temperature: float
    top_p: float
    max_output_tokens: int
    previous_response_id: str
    conversation_id: str
    store: bool
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, model: _Optional[str] = ..., input: _Optional[_Iterable[_Union[ResponseItem, _Mapping]]] = ..., instructions: _Optional[str] = ..., tools: _Optional[_Iterable[_Union[ResponseTool, _Mapping]]] = ..., tool_choice: _Optional[_Union[ResponseToolChoice, _Mapping]] = ..., text_format: _Optional[_Union[TextFormat, _Mapping]] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., max_output_tokens: _Optional[int] = ..., previous_response_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., store: _Optional[bool] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class StreamResponseRequest(_message.Message):
    __slots__ = ("model", "input", "instructions", "tools", "tool_choice", "text_format", "temperature", "top_p", "max_output_tokens", "previous_response_id", "conversation_id", "store", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    model: str
    input: _containers.RepeatedCompositeFieldContainer[ResponseItem]
    instructions: str
    tools: _containers.RepeatedCompositeFieldContainer[ResponseTool]
    tool_choice: ResponseToolChoice
    text_format: TextFormat
    temperature: float
    top_p: float
    max_output_tokens: int
    previous_response_id: str
    conversation_id: str
    store: bool
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, model: _Optional[str] = ..., input: _Optional[_Iterable[_Union[ResponseItem, _Mapping]]] = ..., instructions: _Optional[str] = ..., tools: _Optional[_Iterable[_Union[ResponseTool, _Mapping]]] = ..., tool_choice: _Optional[_Union[ResponseToolChoice, _Mapping]] = ..., text_format: _Optional[_Union[TextFormat, _Mapping]] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., max_output_tokens: _Optional[int] = ..., previous_response_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., store: _Optional[bool] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class OutputItemEvent(_message.Message):
    __slots__ = ("output_index", "item")
    OUTPUT_INDEX_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    output_index: int
    item: ResponseItem
    def __init__(self, output_index: _Optional[int] = ..., item: _Optional[_Union[ResponseItem, _Mapping]] = ...) -> None: ...

class ContentPartEvent(_message.Message):
    __slots__ = ("item_id", "output_index", "content_index", "part")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_INDEX_FIELD_NUMBER: _ClassVar[int]
    CONTENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    output_index: int
    content_index: int
    part: ContentPart
    def __init__(self, item_id: _Optional[str] = ..., output_index: _Optional[int] = ..., content_index: _Optional[int] = ..., part: _Optional[_Union[ContentPart, _Mapping]] = ...) -> None: ...

class TextDeltaEvent(_message.Message):
    __slots__ = ("item_id", "output_index", "content_index", "delta")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_INDEX_FIELD_NUMBER: _ClassVar[int]
    CONTENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    output_index: int
    content_index: int
    delta: str
    def __init__(self, item_id: _Optional[str] = ..., output_index: _Optional[int] = ..., content_index: _Optional[int] = ..., delta: _Optional[str] = ...) -> None: ...

class TextDoneEvent(_message.Message):
    __slots__ = ("item_id", "output_index", "content_index", "text")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_INDEX_FIELD_NUMBER: _ClassVar[int]
    CONTENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    output_index: int
    content_index: int
    text: str
    def __init__(self, item_id: _Optional[str] = ..., output_index: _Optional[int] = ..., content_index: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class ArgumentsDeltaEvent(_message.Message):
    __slots__ = ("item_id", "output_index", "delta")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_INDEX_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    output_index: int
    delta: str
    def __init__(self, item_id: _Optional[str] = ..., output_index: _Optional[int] = ..., delta: _Optional[str] = ...) -> None: ...

class ArgumentsDoneEvent(_message.Message):
    __slots__ = ("item_id", "output_index", "arguments")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_INDEX_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    output_index: int
    arguments: str
    def __init__(self, item_id: _Optional[str] = ..., output_index: _Optional[int] = ..., arguments: _Optional[str] = ...) -> None: ...

class ToolCallProgressEvent(_message.Message):
    __slots__ = ("item_id", "output_index", "status")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_INDEX_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    output_index: int
    status: ItemStatus
    def __init__(self, item_id: _Optional[str] = ..., output_index: _Optional[int] = ..., status: _Optional[_Union[ItemStatus, str]] = ...) -> None: ...

class StreamResponseResponse(_message.Message):
    __slots__ = ("created", "output_item_added", "output_item_done", "content_part_added", "content_part_done", "output_text_delta", "output_text_done", "arguments_delta", "arguments_done", "tool_call_progress", "completed", "incomplete", "failed")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_ITEM_ADDED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_ITEM_DONE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_PART_ADDED_FIELD_NUMBER: _ClassVar[int]
    CONTENT_PART_DONE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TEXT_DELTA_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TEXT_DONE_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_DELTA_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_DONE_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    INCOMPLETE_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    created: Response
    output_item_added: OutputItemEvent
    output_item_done: OutputItemEvent
    content_part_added: ContentPartEvent
    content_part_done: ContentPartEvent
    output_text_delta: TextDeltaEvent
    output_text_done: TextDoneEvent
    arguments_delta: ArgumentsDeltaEvent
    arguments_done: ArgumentsDoneEvent
    tool_call_progress: ToolCallProgressEvent
    completed: Response
    incomplete: Response
    failed: Response
    def __init__(self, created: _Optional[_Union[Response, _Mapping]] = ..., output_item_added: _Optional[_Union[OutputItemEvent, _Mapping]] = ..., output_item_done: _Optional[_Union[OutputItemEvent, _Mapping]] = ..., content_part_added: _Optional[_Union[ContentPartEvent, _Mapping]] = ..., content_part_done: _Optional[_Union[ContentPartEvent, _Mapping]] = ..., output_text_delta: _Optional[_Union[TextDeltaEvent, _Mapping]] = ..., output_text_done: _Optional[_Union[TextDoneEvent, _Mapping]] = ..., arguments_delta: _Optional[_Union[ArgumentsDeltaEvent, _Mapping]] = ..., arguments_done: _Optional[_Union[ArgumentsDoneEvent, _Mapping]] = ..., tool_call_progress: _Optional[_Union[ToolCallProgressEvent, _Mapping]] = ..., completed: _Optional[_Union[Response, _Mapping]] = ..., incomplete: _Optional[_Union[Response, _Mapping]] = ..., failed: _Optional[_Union[Response, _Mapping]] = ...) -> None: ...

class GetResponseRequest(_message.Message):
    __slots__ = ("response_id",)
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    response_id: str
    def __init__(self, response_id: _Optional[str] = ...) -> None: ...

class DeleteResponseRequest(_message.Message):
    __slots__ = ("response_id",)
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    response_id: str
    def __init__(self, response_id: _Optional[str] = ...) -> None: ...

class DeleteResponseResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListResponseInputItemsRequest(_message.Message):
    __slots__ = ("response_id", "page_size", "page_token", "order", "after")
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    response_id: str
    page_size: int
    page_token: str
    order: ListOrder
    after: str
    def __init__(self, response_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., order: _Optional[_Union[ListOrder, str]] = ..., after: _Optional[str] = ...) -> None: ...

class ListResponseInputItemsResponse(_message.Message):
    __slots__ = ("items", "next_page_token")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ResponseItem]
    next_page_token: str
    def __init__(self, items: _Optional[_Iterable[_Union[ResponseItem, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Conversation(_message.Message):
    __slots__ = ("id", "create_time", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    create_time: _timestamp_pb2.Timestamp
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateConversationRequest(_message.Message):
    __slots__ = ("items", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ResponseItem]
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, items: _Optional[_Iterable[_Union[ResponseItem, _Mapping]]] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetConversationRequest(_message.Message):
    __slots__ = ("conversation_id",)
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    def __init__(self, conversation_id: _Optional[str] = ...) -> None: ...

class UpdateConversationRequest(_message.Message):
    __slots__ = ("conversation_id", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, conversation_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DeleteConversationRequest(_message.Message):
    __slots__ = ("conversation_id",)
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    def __init__(self, conversation_id: _Optional[str] = ...) -> None: ...

class DeleteConversationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListConversationItemsRequest(_message.Message):
    __slots__ = ("conversation_id", "page_size", "page_token", "order", "after")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    page_size: int
    page_token: str
    order: ListOrder
    after: str
    def __init__(self, conversation_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., order: _Optional[_Union[ListOrder, str]] = ..., after: _Optional[str] = ...) -> None: ...

class ListConversationItemsResponse(_message.Message):
    __slots__ = ("items", "next_page_token")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ResponseItem]
    next_page_token: str
    def __init__(self, items: _Optional[_Iterable[_Union[ResponseItem, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AddConversationItemsRequest(_message.Message):
    __slots__ = ("conversation_id", "items")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    items: _containers.RepeatedCompositeFieldContainer[ResponseItem]
    def __init__(self, conversation_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[ResponseItem, _Mapping]]] = ...) -> None: ...

class AddConversationItemsResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ResponseItem]
    def __init__(self, items: _Optional[_Iterable[_Union[ResponseItem, _Mapping]]] = ...) -> None: ...

class GetConversationItemRequest(_message.Message):
    __slots__ = ("conversation_id", "item_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    item_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., item_id: _Optional[str] = ...) -> None: ...

class DeleteConversationItemRequest(_message.Message):
    __slots__ = ("conversation_id", "item_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    item_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., item_id: _Optional[str] = ...) -> None: ...
