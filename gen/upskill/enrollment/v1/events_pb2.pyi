import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from upskill.enrollment.v1 import enrollment_pb2 as _enrollment_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnrollmentActivated(_message.Message):
    __slots__ = ("enrollment_id", "learner_id", "learner_email", "program", "payment_id", "occur_time")
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    learner_id: str
    learner_email: str
    program: _enrollment_pb2.ProgramSnapshot
    payment_id: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, enrollment_id: _Optional[str] = ..., learner_id: _Optional[str] = ..., learner_email: _Optional[str] = ..., program: _Optional[_Union[_enrollment_pb2.ProgramSnapshot, _Mapping]] = ..., payment_id: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EnrollmentCompleted(_message.Message):
    __slots__ = ("enrollment_id", "learner_id", "learner_email", "program", "payment_id", "grade", "evidence_url", "occur_time")
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_URL_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    learner_id: str
    learner_email: str
    program: _enrollment_pb2.ProgramSnapshot
    payment_id: str
    grade: str
    evidence_url: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, enrollment_id: _Optional[str] = ..., learner_id: _Optional[str] = ..., learner_email: _Optional[str] = ..., program: _Optional[_Union[_enrollment_pb2.ProgramSnapshot, _Mapping]] = ..., payment_id: _Optional[str] = ..., grade: _Optional[str] = ..., evidence_url: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EnrollmentExpired(_message.Message):
    __slots__ = ("enrollment_id", "program_id", "reason", "occur_time")
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    program_id: str
    reason: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, enrollment_id: _Optional[str] = ..., program_id: _Optional[str] = ..., reason: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EnrollmentCancelled(_message.Message):
    __slots__ = ("enrollment_id", "program_id", "payment_id", "occur_time")
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    program_id: str
    payment_id: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, enrollment_id: _Optional[str] = ..., program_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EnrollmentPaymentRejected(_message.Message):
    __slots__ = ("enrollment_id", "payment_id", "learner_id", "program_id", "reason", "enrollment_status", "occur_time")
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    payment_id: str
    learner_id: str
    program_id: str
    reason: str
    enrollment_status: _enrollment_pb2.EnrollmentStatus
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, enrollment_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., learner_id: _Optional[str] = ..., program_id: _Optional[str] = ..., reason: _Optional[str] = ..., enrollment_status: _Optional[_Union[_enrollment_pb2.EnrollmentStatus, str]] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
