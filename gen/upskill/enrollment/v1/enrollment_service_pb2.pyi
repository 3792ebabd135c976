from buf.validate import validate_pb2 as _validate_pb2
from upskill.enrollment.v1 import enrollment_pb2 as _enrollment_pb2
from upskill.payments.v1 import payments_pb2 as _payments_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateEnrollmentRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CreateEnrollmentResponse(_message.Message):
    __slots__ = ("enrollment",)
    ENROLLMENT_FIELD_NUMBER: _ClassVar[int]
    enrollment: _enrollment_pb2.Enrollment
    def __init__(self, enrollment: _Optional[_Union[_enrollment_pb2.Enrollment, _Mapping]] = ...) -> None: ...

class GetEnrollmentRequest(_message.Message):
    __slots__ = ("enrollment_id",)
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    def __init__(self, enrollment_id: _Optional[str] = ...) -> None: ...

class GetEnrollmentResponse(_message.Message):
    __slots__ = ("enrollment",)
    ENROLLMENT_FIELD_NUMBER: _ClassVar[int]
    enrollment: _enrollment_pb2.Enrollment
    def __init__(self, enrollment: _Optional[_Union[_enrollment_pb2.Enrollment, _Mapping]] = ...) -> None: ...

class ListEnrollmentsRequest(_message.Message):
    __slots__ = ("program_id", "page_size", "page_token", "status")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    page_size: int
    page_token: str
    status: _enrollment_pb2.EnrollmentStatus
    def __init__(self, program_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., status: _Optional[_Union[_enrollment_pb2.EnrollmentStatus, str]] = ...) -> None: ...

class ListEnrollmentsResponse(_message.Message):
    __slots__ = ("enrollments", "next_page_token")
    ENROLLMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    enrollments: _containers.RepeatedCompositeFieldContainer[_enrollment_pb2.Enrollment]
    next_page_token: str
    def __init__(self, enrollments: _Optional[_Iterable[_Union[_enrollment_pb2.Enrollment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CompleteEnrollmentRequest(_message.Message):
    __slots__ = ("enrollment_id", "grade", "evidence_url")
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_URL_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    grade: str
    evidence_url: str
    def __init__(self, enrollment_id: _Optional[str] = ..., grade: _Optional[str] = ..., evidence_url: _Optional[str] = ...) -> None: ...

class CompleteEnrollmentResponse(_message.Message):
    __slots__ = ("enrollment",)
    ENROLLMENT_FIELD_NUMBER: _ClassVar[int]
    enrollment: _enrollment_pb2.Enrollment
    def __init__(self, enrollment: _Optional[_Union[_enrollment_pb2.Enrollment, _Mapping]] = ...) -> None: ...

class CancelEnrollmentRequest(_message.Message):
    __slots__ = ("enrollment_id",)
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    def __init__(self, enrollment_id: _Optional[str] = ...) -> None: ...

class CancelEnrollmentResponse(_message.Message):
    __slots__ = ("enrollment",)
    ENROLLMENT_FIELD_NUMBER: _ClassVar[int]
    enrollment: _enrollment_pb2.Enrollment
    def __init__(self, enrollment: _Optional[_Union[_enrollment_pb2.Enrollment, _Mapping]] = ...) -> None: ...

class RefundEnrollmentRequest(_message.Message):
    __slots__ = ("enrollment_id", "note", "amount_minor", "idempotency_key")
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    note: str
    amount_minor: int
    idempotency_key: str
    def __init__(self, enrollment_id: _Optional[str] = ..., note: _Optional[str] = ..., amount_minor: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class RefundEnrollmentResponse(_message.Message):
    __slots__ = ("refund",)
    REFUND_FIELD_NUMBER: _ClassVar[int]
    refund: _payments_pb2.Refund
    def __init__(self, refund: _Optional[_Union[_payments_pb2.Refund, _Mapping]] = ...) -> None: ...

class CountTakenSeatsRequest(_message.Message):
    __slots__ = ("program_ids",)
    PROGRAM_IDS_FIELD_NUMBER: _ClassVar[int]
    program_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, program_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CountTakenSeatsResponse(_message.Message):
    __slots__ = ("taken",)
    class TakenEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TAKEN_FIELD_NUMBER: _ClassVar[int]
    taken: _containers.ScalarMap[str, int]
    def __init__(self, taken: _Optional[_Mapping[str, int]] = ...) -> None: ...
