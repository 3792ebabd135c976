import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CredentialIssued(_message.Message):
    __slots__ = ("credential_id", "enrollment_id", "learner_id", "program_id", "occur_time")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    enrollment_id: str
    learner_id: str
    program_id: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, credential_id: _Optional[str] = ..., enrollment_id: _Optional[str] = ..., learner_id: _Optional[str] = ..., program_id: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CredentialRevoked(_message.Message):
    __slots__ = ("credential_id", "enrollment_id", "reason", "occur_time", "pathway_id")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    PATHWAY_ID_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    enrollment_id: str
    reason: str
    occur_time: _timestamp_pb2.Timestamp
    pathway_id: str
    def __init__(self, credential_id: _Optional[str] = ..., enrollment_id: _Optional[str] = ..., reason: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pathway_id: _Optional[str] = ...) -> None: ...

class PathwayCredentialIssued(_message.Message):
    __slots__ = ("credential_id", "pathway_id", "learner_id", "component_credential_ids", "occur_time")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    PATHWAY_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    COMPONENT_CREDENTIAL_IDS_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    pathway_id: str
    learner_id: str
    component_credential_ids: _containers.RepeatedScalarFieldContainer[str]
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, credential_id: _Optional[str] = ..., pathway_id: _Optional[str] = ..., learner_id: _Optional[str] = ..., component_credential_ids: _Optional[_Iterable[str]] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
