from google.protobuf import struct_pb2 as _struct_pb2
from llama.common.v1 import content_pb2 as _content_pb2
from llama.common.v1 import retrieval_pb2 as _retrieval_pb2
from llama.common.v1 import routing_pb2 as _routing_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Chunk(_message.Message):
    __slots__ = ("content", "metadata", "embedding", "chunk_id")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    content: _content_pb2.Content
    metadata: _struct_pb2.Struct
    embedding: _containers.RepeatedScalarFieldContainer[float]
    chunk_id: str
    def __init__(self, content: _Optional[_Union[_content_pb2.Content, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., embedding: _Optional[_Iterable[float]] = ..., chunk_id: _Optional[str] = ...) -> None: ...

class InsertChunksRequest(_message.Message):
    __slots__ = ("vector_db_id", "chunks")
    VECTOR_DB_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    vector_db_id: str
    chunks: _containers.RepeatedCompositeFieldContainer[Chunk]
    def __init__(self, vector_db_id: _Optional[str] = ..., chunks: _Optional[_Iterable[_Union[Chunk, _Mapping]]] = ...) -> None: ...

class InsertChunksResponse(_message.Message):
    __slots__ = ("chunk_ids",)
    CHUNK_IDS_FIELD_NUMBER: _ClassVar[int]
    chunk_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, chunk_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class QueryParams(_message.Message):
    __slots__ = ("max_chunks", "score_threshold", "mode", "metadata_filter")
    MAX_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    SCORE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FILTER_FIELD_NUMBER: _ClassVar[int]
    max_chunks: int
    score_threshold: float
    mode: _retrieval_pb2.SearchMode
    metadata_filter: _struct_pb2.Struct
    def __init__(self, max_chunks: _Optional[int] = ..., score_threshold: _Optional[float] = ..., mode: _Optional[_Union[_retrieval_pb2.SearchMode, str]] = ..., metadata_filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class QueryChunksRequest(_message.Message):
    __slots__ = ("vector_db_id", "query", "params", "query_vector")
    VECTOR_DB_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    QUERY_VECTOR_FIELD_NUMBER: _ClassVar[int]
    vector_db_id: str
    query: _content_pb2.Content
    params: QueryParams
    query_vector: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, vector_db_id: _Optional[str] = ..., query: _Optional[_Union[_content_pb2.Content, _Mapping]] = ..., params: _Optional[_Union[QueryParams, _Mapping]] = ..., query_vector: _Optional[_Iterable[float]] = ...) -> None: ...

class QueryChunksResponse(_message.Message):
    __slots__ = ("chunks", "scores")
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    chunks: _containers.RepeatedCompositeFieldContainer[Chunk]
    scores: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, chunks: _Optional[_Iterable[_Union[Chunk, _Mapping]]] = ..., scores: _Optional[_Iterable[float]] = ...) -> None: ...

class DeleteChunksRequest(_message.Message):
    __slots__ = ("vector_db_id", "chunk_ids", "metadata_filter")
    VECTOR_DB_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_IDS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FILTER_FIELD_NUMBER: _ClassVar[int]
    vector_db_id: str
    chunk_ids: _containers.RepeatedScalarFieldContainer[str]
    metadata_filter: _struct_pb2.Struct
    def __init__(self, vector_db_id: _Optional[str] = ..., chunk_ids: _Optional[_Iterable[str]] = ..., metadata_filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class DeleteChunksResponse(_message.Message):
    __slots__ = ("deleted_count",)
    DELETED_COUNT_FIELD_NUMBER: _ClassVar[int]
    deleted_count: int
    def __init__(self, deleted_count: _Optional[int] = ...) -> None: ...
