import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from upskill.type.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MemberRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBER_ROLE_UNSPECIFIED: _ClassVar[MemberRole]
    MEMBER_ROLE_OWNER: _ClassVar[MemberRole]
    MEMBER_ROLE_STAFF: _ClassVar[MemberRole]

class ProgramStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROGRAM_STATUS_UNSPECIFIED: _ClassVar[ProgramStatus]
    PROGRAM_STATUS_DRAFT: _ClassVar[ProgramStatus]
    PROGRAM_STATUS_PUBLISHED: _ClassVar[ProgramStatus]
    PROGRAM_STATUS_ARCHIVED: _ClassVar[ProgramStatus]

class IssuancePolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ISSUANCE_POLICY_UNSPECIFIED: _ClassVar[IssuancePolicy]
    ISSUANCE_POLICY_ON_COMPLETION: _ClassVar[IssuancePolicy]
    ISSUANCE_POLICY_ON_PAYMENT: _ClassVar[IssuancePolicy]

class PathwayStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PATHWAY_STATUS_UNSPECIFIED: _ClassVar[PathwayStatus]
    PATHWAY_STATUS_DRAFT: _ClassVar[PathwayStatus]
    PATHWAY_STATUS_PUBLISHED: _ClassVar[PathwayStatus]
    PATHWAY_STATUS_ARCHIVED: _ClassVar[PathwayStatus]

class PathwayConsentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PATHWAY_CONSENT_STATUS_UNSPECIFIED: _ClassVar[PathwayConsentStatus]
    PATHWAY_CONSENT_STATUS_PENDING: _ClassVar[PathwayConsentStatus]
    PATHWAY_CONSENT_STATUS_GRANTED: _ClassVar[PathwayConsentStatus]
    PATHWAY_CONSENT_STATUS_REFUSED: _ClassVar[PathwayConsentStatus]
    PATHWAY_CONSENT_STATUS_WITHDRAWN: _ClassVar[PathwayConsentStatus]
    PATHWAY_CONSENT_STATUS_CANCELLED: _ClassVar[PathwayConsentStatus]
MEMBER_ROLE_UNSPECIFIED: MemberRole
MEMBER_ROLE_OWNER: MemberRole
MEMBER_ROLE_STAFF: MemberRole
PROGRAM_STATUS_UNSPECIFIED: ProgramStatus
PROGRAM_STATUS_DRAFT: ProgramStatus
PROGRAM_STATUS_PUBLISHED: ProgramStatus
PROGRAM_STATUS_ARCHIVED: ProgramStatus
ISSUANCE_POLICY_UNSPECIFIED: IssuancePolicy
ISSUANCE_POLICY_ON_COMPLETION: IssuancePolicy
ISSUANCE_POLICY_ON_PAYMENT: IssuancePolicy
PATHWAY_STATUS_UNSPECIFIED: PathwayStatus
PATHWAY_STATUS_DRAFT: PathwayStatus
PATHWAY_STATUS_PUBLISHED: PathwayStatus
PATHWAY_STATUS_ARCHIVED: PathwayStatus
PATHWAY_CONSENT_STATUS_UNSPECIFIED: PathwayConsentStatus
PATHWAY_CONSENT_STATUS_PENDING: PathwayConsentStatus
PATHWAY_CONSENT_STATUS_GRANTED: PathwayConsentStatus
PATHWAY_CONSENT_STATUS_REFUSED: PathwayConsentStatus
PATHWAY_CONSENT_STATUS_WITHDRAWN: PathwayConsentStatus
PATHWAY_CONSENT_STATUS_CANCELLED: PathwayConsentStatus

class Provider(_message.Message):
    __slots__ = ("id", "name", "website", "email", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    WEBSITE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    website: str
    email: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., website: _Optional[str] = ..., email: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("provider_id", "subject", "email", "role", "create_time")
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    subject: str
    email: str
    role: MemberRole
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, provider_id: _Optional[str] = ..., subject: _Optional[str] = ..., email: _Optional[str] = ..., role: _Optional[_Union[MemberRole, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Invitation(_message.Message):
    __slots__ = ("id", "provider_id", "email", "role", "invited_by", "create_time", "accept_time", "accepted_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    INVITED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_TIME_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    provider_id: str
    email: str
    role: MemberRole
    invited_by: str
    create_time: _timestamp_pb2.Timestamp
    accept_time: _timestamp_pb2.Timestamp
    accepted_by: str
    def __init__(self, id: _Optional[str] = ..., provider_id: _Optional[str] = ..., email: _Optional[str] = ..., role: _Optional[_Union[MemberRole, str]] = ..., invited_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., accept_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., accepted_by: _Optional[str] = ...) -> None: ...

class CredentialTemplate(_message.Message):
    __slots__ = ("name", "description", "criteria", "issuance", "valid_for_days")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CRITERIA_FIELD_NUMBER: _ClassVar[int]
    ISSUANCE_FIELD_NUMBER: _ClassVar[int]
    VALID_FOR_DAYS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    criteria: str
    issuance: IssuancePolicy
    valid_for_days: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., criteria: _Optional[str] = ..., issuance: _Optional[_Union[IssuancePolicy, str]] = ..., valid_for_days: _Optional[int] = ...) -> None: ...

class VolumeTier(_message.Message):
    __slots__ = ("min_seats", "unit_amount_minor")
    MIN_SEATS_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    min_seats: int
    unit_amount_minor: int
    def __init__(self, min_seats: _Optional[int] = ..., unit_amount_minor: _Optional[int] = ...) -> None: ...

class ProgramSpec(_message.Message):
    __slots__ = ("title", "summary", "description", "skills", "duration_hours", "price", "capacity", "credential", "volume_tiers")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    DURATION_HOURS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    VOLUME_TIERS_FIELD_NUMBER: _ClassVar[int]
    title: str
    summary: str
    description: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    duration_hours: int
    price: _money_pb2.Money
    capacity: int
    credential: CredentialTemplate
    volume_tiers: _containers.RepeatedCompositeFieldContainer[VolumeTier]
    def __init__(self, title: _Optional[str] = ..., summary: _Optional[str] = ..., description: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ..., duration_hours: _Optional[int] = ..., price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., capacity: _Optional[int] = ..., credential: _Optional[_Union[CredentialTemplate, _Mapping]] = ..., volume_tiers: _Optional[_Iterable[_Union[VolumeTier, _Mapping]]] = ...) -> None: ...

class Program(_message.Message):
    __slots__ = ("id", "provider_id", "provider_name", "spec", "status", "version", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_NAME_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    provider_id: str
    provider_name: str
    spec: ProgramSpec
    status: ProgramStatus
    version: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., provider_id: _Optional[str] = ..., provider_name: _Optional[str] = ..., spec: _Optional[_Union[ProgramSpec, _Mapping]] = ..., status: _Optional[_Union[ProgramStatus, str]] = ..., version: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PathwayAchievement(_message.Message):
    __slots__ = ("name", "description", "criteria", "skills", "image_url")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CRITERIA_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    criteria: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    image_url: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., criteria: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ..., image_url: _Optional[str] = ...) -> None: ...

class PathwaySpec(_message.Message):
    __slots__ = ("title", "description", "program_ids", "required_count", "achievement")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_IDS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_COUNT_FIELD_NUMBER: _ClassVar[int]
    ACHIEVEMENT_FIELD_NUMBER: _ClassVar[int]
    title: str
    description: str
    program_ids: _containers.RepeatedScalarFieldContainer[str]
    required_count: int
    achievement: PathwayAchievement
    def __init__(self, title: _Optional[str] = ..., description: _Optional[str] = ..., program_ids: _Optional[_Iterable[str]] = ..., required_count: _Optional[int] = ..., achievement: _Optional[_Union[PathwayAchievement, _Mapping]] = ...) -> None: ...

class PathwayProgram(_message.Message):
    __slots__ = ("program_id", "title", "price", "status", "provider_id", "provider_name", "consent_status")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_NAME_FIELD_NUMBER: _ClassVar[int]
    CONSENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    title: str
    price: _money_pb2.Money
    status: ProgramStatus
    provider_id: str
    provider_name: str
    consent_status: PathwayConsentStatus
    def __init__(self, program_id: _Optional[str] = ..., title: _Optional[str] = ..., price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[_Union[ProgramStatus, str]] = ..., provider_id: _Optional[str] = ..., provider_name: _Optional[str] = ..., consent_status: _Optional[_Union[PathwayConsentStatus, str]] = ...) -> None: ...

class PathwayConsent(_message.Message):
    __slots__ = ("id", "pathway_id", "pathway_title", "requester_provider_id", "requester_provider_name", "program_id", "program_title", "provider_id", "provider_name", "status", "version", "create_time", "update_time", "decided_by", "pathway_status")
    ID_FIELD_NUMBER: _ClassVar[int]
    PATHWAY_ID_FIELD_NUMBER: _ClassVar[int]
    PATHWAY_TITLE_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_PROVIDER_NAME_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_TITLE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    PATHWAY_STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    pathway_id: str
    pathway_title: str
    requester_provider_id: str
    requester_provider_name: str
    program_id: str
    program_title: str
    provider_id: str
    provider_name: str
    status: PathwayConsentStatus
    version: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    decided_by: str
    pathway_status: PathwayStatus
    def __init__(self, id: _Optional[str] = ..., pathway_id: _Optional[str] = ..., pathway_title: _Optional[str] = ..., requester_provider_id: _Optional[str] = ..., requester_provider_name: _Optional[str] = ..., program_id: _Optional[str] = ..., program_title: _Optional[str] = ..., provider_id: _Optional[str] = ..., provider_name: _Optional[str] = ..., status: _Optional[_Union[PathwayConsentStatus, str]] = ..., version: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_by: _Optional[str] = ..., pathway_status: _Optional[_Union[PathwayStatus, str]] = ...) -> None: ...

class Pathway(_message.Message):
    __slots__ = ("id", "provider_id", "provider_name", "spec", "status", "version", "create_time", "update_time", "programs")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_NAME_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PROGRAMS_FIELD_NUMBER: _ClassVar[int]
    id: str
    provider_id: str
    provider_name: str
    spec: PathwaySpec
    status: PathwayStatus
    version: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    programs: _containers.RepeatedCompositeFieldContainer[PathwayProgram]
    def __init__(self, id: _Optional[str] = ..., provider_id: _Optional[str] = ..., provider_name: _Optional[str] = ..., spec: _Optional[_Union[PathwaySpec, _Mapping]] = ..., status: _Optional[_Union[PathwayStatus, str]] = ..., version: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., programs: _Optional[_Iterable[_Union[PathwayProgram, _Mapping]]] = ...) -> None: ...
