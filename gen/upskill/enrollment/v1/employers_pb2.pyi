import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from upskill.enrollment.v1 import enrollment_pb2 as _enrollment_pb2
from upskill.type.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EmployerRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EMPLOYER_ROLE_UNSPECIFIED: _ClassVar[EmployerRole]
    EMPLOYER_ROLE_OWNER: _ClassVar[EmployerRole]
    EMPLOYER_ROLE_MANAGER: _ClassVar[EmployerRole]

class SeatPackStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEAT_PACK_STATUS_UNSPECIFIED: _ClassVar[SeatPackStatus]
    SEAT_PACK_STATUS_PENDING_PAYMENT: _ClassVar[SeatPackStatus]
    SEAT_PACK_STATUS_PAID: _ClassVar[SeatPackStatus]
    SEAT_PACK_STATUS_EXPIRED: _ClassVar[SeatPackStatus]
    SEAT_PACK_STATUS_CANCELLED: _ClassVar[SeatPackStatus]
    SEAT_PACK_STATUS_REFUNDED: _ClassVar[SeatPackStatus]

class SeatInvitationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEAT_INVITATION_STATUS_UNSPECIFIED: _ClassVar[SeatInvitationStatus]
    SEAT_INVITATION_STATUS_PENDING: _ClassVar[SeatInvitationStatus]
    SEAT_INVITATION_STATUS_REDEEMED: _ClassVar[SeatInvitationStatus]
    SEAT_INVITATION_STATUS_REVOKED: _ClassVar[SeatInvitationStatus]
    SEAT_INVITATION_STATUS_EXPIRED: _ClassVar[SeatInvitationStatus]
EMPLOYER_ROLE_UNSPECIFIED: EmployerRole
EMPLOYER_ROLE_OWNER: EmployerRole
EMPLOYER_ROLE_MANAGER: EmployerRole
SEAT_PACK_STATUS_UNSPECIFIED: SeatPackStatus
SEAT_PACK_STATUS_PENDING_PAYMENT: SeatPackStatus
SEAT_PACK_STATUS_PAID: SeatPackStatus
SEAT_PACK_STATUS_EXPIRED: SeatPackStatus
SEAT_PACK_STATUS_CANCELLED: SeatPackStatus
SEAT_PACK_STATUS_REFUNDED: SeatPackStatus
SEAT_INVITATION_STATUS_UNSPECIFIED: SeatInvitationStatus
SEAT_INVITATION_STATUS_PENDING: SeatInvitationStatus
SEAT_INVITATION_STATUS_REDEEMED: SeatInvitationStatus
SEAT_INVITATION_STATUS_REVOKED: SeatInvitationStatus
SEAT_INVITATION_STATUS_EXPIRED: SeatInvitationStatus

class Employer(_message.Message):
    __slots__ = ("id", "name", "create_time", "role")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    create_time: _timestamp_pb2.Timestamp
    role: EmployerRole
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., role: _Optional[_Union[EmployerRole, str]] = ...) -> None: ...

class EmployerInvitation(_message.Message):
    __slots__ = ("id", "employer_id", "email", "role", "create_time", "accept_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    employer_id: str
    email: str
    role: EmployerRole
    create_time: _timestamp_pb2.Timestamp
    accept_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., employer_id: _Optional[str] = ..., email: _Optional[str] = ..., role: _Optional[_Union[EmployerRole, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., accept_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SeatPack(_message.Message):
    __slots__ = ("id", "employer_id", "program", "seats", "seats_redeemed", "total", "status", "payment_id", "checkout_url", "create_time", "update_time", "seats_refunded", "price_per_seat")
    ID_FIELD_NUMBER: _ClassVar[int]
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    SEATS_REDEEMED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_URL_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SEATS_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_SEAT_FIELD_NUMBER: _ClassVar[int]
    id: str
    employer_id: str
    program: _enrollment_pb2.ProgramSnapshot
    seats: int
    seats_redeemed: int
    total: _money_pb2.Money
    status: SeatPackStatus
    payment_id: str
    checkout_url: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    seats_refunded: int
    price_per_seat: _money_pb2.Money
    def __init__(self, id: _Optional[str] = ..., employer_id: _Optional[str] = ..., program: _Optional[_Union[_enrollment_pb2.ProgramSnapshot, _Mapping]] = ..., seats: _Optional[int] = ..., seats_redeemed: _Optional[int] = ..., total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[_Union[SeatPackStatus, str]] = ..., payment_id: _Optional[str] = ..., checkout_url: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., seats_refunded: _Optional[int] = ..., price_per_seat: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class SeatInvitation(_message.Message):
    __slots__ = ("id", "seat_pack_id", "email", "code", "expire_time", "redeem_time", "enrollment_id", "revoke_time", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_PACK_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REDEEM_TIME_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    seat_pack_id: str
    email: str
    code: str
    expire_time: _timestamp_pb2.Timestamp
    redeem_time: _timestamp_pb2.Timestamp
    enrollment_id: str
    revoke_time: _timestamp_pb2.Timestamp
    status: SeatInvitationStatus
    def __init__(self, id: _Optional[str] = ..., seat_pack_id: _Optional[str] = ..., email: _Optional[str] = ..., code: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., redeem_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., enrollment_id: _Optional[str] = ..., revoke_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[SeatInvitationStatus, str]] = ...) -> None: ...

class TeamEnrollment(_message.Message):
    __slots__ = ("enrollment_id", "program_id", "program_title", "status", "credential_id", "shared", "credential_revoked", "revocation_reason")
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_TITLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_REVOKED_FIELD_NUMBER: _ClassVar[int]
    REVOCATION_REASON_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    program_id: str
    program_title: str
    status: _enrollment_pb2.EnrollmentStatus
    credential_id: str
    shared: bool
    credential_revoked: bool
    revocation_reason: str
    def __init__(self, enrollment_id: _Optional[str] = ..., program_id: _Optional[str] = ..., program_title: _Optional[str] = ..., status: _Optional[_Union[_enrollment_pb2.EnrollmentStatus, str]] = ..., credential_id: _Optional[str] = ..., shared: _Optional[bool] = ..., credential_revoked: _Optional[bool] = ..., revocation_reason: _Optional[str] = ...) -> None: ...

class TeamPerson(_message.Message):
    __slots__ = ("email", "learner_id", "enrollments", "skills", "shared_skills")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENTS_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    SHARED_SKILLS_FIELD_NUMBER: _ClassVar[int]
    email: str
    learner_id: str
    enrollments: _containers.RepeatedCompositeFieldContainer[TeamEnrollment]
    skills: _containers.RepeatedScalarFieldContainer[str]
    shared_skills: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, email: _Optional[str] = ..., learner_id: _Optional[str] = ..., enrollments: _Optional[_Iterable[_Union[TeamEnrollment, _Mapping]]] = ..., skills: _Optional[_Iterable[str]] = ..., shared_skills: _Optional[_Iterable[str]] = ...) -> None: ...

class ShareableCredential(_message.Message):
    __slots__ = ("credential_id", "enrollment_id", "program_id", "program_title", "skills", "shared")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_TITLE_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    enrollment_id: str
    program_id: str
    program_title: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    shared: bool
    def __init__(self, credential_id: _Optional[str] = ..., enrollment_id: _Optional[str] = ..., program_id: _Optional[str] = ..., program_title: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ..., shared: _Optional[bool] = ...) -> None: ...

class Sponsor(_message.Message):
    __slots__ = ("employer", "seen", "credentials")
    EMPLOYER_FIELD_NUMBER: _ClassVar[int]
    SEEN_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    employer: Employer
    seen: TeamPerson
    credentials: _containers.RepeatedCompositeFieldContainer[ShareableCredential]
    def __init__(self, employer: _Optional[_Union[Employer, _Mapping]] = ..., seen: _Optional[_Union[TeamPerson, _Mapping]] = ..., credentials: _Optional[_Iterable[_Union[ShareableCredential, _Mapping]]] = ...) -> None: ...
