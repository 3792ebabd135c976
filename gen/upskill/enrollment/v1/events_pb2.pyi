import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from upskill.enrollment.v1 import enrollment_pb2 as _enrollment_pb2
from upskill.type.v1 import money_pb2 as _money_pb2
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

class EnrollmentRefunded(_message.Message):
    __slots__ = ("enrollment_id", "learner_id", "program_id", "payment_id", "refund_id", "reason", "occur_time")
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    learner_id: str
    program_id: str
    payment_id: str
    refund_id: str
    reason: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, enrollment_id: _Optional[str] = ..., learner_id: _Optional[str] = ..., program_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., reason: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SeatPackPaid(_message.Message):
    __slots__ = ("seat_pack_id", "employer_id", "program_id", "provider_id", "seats", "price_per_seat", "total", "payment_id", "occur_time")
    SEAT_PACK_ID_FIELD_NUMBER: _ClassVar[int]
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_SEAT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    seat_pack_id: str
    employer_id: str
    program_id: str
    provider_id: str
    seats: int
    price_per_seat: _money_pb2.Money
    total: _money_pb2.Money
    payment_id: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, seat_pack_id: _Optional[str] = ..., employer_id: _Optional[str] = ..., program_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., seats: _Optional[int] = ..., price_per_seat: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., payment_id: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SeatPackSeatsReleased(_message.Message):
    __slots__ = ("seat_pack_id", "employer_id", "program_id", "seats_released", "seats_left", "refund", "payment_id", "occur_time")
    SEAT_PACK_ID_FIELD_NUMBER: _ClassVar[int]
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    SEATS_RELEASED_FIELD_NUMBER: _ClassVar[int]
    SEATS_LEFT_FIELD_NUMBER: _ClassVar[int]
    REFUND_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    seat_pack_id: str
    employer_id: str
    program_id: str
    seats_released: int
    seats_left: int
    refund: _money_pb2.Money
    payment_id: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, seat_pack_id: _Optional[str] = ..., employer_id: _Optional[str] = ..., program_id: _Optional[str] = ..., seats_released: _Optional[int] = ..., seats_left: _Optional[int] = ..., refund: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., payment_id: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
