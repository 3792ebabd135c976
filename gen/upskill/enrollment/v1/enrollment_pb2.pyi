import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from upskill.catalog.v1 import catalog_pb2 as _catalog_pb2
from upskill.type.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnrollmentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENROLLMENT_STATUS_UNSPECIFIED: _ClassVar[EnrollmentStatus]
    ENROLLMENT_STATUS_PENDING_PAYMENT: _ClassVar[EnrollmentStatus]
    ENROLLMENT_STATUS_ACTIVE: _ClassVar[EnrollmentStatus]
    ENROLLMENT_STATUS_COMPLETED: _ClassVar[EnrollmentStatus]
    ENROLLMENT_STATUS_EXPIRED: _ClassVar[EnrollmentStatus]
    ENROLLMENT_STATUS_CANCELLED: _ClassVar[EnrollmentStatus]
    ENROLLMENT_STATUS_REFUNDED: _ClassVar[EnrollmentStatus]
ENROLLMENT_STATUS_UNSPECIFIED: EnrollmentStatus
ENROLLMENT_STATUS_PENDING_PAYMENT: EnrollmentStatus
ENROLLMENT_STATUS_ACTIVE: EnrollmentStatus
ENROLLMENT_STATUS_COMPLETED: EnrollmentStatus
ENROLLMENT_STATUS_EXPIRED: EnrollmentStatus
ENROLLMENT_STATUS_CANCELLED: EnrollmentStatus
ENROLLMENT_STATUS_REFUNDED: EnrollmentStatus

class ProgramSnapshot(_message.Message):
    __slots__ = ("program_id", "provider_id", "provider_name", "title", "price", "credential", "skills", "program_version", "volume_tiers")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_NAME_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_VERSION_FIELD_NUMBER: _ClassVar[int]
    VOLUME_TIERS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    provider_id: str
    provider_name: str
    title: str
    price: _money_pb2.Money
    credential: _catalog_pb2.CredentialTemplate
    skills: _containers.RepeatedScalarFieldContainer[str]
    program_version: int
    volume_tiers: _containers.RepeatedCompositeFieldContainer[_catalog_pb2.VolumeTier]
    def __init__(self, program_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., provider_name: _Optional[str] = ..., title: _Optional[str] = ..., price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., credential: _Optional[_Union[_catalog_pb2.CredentialTemplate, _Mapping]] = ..., skills: _Optional[_Iterable[str]] = ..., program_version: _Optional[int] = ..., volume_tiers: _Optional[_Iterable[_Union[_catalog_pb2.VolumeTier, _Mapping]]] = ...) -> None: ...

class Enrollment(_message.Message):
    __slots__ = ("id", "learner_id", "learner_email", "program", "status", "payment_id", "checkout_url", "credential_id", "grade", "evidence_url", "create_time", "update_time", "learner_refund_until")
    ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_URL_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_URL_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LEARNER_REFUND_UNTIL_FIELD_NUMBER: _ClassVar[int]
    id: str
    learner_id: str
    learner_email: str
    program: ProgramSnapshot
    status: EnrollmentStatus
    payment_id: str
    checkout_url: str
    credential_id: str
    grade: str
    evidence_url: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    learner_refund_until: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., learner_id: _Optional[str] = ..., learner_email: _Optional[str] = ..., program: _Optional[_Union[ProgramSnapshot, _Mapping]] = ..., status: _Optional[_Union[EnrollmentStatus, str]] = ..., payment_id: _Optional[str] = ..., checkout_url: _Optional[str] = ..., credential_id: _Optional[str] = ..., grade: _Optional[str] = ..., evidence_url: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., learner_refund_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
