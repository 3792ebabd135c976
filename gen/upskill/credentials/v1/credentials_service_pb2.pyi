from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from upskill.credentials.v1 import credentials_pb2 as _credentials_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetCredentialRequest(_message.Message):
    __slots__ = ("credential_id",)
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    def __init__(self, credential_id: _Optional[str] = ...) -> None: ...

class GetCredentialResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: _credentials_pb2.Credential
    def __init__(self, credential: _Optional[_Union[_credentials_pb2.Credential, _Mapping]] = ...) -> None: ...

class ListCredentialsRequest(_message.Message):
    __slots__ = ("program_id", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCredentialsResponse(_message.Message):
    __slots__ = ("credentials", "next_page_token")
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    credentials: _containers.RepeatedCompositeFieldContainer[_credentials_pb2.Credential]
    next_page_token: str
    def __init__(self, credentials: _Optional[_Iterable[_Union[_credentials_pb2.Credential, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class VerifyCredentialRequest(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: str
    def __init__(self, credential: _Optional[str] = ...) -> None: ...

class VerifyCredentialResponse(_message.Message):
    __slots__ = ("verified", "status", "checks", "credential")
    VERIFIED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    verified: bool
    status: _credentials_pb2.VerificationStatus
    checks: _containers.RepeatedCompositeFieldContainer[_credentials_pb2.VerificationCheck]
    credential: _struct_pb2.Struct
    def __init__(self, verified: _Optional[bool] = ..., status: _Optional[_Union[_credentials_pb2.VerificationStatus, str]] = ..., checks: _Optional[_Iterable[_Union[_credentials_pb2.VerificationCheck, _Mapping]]] = ..., credential: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class RevokeCredentialRequest(_message.Message):
    __slots__ = ("credential_id", "reason")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    reason: str
    def __init__(self, credential_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeCredentialResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: _credentials_pb2.Credential
    def __init__(self, credential: _Optional[_Union[_credentials_pb2.Credential, _Mapping]] = ...) -> None: ...

class GetJwksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetJwksResponse(_message.Message):
    __slots__ = ("jwks_json",)
    JWKS_JSON_FIELD_NUMBER: _ClassVar[int]
    jwks_json: str
    def __init__(self, jwks_json: _Optional[str] = ...) -> None: ...

class GetStatusListRequest(_message.Message):
    __slots__ = ("list_id",)
    LIST_ID_FIELD_NUMBER: _ClassVar[int]
    list_id: str
    def __init__(self, list_id: _Optional[str] = ...) -> None: ...

class GetStatusListResponse(_message.Message):
    __slots__ = ("jwt", "credential_json")
    JWT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_JSON_FIELD_NUMBER: _ClassVar[int]
    jwt: str
    credential_json: str
    def __init__(self, jwt: _Optional[str] = ..., credential_json: _Optional[str] = ...) -> None: ...

class GetLearnerProfileRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetLearnerProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: _credentials_pb2.LearnerProfile
    def __init__(self, profile: _Optional[_Union[_credentials_pb2.LearnerProfile, _Mapping]] = ...) -> None: ...

class UpdateLearnerProfileRequest(_message.Message):
    __slots__ = ("display_name", "show_name")
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SHOW_NAME_FIELD_NUMBER: _ClassVar[int]
    display_name: str
    show_name: bool
    def __init__(self, display_name: _Optional[str] = ..., show_name: _Optional[bool] = ...) -> None: ...

class UpdateLearnerProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: _credentials_pb2.LearnerProfile
    def __init__(self, profile: _Optional[_Union[_credentials_pb2.LearnerProfile, _Mapping]] = ...) -> None: ...

class UpdatePublicProfileRequest(_message.Message):
    __slots__ = ("handle", "public", "credential_ids", "display_name", "show_name")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_IDS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SHOW_NAME_FIELD_NUMBER: _ClassVar[int]
    handle: str
    public: bool
    credential_ids: _containers.RepeatedScalarFieldContainer[str]
    display_name: str
    show_name: bool
    def __init__(self, handle: _Optional[str] = ..., public: _Optional[bool] = ..., credential_ids: _Optional[_Iterable[str]] = ..., display_name: _Optional[str] = ..., show_name: _Optional[bool] = ...) -> None: ...

class UpdatePublicProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: _credentials_pb2.LearnerProfile
    def __init__(self, profile: _Optional[_Union[_credentials_pb2.LearnerProfile, _Mapping]] = ...) -> None: ...

class GetPublicProfileRequest(_message.Message):
    __slots__ = ("handle",)
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    handle: str
    def __init__(self, handle: _Optional[str] = ...) -> None: ...

class GetPublicProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: _credentials_pb2.PublicProfile
    def __init__(self, profile: _Optional[_Union[_credentials_pb2.PublicProfile, _Mapping]] = ...) -> None: ...

class GetPathwayProgressRequest(_message.Message):
    __slots__ = ("pathway_id",)
    PATHWAY_ID_FIELD_NUMBER: _ClassVar[int]
    pathway_id: str
    def __init__(self, pathway_id: _Optional[str] = ...) -> None: ...

class GetPathwayProgressResponse(_message.Message):
    __slots__ = ("progress",)
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    progress: _credentials_pb2.PathwayProgress
    def __init__(self, progress: _Optional[_Union[_credentials_pb2.PathwayProgress, _Mapping]] = ...) -> None: ...

class ListMyPathwayProgressRequest(_message.Message):
    __slots__ = ("page_size",)
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    def __init__(self, page_size: _Optional[int] = ...) -> None: ...

class ListMyPathwayProgressResponse(_message.Message):
    __slots__ = ("progress", "truncated")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    progress: _containers.RepeatedCompositeFieldContainer[_credentials_pb2.PathwayProgress]
    truncated: bool
    def __init__(self, progress: _Optional[_Iterable[_Union[_credentials_pb2.PathwayProgress, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...
