from google.protobuf import struct_pb2 as _struct_pb2
from llama.common.v1 import content_pb2 as _content_pb2
from llama.common.v1 import retrieval_pb2 as _retrieval_pb2
from llama.common.v1 import routing_pb2 as _routing_pb2
from llama.common.v1 import tools_pb2 as _tools_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RuntimeTool(_message.Message):
    __slots__ = ("tool_group_id", "definition", "metadata")
    TOOL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    tool_group_id: str
    definition: _tools_pb2.ToolDefinition
    metadata: _struct_pb2.Struct
    def __init__(self, tool_group_id: _Optional[str] = ..., definition: _Optional[_Union[_tools_pb2.ToolDefinition, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ListRuntimeToolsRequest(_message.Message):
    __slots__ = ("tool_group_id", "page_size", "page_token")
    TOOL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tool_group_id: str
    page_size: int
    page_token: str
    def __init__(self, tool_group_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRuntimeToolsResponse(_message.Message):
    __slots__ = ("tools", "next_page_token")
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tools: _containers.RepeatedCompositeFieldContainer[RuntimeTool]
    next_page_token: str
    def __init__(self, tools: _Optional[_Iterable[_Union[RuntimeTool, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class InvokeToolRequest(_message.Message):
    __slots__ = ("tool_group_id", "tool_name", "kwargs")
    TOOL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    KWARGS_FIELD_NUMBER: _ClassVar[int]
    tool_group_id: str
    tool_name: str
    kwargs: _struct_pb2.Struct
    def __init__(self, tool_group_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., kwargs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class InvokeToolResponse(_message.Message):
    __slots__ = ("content", "error_message", "error_code", "metadata")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    content: _content_pb2.Content
    error_message: str
    error_code: int
    metadata: _struct_pb2.Struct
    def __init__(self, content: _Optional[_Union[_content_pb2.Content, _Mapping]] = ..., error_message: _Optional[str] = ..., error_code: _Optional[int] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class RAGDocument(_message.Message):
    __slots__ = ("document_id", "content", "uri", "mime_type", "metadata")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    content: _content_pb2.Content
    uri: str
    mime_type: str
    metadata: _struct_pb2.Struct
    def __init__(self, document_id: _Optional[str] = ..., content: _Optional[_Union[_content_pb2.Content, _Mapping]] = ..., uri: _Optional[str] = ..., mime_type: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class InsertDocumentsRequest(_message.Message):
    __slots__ = ("vector_db_id", "documents", "chunk_size_in_tokens", "chunk_overlap_in_tokens")
    VECTOR_DB_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_IN_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_OVERLAP_IN_TOKENS_FIELD_NUMBER: _ClassVar[int]
    vector_db_id: str
    documents: _containers.RepeatedCompositeFieldContainer[RAGDocument]
    chunk_size_in_tokens: int
    chunk_overlap_in_tokens: int
    def __init__(self, vector_db_id: _Optional[str] = ..., documents: _Optional[_Iterable[_Union[RAGDocument, _Mapping]]] = ..., chunk_size_in_tokens: _Optional[int] = ..., chunk_overlap_in_tokens: _Optional[int] = ...) -> None: ...

class InsertDocumentsResponse(_message.Message):
    __slots__ = ("chunks_inserted",)
    CHUNKS_INSERTED_FIELD_NUMBER: _ClassVar[int]
    chunks_inserted: int
    def __init__(self, chunks_inserted: _Optional[int] = ...) -> None: ...

class SimpleQueryGenerator(_message.Message):
    __slots__ = ("separator",)
    SEPARATOR_FIELD_NUMBER: _ClassVar[int]
    separator: str
    def __init__(self, separator: _Optional[str] = ...) -> None: ...

class LLMQueryGenerator(_message.Message):
    __slots__ = ("model", "template")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    model: str
    template: str
    def __init__(self, model: _Optional[str] = ..., template: _Optional[str] = ...) -> None: ...

class QueryGeneratorConfig(_message.Message):
    __slots__ = ("simple", "llm")
    SIMPLE_FIELD_NUMBER: _ClassVar[int]
    LLM_FIELD_NUMBER: _ClassVar[int]
    simple: SimpleQueryGenerator
    llm: LLMQueryGenerator
    def __init__(self, simple: _Optional[_Union[SimpleQueryGenerator, _Mapping]] = ..., llm: _Optional[_Union[LLMQueryGenerator, _Mapping]] = ...) -> None: ...

class RAGQueryConfig(_message.Message):
    __slots__ = ("query_generator_config", "max_tokens_in_context", "max_chunks", "mode", "chunk_template")
    QUERY_GENERATOR_CONFIG_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_IN_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    MAX_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    query_generator_config: QueryGeneratorConfig
    max_tokens_in_context: int
    max_chunks: int
    mode: _retrieval_pb2.SearchMode
    chunk_template: str
    def __init__(self, query_generator_config: _Optional[_Union[QueryGeneratorConfig, _Mapping]] = ..., max_tokens_in_context: _Optional[int] = ..., max_chunks: _Optional[int] = ..., mode: _Optional[_Union[_retrieval_pb2.SearchMode, str]] = ..., chunk_template: _Optional[str] = ...) -> None: ...

class QueryKnowledgeRequest(_message.Message):
    __slots__ = ("vector_db_ids", "content", "query_config")
    VECTOR_DB_IDS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    QUERY_CONFIG_FIELD_NUMBER: _ClassVar[int]
    vector_db_ids: _containers.RepeatedScalarFieldContainer[str]
    content: _content_pb2.Content
    query_config: RAGQueryConfig
    def __init__(self, vector_db_ids: _Optional[_Iterable[str]] = ..., content: _Optional[_Union[_content_pb2.Content, _Mapping]] = ..., query_config: _Optional[_Union[RAGQueryConfig, _Mapping]] = ...) -> None: ...

class QueryKnowledgeResponse(_message.Message):
    __slots__ = ("content", "document_ids", "scores", "metadata")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    content: _content_pb2.Content
    document_ids: _containers.RepeatedScalarFieldContainer[str]
    scores: _containers.RepeatedScalarFieldContainer[float]
    metadata: _struct_pb2.Struct
    def __init__(self, content: _Optional[_Union[_content_pb2.Content, _Mapping]] = ..., document_ids: _Optional[_Iterable[str]] = ..., scores: _Optional[_Iterable[float]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
