import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CredentialStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREDENTIAL_STATUS_UNSPECIFIED: _ClassVar[CredentialStatus]
    CREDENTIAL_STATUS_ISSUED: _ClassVar[CredentialStatus]
    CREDENTIAL_STATUS_REVOKED: _ClassVar[CredentialStatus]

class VerificationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERIFICATION_STATUS_UNSPECIFIED: _ClassVar[VerificationStatus]
    VERIFICATION_STATUS_VALID: _ClassVar[VerificationStatus]
    VERIFICATION_STATUS_REVOKED: _ClassVar[VerificationStatus]
    VERIFICATION_STATUS_EXPIRED: _ClassVar[VerificationStatus]
    VERIFICATION_STATUS_NOT_YET_VALID: _ClassVar[VerificationStatus]
    VERIFICATION_STATUS_INVALID_SIGNATURE: _ClassVar[VerificationStatus]
    VERIFICATION_STATUS_UNKNOWN_KEY: _ClassVar[VerificationStatus]
    VERIFICATION_STATUS_MALFORMED: _ClassVar[VerificationStatus]
    VERIFICATION_STATUS_STATUS_UNAVAILABLE: _ClassVar[VerificationStatus]
CREDENTIAL_STATUS_UNSPECIFIED: CredentialStatus
CREDENTIAL_STATUS_ISSUED: CredentialStatus
CREDENTIAL_STATUS_REVOKED: CredentialStatus
VERIFICATION_STATUS_UNSPECIFIED: VerificationStatus
VERIFICATION_STATUS_VALID: VerificationStatus
VERIFICATION_STATUS_REVOKED: VerificationStatus
VERIFICATION_STATUS_EXPIRED: VerificationStatus
VERIFICATION_STATUS_NOT_YET_VALID: VerificationStatus
VERIFICATION_STATUS_INVALID_SIGNATURE: VerificationStatus
VERIFICATION_STATUS_UNKNOWN_KEY: VerificationStatus
VERIFICATION_STATUS_MALFORMED: VerificationStatus
VERIFICATION_STATUS_STATUS_UNAVAILABLE: VerificationStatus

class Credential(_message.Message):
    __slots__ = ("id", "enrollment_id", "program_id", "provider_id", "learner_id", "status", "jwt", "issue_time", "revoke_time", "revocation_reason", "achievement_name", "pathway_id", "component_credential_ids", "earner_name")
    ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    JWT_FIELD_NUMBER: _ClassVar[int]
    ISSUE_TIME_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_FIELD_NUMBER: _ClassVar[int]
    REVOCATION_REASON_FIELD_NUMBER: _ClassVar[int]
    ACHIEVEMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    PATHWAY_ID_FIELD_NUMBER: _ClassVar[int]
    COMPONENT_CREDENTIAL_IDS_FIELD_NUMBER: _ClassVar[int]
    EARNER_NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    enrollment_id: str
    program_id: str
    provider_id: str
    learner_id: str
    status: CredentialStatus
    jwt: str
    issue_time: _timestamp_pb2.Timestamp
    revoke_time: _timestamp_pb2.Timestamp
    revocation_reason: str
    achievement_name: str
    pathway_id: str
    component_credential_ids: _containers.RepeatedScalarFieldContainer[str]
    earner_name: str
    def __init__(self, id: _Optional[str] = ..., enrollment_id: _Optional[str] = ..., program_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., learner_id: _Optional[str] = ..., status: _Optional[_Union[CredentialStatus, str]] = ..., jwt: _Optional[str] = ..., issue_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoke_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revocation_reason: _Optional[str] = ..., achievement_name: _Optional[str] = ..., pathway_id: _Optional[str] = ..., component_credential_ids: _Optional[_Iterable[str]] = ..., earner_name: _Optional[str] = ...) -> None: ...

class LearnerProfile(_message.Message):
    __slots__ = ("learner_id", "display_name", "show_name", "update_time", "handle", "public", "shown_credential_ids")
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SHOW_NAME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    SHOWN_CREDENTIAL_IDS_FIELD_NUMBER: _ClassVar[int]
    learner_id: str
    display_name: str
    show_name: bool
    update_time: _timestamp_pb2.Timestamp
    handle: str
    public: bool
    shown_credential_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, learner_id: _Optional[str] = ..., display_name: _Optional[str] = ..., show_name: _Optional[bool] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., handle: _Optional[str] = ..., public: _Optional[bool] = ..., shown_credential_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PublicProfile(_message.Message):
    __slots__ = ("handle", "display_name", "credentials", "verify_time")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    VERIFY_TIME_FIELD_NUMBER: _ClassVar[int]
    handle: str
    display_name: str
    credentials: _containers.RepeatedCompositeFieldContainer[ShownCredential]
    verify_time: _timestamp_pb2.Timestamp
    def __init__(self, handle: _Optional[str] = ..., display_name: _Optional[str] = ..., credentials: _Optional[_Iterable[_Union[ShownCredential, _Mapping]]] = ..., verify_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ShownCredential(_message.Message):
    __slots__ = ("credential", "skills", "issuer_name", "status", "verified", "checks", "valid_until")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    ISSUER_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    skills: _containers.RepeatedScalarFieldContainer[str]
    issuer_name: str
    status: VerificationStatus
    verified: bool
    checks: _containers.RepeatedCompositeFieldContainer[VerificationCheck]
    valid_until: _timestamp_pb2.Timestamp
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ..., skills: _Optional[_Iterable[str]] = ..., issuer_name: _Optional[str] = ..., status: _Optional[_Union[VerificationStatus, str]] = ..., verified: _Optional[bool] = ..., checks: _Optional[_Iterable[_Union[VerificationCheck, _Mapping]]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PathwayRequirement(_message.Message):
    __slots__ = ("program_id", "credential_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    credential_id: str
    def __init__(self, program_id: _Optional[str] = ..., credential_id: _Optional[str] = ...) -> None: ...

class PathwayProgress(_message.Message):
    __slots__ = ("pathway_id", "learner_id", "required_count", "earned_count", "requirements", "pathway_credential_id", "open", "achievement_name")
    PATHWAY_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_COUNT_FIELD_NUMBER: _ClassVar[int]
    EARNED_COUNT_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    PATHWAY_CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    ACHIEVEMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    pathway_id: str
    learner_id: str
    required_count: int
    earned_count: int
    requirements: _containers.RepeatedCompositeFieldContainer[PathwayRequirement]
    pathway_credential_id: str
    open: bool
    achievement_name: str
    def __init__(self, pathway_id: _Optional[str] = ..., learner_id: _Optional[str] = ..., required_count: _Optional[int] = ..., earned_count: _Optional[int] = ..., requirements: _Optional[_Iterable[_Union[PathwayRequirement, _Mapping]]] = ..., pathway_credential_id: _Optional[str] = ..., open: _Optional[bool] = ..., achievement_name: _Optional[str] = ...) -> None: ...

class VerificationCheck(_message.Message):
    __slots__ = ("name", "passed", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    passed: bool
    detail: str
    def __init__(self, name: _Optional[str] = ..., passed: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...
