from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from upskill.catalog.v1 import catalog_pb2 as _catalog_pb2
from upskill.type.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConsentDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSENT_DECISION_UNSPECIFIED: _ClassVar[ConsentDecision]
    CONSENT_DECISION_GRANT: _ClassVar[ConsentDecision]
    CONSENT_DECISION_REFUSE: _ClassVar[ConsentDecision]
    CONSENT_DECISION_WITHDRAW: _ClassVar[ConsentDecision]

class ConsentDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSENT_DIRECTION_UNSPECIFIED: _ClassVar[ConsentDirection]
    CONSENT_DIRECTION_INCOMING: _ClassVar[ConsentDirection]
    CONSENT_DIRECTION_OUTGOING: _ClassVar[ConsentDirection]
CONSENT_DECISION_UNSPECIFIED: ConsentDecision
CONSENT_DECISION_GRANT: ConsentDecision
CONSENT_DECISION_REFUSE: ConsentDecision
CONSENT_DECISION_WITHDRAW: ConsentDecision
CONSENT_DIRECTION_UNSPECIFIED: ConsentDirection
CONSENT_DIRECTION_INCOMING: ConsentDirection
CONSENT_DIRECTION_OUTGOING: ConsentDirection

class ListMyProvidersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ProviderMembership(_message.Message):
    __slots__ = ("provider", "role")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    provider: _catalog_pb2.Provider
    role: _catalog_pb2.MemberRole
    def __init__(self, provider: _Optional[_Union[_catalog_pb2.Provider, _Mapping]] = ..., role: _Optional[_Union[_catalog_pb2.MemberRole, str]] = ...) -> None: ...

class ListMyProvidersResponse(_message.Message):
    __slots__ = ("memberships",)
    MEMBERSHIPS_FIELD_NUMBER: _ClassVar[int]
    memberships: _containers.RepeatedCompositeFieldContainer[ProviderMembership]
    def __init__(self, memberships: _Optional[_Iterable[_Union[ProviderMembership, _Mapping]]] = ...) -> None: ...

class FindProvidersRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class FindProvidersResponse(_message.Message):
    __slots__ = ("providers",)
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    providers: _containers.RepeatedCompositeFieldContainer[_catalog_pb2.Provider]
    def __init__(self, providers: _Optional[_Iterable[_Union[_catalog_pb2.Provider, _Mapping]]] = ...) -> None: ...

class InviteMemberRequest(_message.Message):
    __slots__ = ("provider_id", "email", "role")
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    email: str
    role: _catalog_pb2.MemberRole
    def __init__(self, provider_id: _Optional[str] = ..., email: _Optional[str] = ..., role: _Optional[_Union[_catalog_pb2.MemberRole, str]] = ...) -> None: ...

class InviteMemberResponse(_message.Message):
    __slots__ = ("invitation",)
    INVITATION_FIELD_NUMBER: _ClassVar[int]
    invitation: _catalog_pb2.Invitation
    def __init__(self, invitation: _Optional[_Union[_catalog_pb2.Invitation, _Mapping]] = ...) -> None: ...

class AcceptInvitationRequest(_message.Message):
    __slots__ = ("invitation_id",)
    INVITATION_ID_FIELD_NUMBER: _ClassVar[int]
    invitation_id: str
    def __init__(self, invitation_id: _Optional[str] = ...) -> None: ...

class AcceptInvitationResponse(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: _catalog_pb2.Member
    def __init__(self, member: _Optional[_Union[_catalog_pb2.Member, _Mapping]] = ...) -> None: ...

class ListMembersRequest(_message.Message):
    __slots__ = ("provider_id",)
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    def __init__(self, provider_id: _Optional[str] = ...) -> None: ...

class ListMembersResponse(_message.Message):
    __slots__ = ("members", "invitations")
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    INVITATIONS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[_catalog_pb2.Member]
    invitations: _containers.RepeatedCompositeFieldContainer[_catalog_pb2.Invitation]
    def __init__(self, members: _Optional[_Iterable[_Union[_catalog_pb2.Member, _Mapping]]] = ..., invitations: _Optional[_Iterable[_Union[_catalog_pb2.Invitation, _Mapping]]] = ...) -> None: ...

class GetMembershipRequest(_message.Message):
    __slots__ = ("provider_id",)
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    def __init__(self, provider_id: _Optional[str] = ...) -> None: ...

class GetMembershipResponse(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: _catalog_pb2.Member
    def __init__(self, member: _Optional[_Union[_catalog_pb2.Member, _Mapping]] = ...) -> None: ...

class CreateProviderRequest(_message.Message):
    __slots__ = ("name", "website", "email")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WEBSITE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    website: str
    email: str
    def __init__(self, name: _Optional[str] = ..., website: _Optional[str] = ..., email: _Optional[str] = ...) -> None: ...

class CreateProviderResponse(_message.Message):
    __slots__ = ("provider",)
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    provider: _catalog_pb2.Provider
    def __init__(self, provider: _Optional[_Union[_catalog_pb2.Provider, _Mapping]] = ...) -> None: ...

class GetProviderRequest(_message.Message):
    __slots__ = ("provider_id",)
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    def __init__(self, provider_id: _Optional[str] = ...) -> None: ...

class GetProviderResponse(_message.Message):
    __slots__ = ("provider",)
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    provider: _catalog_pb2.Provider
    def __init__(self, provider: _Optional[_Union[_catalog_pb2.Provider, _Mapping]] = ...) -> None: ...

class CreateProgramRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: _catalog_pb2.ProgramSpec
    def __init__(self, spec: _Optional[_Union[_catalog_pb2.ProgramSpec, _Mapping]] = ...) -> None: ...

class CreateProgramResponse(_message.Message):
    __slots__ = ("program",)
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    program: _catalog_pb2.Program
    def __init__(self, program: _Optional[_Union[_catalog_pb2.Program, _Mapping]] = ...) -> None: ...

class UpdateProgramRequest(_message.Message):
    __slots__ = ("program_id", "expected_version", "spec", "patch", "update_mask")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    PATCH_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    expected_version: int
    spec: _catalog_pb2.ProgramSpec
    patch: ProgramPatch
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, program_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., spec: _Optional[_Union[_catalog_pb2.ProgramSpec, _Mapping]] = ..., patch: _Optional[_Union[ProgramPatch, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class ProgramPatch(_message.Message):
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
    credential: CredentialTemplatePatch
    volume_tiers: _containers.RepeatedCompositeFieldContainer[_catalog_pb2.VolumeTier]
    def __init__(self, title: _Optional[str] = ..., summary: _Optional[str] = ..., description: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ..., duration_hours: _Optional[int] = ..., price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., capacity: _Optional[int] = ..., credential: _Optional[_Union[CredentialTemplatePatch, _Mapping]] = ..., volume_tiers: _Optional[_Iterable[_Union[_catalog_pb2.VolumeTier, _Mapping]]] = ...) -> None: ...

class CredentialTemplatePatch(_message.Message):
    __slots__ = ("name", "description", "criteria", "issuance", "valid_for_days")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CRITERIA_FIELD_NUMBER: _ClassVar[int]
    ISSUANCE_FIELD_NUMBER: _ClassVar[int]
    VALID_FOR_DAYS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    criteria: str
    issuance: _catalog_pb2.IssuancePolicy
    valid_for_days: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., criteria: _Optional[str] = ..., issuance: _Optional[_Union[_catalog_pb2.IssuancePolicy, str]] = ..., valid_for_days: _Optional[int] = ...) -> None: ...

class UpdateProgramResponse(_message.Message):
    __slots__ = ("program",)
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    program: _catalog_pb2.Program
    def __init__(self, program: _Optional[_Union[_catalog_pb2.Program, _Mapping]] = ...) -> None: ...

class PublishProgramRequest(_message.Message):
    __slots__ = ("program_id",)
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    def __init__(self, program_id: _Optional[str] = ...) -> None: ...

class PublishProgramResponse(_message.Message):
    __slots__ = ("program",)
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    program: _catalog_pb2.Program
    def __init__(self, program: _Optional[_Union[_catalog_pb2.Program, _Mapping]] = ...) -> None: ...

class ArchiveProgramRequest(_message.Message):
    __slots__ = ("program_id",)
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    def __init__(self, program_id: _Optional[str] = ...) -> None: ...

class ArchiveProgramResponse(_message.Message):
    __slots__ = ("program",)
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    program: _catalog_pb2.Program
    def __init__(self, program: _Optional[_Union[_catalog_pb2.Program, _Mapping]] = ...) -> None: ...

class GetProgramRequest(_message.Message):
    __slots__ = ("program_id",)
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    def __init__(self, program_id: _Optional[str] = ...) -> None: ...

class GetProgramResponse(_message.Message):
    __slots__ = ("program",)
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    program: _catalog_pb2.Program
    def __init__(self, program: _Optional[_Union[_catalog_pb2.Program, _Mapping]] = ...) -> None: ...

class ListProgramsRequest(_message.Message):
    __slots__ = ("query", "skill", "provider_id", "max_price_minor", "page_size", "page_token", "include_unpublished", "min_duration_hours", "max_duration_hours")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    SKILL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_PRICE_MINOR_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_UNPUBLISHED_FIELD_NUMBER: _ClassVar[int]
    MIN_DURATION_HOURS_FIELD_NUMBER: _ClassVar[int]
    MAX_DURATION_HOURS_FIELD_NUMBER: _ClassVar[int]
    query: str
    skill: str
    provider_id: str
    max_price_minor: int
    page_size: int
    page_token: str
    include_unpublished: bool
    min_duration_hours: int
    max_duration_hours: int
    def __init__(self, query: _Optional[str] = ..., skill: _Optional[str] = ..., provider_id: _Optional[str] = ..., max_price_minor: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_unpublished: _Optional[bool] = ..., min_duration_hours: _Optional[int] = ..., max_duration_hours: _Optional[int] = ...) -> None: ...

class BatchGetProgramsRequest(_message.Message):
    __slots__ = ("program_ids",)
    PROGRAM_IDS_FIELD_NUMBER: _ClassVar[int]
    program_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, program_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetProgramsResponse(_message.Message):
    __slots__ = ("programs",)
    PROGRAMS_FIELD_NUMBER: _ClassVar[int]
    programs: _containers.RepeatedCompositeFieldContainer[_catalog_pb2.Program]
    def __init__(self, programs: _Optional[_Iterable[_Union[_catalog_pb2.Program, _Mapping]]] = ...) -> None: ...

class ListProgramsResponse(_message.Message):
    __slots__ = ("programs", "next_page_token")
    PROGRAMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    programs: _containers.RepeatedCompositeFieldContainer[_catalog_pb2.Program]
    next_page_token: str
    def __init__(self, programs: _Optional[_Iterable[_Union[_catalog_pb2.Program, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AddMemberRequest(_message.Message):
    __slots__ = ("provider_id", "subject", "role")
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    subject: str
    role: _catalog_pb2.MemberRole
    def __init__(self, provider_id: _Optional[str] = ..., subject: _Optional[str] = ..., role: _Optional[_Union[_catalog_pb2.MemberRole, str]] = ...) -> None: ...

class AddMemberResponse(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: _catalog_pb2.Member
    def __init__(self, member: _Optional[_Union[_catalog_pb2.Member, _Mapping]] = ...) -> None: ...

class CreatePathwayRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: _catalog_pb2.PathwaySpec
    def __init__(self, spec: _Optional[_Union[_catalog_pb2.PathwaySpec, _Mapping]] = ...) -> None: ...

class CreatePathwayResponse(_message.Message):
    __slots__ = ("pathway",)
    PATHWAY_FIELD_NUMBER: _ClassVar[int]
    pathway: _catalog_pb2.Pathway
    def __init__(self, pathway: _Optional[_Union[_catalog_pb2.Pathway, _Mapping]] = ...) -> None: ...

class GetPathwayRequest(_message.Message):
    __slots__ = ("pathway_id",)
    PATHWAY_ID_FIELD_NUMBER: _ClassVar[int]
    pathway_id: str
    def __init__(self, pathway_id: _Optional[str] = ...) -> None: ...

class GetPathwayResponse(_message.Message):
    __slots__ = ("pathway",)
    PATHWAY_FIELD_NUMBER: _ClassVar[int]
    pathway: _catalog_pb2.Pathway
    def __init__(self, pathway: _Optional[_Union[_catalog_pb2.Pathway, _Mapping]] = ...) -> None: ...

class ListPathwaysRequest(_message.Message):
    __slots__ = ("provider_id", "page_size", "page_token", "include_unpublished")
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_UNPUBLISHED_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    page_size: int
    page_token: str
    include_unpublished: bool
    def __init__(self, provider_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_unpublished: _Optional[bool] = ...) -> None: ...

class ListPathwaysResponse(_message.Message):
    __slots__ = ("pathways", "next_page_token")
    PATHWAYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    pathways: _containers.RepeatedCompositeFieldContainer[_catalog_pb2.Pathway]
    next_page_token: str
    def __init__(self, pathways: _Optional[_Iterable[_Union[_catalog_pb2.Pathway, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PublishPathwayRequest(_message.Message):
    __slots__ = ("pathway_id",)
    PATHWAY_ID_FIELD_NUMBER: _ClassVar[int]
    pathway_id: str
    def __init__(self, pathway_id: _Optional[str] = ...) -> None: ...

class PublishPathwayResponse(_message.Message):
    __slots__ = ("pathway",)
    PATHWAY_FIELD_NUMBER: _ClassVar[int]
    pathway: _catalog_pb2.Pathway
    def __init__(self, pathway: _Optional[_Union[_catalog_pb2.Pathway, _Mapping]] = ...) -> None: ...

class UpdatePathwayRequest(_message.Message):
    __slots__ = ("pathway_id", "expected_version", "patch", "update_mask")
    PATHWAY_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    PATCH_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    pathway_id: str
    expected_version: int
    patch: PathwayPatch
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, pathway_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., patch: _Optional[_Union[PathwayPatch, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class PathwayPatch(_message.Message):
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
    achievement: PathwayAchievementPatch
    def __init__(self, title: _Optional[str] = ..., description: _Optional[str] = ..., program_ids: _Optional[_Iterable[str]] = ..., required_count: _Optional[int] = ..., achievement: _Optional[_Union[PathwayAchievementPatch, _Mapping]] = ...) -> None: ...

class PathwayAchievementPatch(_message.Message):
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

class UpdatePathwayResponse(_message.Message):
    __slots__ = ("pathway",)
    PATHWAY_FIELD_NUMBER: _ClassVar[int]
    pathway: _catalog_pb2.Pathway
    def __init__(self, pathway: _Optional[_Union[_catalog_pb2.Pathway, _Mapping]] = ...) -> None: ...

class ArchivePathwayRequest(_message.Message):
    __slots__ = ("pathway_id",)
    PATHWAY_ID_FIELD_NUMBER: _ClassVar[int]
    pathway_id: str
    def __init__(self, pathway_id: _Optional[str] = ...) -> None: ...

class ArchivePathwayResponse(_message.Message):
    __slots__ = ("pathway",)
    PATHWAY_FIELD_NUMBER: _ClassVar[int]
    pathway: _catalog_pb2.Pathway
    def __init__(self, pathway: _Optional[_Union[_catalog_pb2.Pathway, _Mapping]] = ...) -> None: ...

class RequestPathwayConsentRequest(_message.Message):
    __slots__ = ("pathway_id", "program_id")
    PATHWAY_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    pathway_id: str
    program_id: str
    def __init__(self, pathway_id: _Optional[str] = ..., program_id: _Optional[str] = ...) -> None: ...

class RequestPathwayConsentResponse(_message.Message):
    __slots__ = ("consent",)
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    consent: _catalog_pb2.PathwayConsent
    def __init__(self, consent: _Optional[_Union[_catalog_pb2.PathwayConsent, _Mapping]] = ...) -> None: ...

class DecidePathwayConsentRequest(_message.Message):
    __slots__ = ("consent_id", "decision")
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    consent_id: str
    decision: ConsentDecision
    def __init__(self, consent_id: _Optional[str] = ..., decision: _Optional[_Union[ConsentDecision, str]] = ...) -> None: ...

class DecidePathwayConsentResponse(_message.Message):
    __slots__ = ("consent",)
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    consent: _catalog_pb2.PathwayConsent
    def __init__(self, consent: _Optional[_Union[_catalog_pb2.PathwayConsent, _Mapping]] = ...) -> None: ...

class ListPathwayConsentsRequest(_message.Message):
    __slots__ = ("provider_id", "direction", "status", "page_size", "page_token")
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    direction: ConsentDirection
    status: _catalog_pb2.PathwayConsentStatus
    page_size: int
    page_token: str
    def __init__(self, provider_id: _Optional[str] = ..., direction: _Optional[_Union[ConsentDirection, str]] = ..., status: _Optional[_Union[_catalog_pb2.PathwayConsentStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPathwayConsentsResponse(_message.Message):
    __slots__ = ("consents", "next_page_token")
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    consents: _containers.RepeatedCompositeFieldContainer[_catalog_pb2.PathwayConsent]
    next_page_token: str
    def __init__(self, consents: _Optional[_Iterable[_Union[_catalog_pb2.PathwayConsent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
