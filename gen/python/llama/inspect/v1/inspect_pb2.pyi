from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ServingStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SERVING_STATUS_UNSPECIFIED: _ClassVar[ServingStatus]
    SERVING_STATUS_SERVING: _ClassVar[ServingStatus]
    SERVING_STATUS_NOT_SERVING: _ClassVar[ServingStatus]
    SERVING_STATUS_UNREACHABLE: _ClassVar[ServingStatus]
SERVING_STATUS_UNSPECIFIED: ServingStatus
SERVING_STATUS_SERVING: ServingStatus
SERVING_STATUS_NOT_SERVING: ServingStatus
SERVING_STATUS_UNREACHABLE: ServingStatus

class ProviderInfo(_message.Message):
    __slots__ = ("api", "provider_id", "provider_type", "service", "address", "config")
    API_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    api: str
    provider_id: str
    provider_type: str
    service: str
    address: str
    config: _struct_pb2.Struct
    def __init__(self, api: _Optional[str] = ..., provider_id: _Optional[str] = ..., provider_type: _Optional[str] = ..., service: _Optional[str] = ..., address: _Optional[str] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ListProvidersRequest(_message.Message):
    __slots__ = ("api",)
    API_FIELD_NUMBER: _ClassVar[int]
    api: str
    def __init__(self, api: _Optional[str] = ...) -> None: ...

class ListProvidersResponse(_message.Message):
    __slots__ = ("providers",)
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    providers: _containers.RepeatedCompositeFieldContainer[ProviderInfo]
    def __init__(self, providers: _Optional[_Iterable[_Union[ProviderInfo, _Mapping]]] = ...) -> None: ...

class RouteInfo(_message.Message):
    __slots__ = ("method", "api", "routing_field", "resource_kind", "addresses")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    API_FIELD_NUMBER: _ClassVar[int]
    ROUTING_FIELD_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_KIND_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    method: str
    api: str
    routing_field: str
    resource_kind: str
    addresses: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, method: _Optional[str] = ..., api: _Optional[str] = ..., routing_field: _Optional[str] = ..., resource_kind: _Optional[str] = ..., addresses: _Optional[_Iterable[str]] = ...) -> None: ...

class ListRoutesRequest(_message.Message):
    __slots__ = ("api",)
    API_FIELD_NUMBER: _ClassVar[int]
    api: str
    def __init__(self, api: _Optional[str] = ...) -> None: ...

class ListRoutesResponse(_message.Message):
    __slots__ = ("routes",)
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    routes: _containers.RepeatedCompositeFieldContainer[RouteInfo]
    def __init__(self, routes: _Optional[_Iterable[_Union[RouteInfo, _Mapping]]] = ...) -> None: ...

class ServiceHealth(_message.Message):
    __slots__ = ("service", "api", "address", "status", "message")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    API_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    service: str
    api: str
    address: str
    status: ServingStatus
    message: str
    def __init__(self, service: _Optional[str] = ..., api: _Optional[str] = ..., address: _Optional[str] = ..., status: _Optional[_Union[ServingStatus, str]] = ..., message: _Optional[str] = ...) -> None: ...

class GetHealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetHealthResponse(_message.Message):
    __slots__ = ("status", "services")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    status: ServingStatus
    services: _containers.RepeatedCompositeFieldContainer[ServiceHealth]
    def __init__(self, status: _Optional[_Union[ServingStatus, str]] = ..., services: _Optional[_Iterable[_Union[ServiceHealth, _Mapping]]] = ...) -> None: ...

class GetVersionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetVersionResponse(_message.Message):
    __slots__ = ("version", "distribution")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    version: str
    distribution: str
    def __init__(self, version: _Optional[str] = ..., distribution: _Optional[str] = ...) -> None: ...
