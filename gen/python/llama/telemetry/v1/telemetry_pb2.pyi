import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueryConditionOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUERY_CONDITION_OP_UNSPECIFIED: _ClassVar[QueryConditionOp]
    QUERY_CONDITION_OP_EQ: _ClassVar[QueryConditionOp]
    QUERY_CONDITION_OP_NE: _ClassVar[QueryConditionOp]
    QUERY_CONDITION_OP_GT: _ClassVar[QueryConditionOp]
    QUERY_CONDITION_OP_LT: _ClassVar[QueryConditionOp]

class SpanStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPAN_STATUS_UNSPECIFIED: _ClassVar[SpanStatus]
    SPAN_STATUS_OK: _ClassVar[SpanStatus]
    SPAN_STATUS_ERROR: _ClassVar[SpanStatus]
QUERY_CONDITION_OP_UNSPECIFIED: QueryConditionOp
QUERY_CONDITION_OP_EQ: QueryConditionOp
QUERY_CONDITION_OP_NE: QueryConditionOp
QUERY_CONDITION_OP_GT: QueryConditionOp
QUERY_CONDITION_OP_LT: QueryConditionOp
SPAN_STATUS_UNSPECIFIED: SpanStatus
SPAN_STATUS_OK: SpanStatus
SPAN_STATUS_ERROR: SpanStatus

class QueryCondition(_message.Message):
    __slots__ = ("key", "op", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    op: QueryConditionOp
    value: _struct_pb2.Value
    def __init__(self, key: _Optional[str] = ..., op: _Optional[_Union[QueryConditionOp, str]] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class Span(_message.Message):
    __slots__ = ("span_id", "trace_id", "parent_span_id", "name", "start_time", "end_time", "attributes", "status")
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    span_id: str
    trace_id: str
    parent_span_id: str
    name: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    attributes: _struct_pb2.Struct
    status: SpanStatus
    def __init__(self, span_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., parent_span_id: _Optional[str] = ..., name: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., status: _Optional[_Union[SpanStatus, str]] = ...) -> None: ...

class Trace(_message.Message):
    __slots__ = ("trace_id", "root_span_id", "start_time", "end_time")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    ROOT_SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    root_span_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, trace_id: _Optional[str] = ..., root_span_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class QueryTracesRequest(_message.Message):
    __slots__ = ("attribute_filters", "page_size", "page_token", "order_by")
    ATTRIBUTE_FILTERS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    attribute_filters: _containers.RepeatedCompositeFieldContainer[QueryCondition]
    page_size: int
    page_token: str
    order_by: str
    def __init__(self, attribute_filters: _Optional[_Iterable[_Union[QueryCondition, _Mapping]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., order_by: _Optional[str] = ...) -> None: ...

class QueryTracesResponse(_message.Message):
    __slots__ = ("traces", "next_page_token")
    TRACES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    traces: _containers.RepeatedCompositeFieldContainer[Trace]
    next_page_token: str
    def __init__(self, traces: _Optional[_Iterable[_Union[Trace, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetTraceRequest(_message.Message):
    __slots__ = ("trace_id",)
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    def __init__(self, trace_id: _Optional[str] = ...) -> None: ...

class GetSpanRequest(_message.Message):
    __slots__ = ("trace_id", "span_id")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    span_id: str
    def __init__(self, trace_id: _Optional[str] = ..., span_id: _Optional[str] = ...) -> None: ...

class SpanNode(_message.Message):
    __slots__ = ("span", "children")
    SPAN_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    span: Span
    children: _containers.RepeatedCompositeFieldContainer[SpanNode]
    def __init__(self, span: _Optional[_Union[Span, _Mapping]] = ..., children: _Optional[_Iterable[_Union[SpanNode, _Mapping]]] = ...) -> None: ...

class GetSpanTreeRequest(_message.Message):
    __slots__ = ("span_id", "attributes_to_return", "max_depth")
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_TO_RETURN_FIELD_NUMBER: _ClassVar[int]
    MAX_DEPTH_FIELD_NUMBER: _ClassVar[int]
    span_id: str
    attributes_to_return: _containers.RepeatedScalarFieldContainer[str]
    max_depth: int
    def __init__(self, span_id: _Optional[str] = ..., attributes_to_return: _Optional[_Iterable[str]] = ..., max_depth: _Optional[int] = ...) -> None: ...

class GetSpanTreeResponse(_message.Message):
    __slots__ = ("root",)
    ROOT_FIELD_NUMBER: _ClassVar[int]
    root: SpanNode
    def __init__(self, root: _Optional[_Union[SpanNode, _Mapping]] = ...) -> None: ...

class QuerySpansRequest(_message.Message):
    __slots__ = ("attribute_filters", "attributes_to_return", "max_depth", "page_size", "page_token")
    ATTRIBUTE_FILTERS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_TO_RETURN_FIELD_NUMBER: _ClassVar[int]
    MAX_DEPTH_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    attribute_filters: _containers.RepeatedCompositeFieldContainer[QueryCondition]
    attributes_to_return: _containers.RepeatedScalarFieldContainer[str]
    max_depth: int
    page_size: int
    page_token: str
    def __init__(self, attribute_filters: _Optional[_Iterable[_Union[QueryCondition, _Mapping]]] = ..., attributes_to_return: _Optional[_Iterable[str]] = ..., max_depth: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class QuerySpansResponse(_message.Message):
    __slots__ = ("spans", "next_page_token")
    SPANS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    spans: _containers.RepeatedCompositeFieldContainer[Span]
    next_page_token: str
    def __init__(self, spans: _Optional[_Iterable[_Union[Span, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SaveSpansToDatasetRequest(_message.Message):
    __slots__ = ("attribute_filters", "attributes_to_save", "dataset_id", "max_depth")
    ATTRIBUTE_FILTERS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_TO_SAVE_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_DEPTH_FIELD_NUMBER: _ClassVar[int]
    attribute_filters: _containers.RepeatedCompositeFieldContainer[QueryCondition]
    attributes_to_save: _containers.RepeatedScalarFieldContainer[str]
    dataset_id: str
    max_depth: int
    def __init__(self, attribute_filters: _Optional[_Iterable[_Union[QueryCondition, _Mapping]]] = ..., attributes_to_save: _Optional[_Iterable[str]] = ..., dataset_id: _Optional[str] = ..., max_depth: _Optional[int] = ...) -> None: ...

class SaveSpansToDatasetResponse(_message.Message):
    __slots__ = ("saved_rows",)
    SAVED_ROWS_FIELD_NUMBER: _ClassVar[int]
    saved_rows: int
    def __init__(self, saved_rows: _Optional[int] = ...) -> None: ...
