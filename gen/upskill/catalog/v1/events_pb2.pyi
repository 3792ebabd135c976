import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from upskill.catalog.v1 import catalog_pb2 as _catalog_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProgramPublished(_message.Message):
    __slots__ = ("program", "occur_time")
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    program: _catalog_pb2.Program
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, program: _Optional[_Union[_catalog_pb2.Program, _Mapping]] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ProgramArchived(_message.Message):
    __slots__ = ("program_id", "provider_id", "occur_time")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    provider_id: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, program_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PathwayPublished(_message.Message):
    __slots__ = ("pathway", "occur_time")
    PATHWAY_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    pathway: _catalog_pb2.Pathway
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, pathway: _Optional[_Union[_catalog_pb2.Pathway, _Mapping]] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PathwayArchived(_message.Message):
    __slots__ = ("pathway_id", "provider_id", "version", "occur_time")
    PATHWAY_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    pathway_id: str
    provider_id: str
    version: int
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, pathway_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., version: _Optional[int] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
