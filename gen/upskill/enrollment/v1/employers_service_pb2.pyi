from buf.validate import validate_pb2 as _validate_pb2
from upskill.enrollment.v1 import employers_pb2 as _employers_pb2
from upskill.enrollment.v1 import enrollment_pb2 as _enrollment_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateEmployerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CreateEmployerResponse(_message.Message):
    __slots__ = ("employer",)
    EMPLOYER_FIELD_NUMBER: _ClassVar[int]
    employer: _employers_pb2.Employer
    def __init__(self, employer: _Optional[_Union[_employers_pb2.Employer, _Mapping]] = ...) -> None: ...

class GetEmployerRequest(_message.Message):
    __slots__ = ("employer_id",)
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    employer_id: str
    def __init__(self, employer_id: _Optional[str] = ...) -> None: ...

class GetEmployerResponse(_message.Message):
    __slots__ = ("employer",)
    EMPLOYER_FIELD_NUMBER: _ClassVar[int]
    employer: _employers_pb2.Employer
    def __init__(self, employer: _Optional[_Union[_employers_pb2.Employer, _Mapping]] = ...) -> None: ...

class InviteManagerRequest(_message.Message):
    __slots__ = ("employer_id", "email")
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    employer_id: str
    email: str
    def __init__(self, employer_id: _Optional[str] = ..., email: _Optional[str] = ...) -> None: ...

class InviteManagerResponse(_message.Message):
    __slots__ = ("invitation",)
    INVITATION_FIELD_NUMBER: _ClassVar[int]
    invitation: _employers_pb2.EmployerInvitation
    def __init__(self, invitation: _Optional[_Union[_employers_pb2.EmployerInvitation, _Mapping]] = ...) -> None: ...

class AcceptEmployerInvitationRequest(_message.Message):
    __slots__ = ("invitation_id",)
    INVITATION_ID_FIELD_NUMBER: _ClassVar[int]
    invitation_id: str
    def __init__(self, invitation_id: _Optional[str] = ...) -> None: ...

class AcceptEmployerInvitationResponse(_message.Message):
    __slots__ = ("employer",)
    EMPLOYER_FIELD_NUMBER: _ClassVar[int]
    employer: _employers_pb2.Employer
    def __init__(self, employer: _Optional[_Union[_employers_pb2.Employer, _Mapping]] = ...) -> None: ...

class CreateSeatPackRequest(_message.Message):
    __slots__ = ("employer_id", "program_id", "seats")
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    employer_id: str
    program_id: str
    seats: int
    def __init__(self, employer_id: _Optional[str] = ..., program_id: _Optional[str] = ..., seats: _Optional[int] = ...) -> None: ...

class CreateSeatPackResponse(_message.Message):
    __slots__ = ("seat_pack",)
    SEAT_PACK_FIELD_NUMBER: _ClassVar[int]
    seat_pack: _employers_pb2.SeatPack
    def __init__(self, seat_pack: _Optional[_Union[_employers_pb2.SeatPack, _Mapping]] = ...) -> None: ...

class GetSeatPackRequest(_message.Message):
    __slots__ = ("employer_id", "seat_pack_id")
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_PACK_ID_FIELD_NUMBER: _ClassVar[int]
    employer_id: str
    seat_pack_id: str
    def __init__(self, employer_id: _Optional[str] = ..., seat_pack_id: _Optional[str] = ...) -> None: ...

class GetSeatPackResponse(_message.Message):
    __slots__ = ("seat_pack",)
    SEAT_PACK_FIELD_NUMBER: _ClassVar[int]
    seat_pack: _employers_pb2.SeatPack
    def __init__(self, seat_pack: _Optional[_Union[_employers_pb2.SeatPack, _Mapping]] = ...) -> None: ...

class InviteSeatsRequest(_message.Message):
    __slots__ = ("employer_id", "seat_pack_id", "emails")
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_PACK_ID_FIELD_NUMBER: _ClassVar[int]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    employer_id: str
    seat_pack_id: str
    emails: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, employer_id: _Optional[str] = ..., seat_pack_id: _Optional[str] = ..., emails: _Optional[_Iterable[str]] = ...) -> None: ...

class InviteSeatsResponse(_message.Message):
    __slots__ = ("invitations",)
    INVITATIONS_FIELD_NUMBER: _ClassVar[int]
    invitations: _containers.RepeatedCompositeFieldContainer[_employers_pb2.SeatInvitation]
    def __init__(self, invitations: _Optional[_Iterable[_Union[_employers_pb2.SeatInvitation, _Mapping]]] = ...) -> None: ...

class RedeemSeatRequest(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class RedeemSeatResponse(_message.Message):
    __slots__ = ("enrollment",)
    ENROLLMENT_FIELD_NUMBER: _ClassVar[int]
    enrollment: _enrollment_pb2.Enrollment
    def __init__(self, enrollment: _Optional[_Union[_enrollment_pb2.Enrollment, _Mapping]] = ...) -> None: ...

class GetTeamRequest(_message.Message):
    __slots__ = ("employer_id",)
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    employer_id: str
    def __init__(self, employer_id: _Optional[str] = ...) -> None: ...

class GetTeamResponse(_message.Message):
    __slots__ = ("people", "skills")
    PEOPLE_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    people: _containers.RepeatedCompositeFieldContainer[_employers_pb2.TeamPerson]
    skills: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, people: _Optional[_Iterable[_Union[_employers_pb2.TeamPerson, _Mapping]]] = ..., skills: _Optional[_Iterable[str]] = ...) -> None: ...

class RefundUnassignedSeatsRequest(_message.Message):
    __slots__ = ("employer_id", "seat_pack_id")
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_PACK_ID_FIELD_NUMBER: _ClassVar[int]
    employer_id: str
    seat_pack_id: str
    def __init__(self, employer_id: _Optional[str] = ..., seat_pack_id: _Optional[str] = ...) -> None: ...

class RefundUnassignedSeatsResponse(_message.Message):
    __slots__ = ("seat_pack", "seats_refunded")
    SEAT_PACK_FIELD_NUMBER: _ClassVar[int]
    SEATS_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    seat_pack: _employers_pb2.SeatPack
    seats_refunded: int
    def __init__(self, seat_pack: _Optional[_Union[_employers_pb2.SeatPack, _Mapping]] = ..., seats_refunded: _Optional[int] = ...) -> None: ...

class RevokeSeatInvitationRequest(_message.Message):
    __slots__ = ("employer_id", "seat_pack_id", "invitation_id")
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_PACK_ID_FIELD_NUMBER: _ClassVar[int]
    INVITATION_ID_FIELD_NUMBER: _ClassVar[int]
    employer_id: str
    seat_pack_id: str
    invitation_id: str
    def __init__(self, employer_id: _Optional[str] = ..., seat_pack_id: _Optional[str] = ..., invitation_id: _Optional[str] = ...) -> None: ...

class RevokeSeatInvitationResponse(_message.Message):
    __slots__ = ("invitation",)
    INVITATION_FIELD_NUMBER: _ClassVar[int]
    invitation: _employers_pb2.SeatInvitation
    def __init__(self, invitation: _Optional[_Union[_employers_pb2.SeatInvitation, _Mapping]] = ...) -> None: ...

class ListEmployersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEmployersResponse(_message.Message):
    __slots__ = ("employers", "next_page_token")
    EMPLOYERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    employers: _containers.RepeatedCompositeFieldContainer[_employers_pb2.Employer]
    next_page_token: str
    def __init__(self, employers: _Optional[_Iterable[_Union[_employers_pb2.Employer, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListSeatPacksRequest(_message.Message):
    __slots__ = ("employer_id", "page_size", "page_token")
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    employer_id: str
    page_size: int
    page_token: str
    def __init__(self, employer_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSeatPacksResponse(_message.Message):
    __slots__ = ("seat_packs", "next_page_token")
    SEAT_PACKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    seat_packs: _containers.RepeatedCompositeFieldContainer[_employers_pb2.SeatPack]
    next_page_token: str
    def __init__(self, seat_packs: _Optional[_Iterable[_Union[_employers_pb2.SeatPack, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListSeatInvitationsRequest(_message.Message):
    __slots__ = ("employer_id", "seat_pack_id", "page_size", "page_token")
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_PACK_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    employer_id: str
    seat_pack_id: str
    page_size: int
    page_token: str
    def __init__(self, employer_id: _Optional[str] = ..., seat_pack_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSeatInvitationsResponse(_message.Message):
    __slots__ = ("invitations", "next_page_token")
    INVITATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    invitations: _containers.RepeatedCompositeFieldContainer[_employers_pb2.SeatInvitation]
    next_page_token: str
    def __init__(self, invitations: _Optional[_Iterable[_Union[_employers_pb2.SeatInvitation, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListSponsorsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSponsorsResponse(_message.Message):
    __slots__ = ("sponsors",)
    SPONSORS_FIELD_NUMBER: _ClassVar[int]
    sponsors: _containers.RepeatedCompositeFieldContainer[_employers_pb2.Sponsor]
    def __init__(self, sponsors: _Optional[_Iterable[_Union[_employers_pb2.Sponsor, _Mapping]]] = ...) -> None: ...

class ShareCredentialRequest(_message.Message):
    __slots__ = ("employer_id", "credential_id")
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    employer_id: str
    credential_id: str
    def __init__(self, employer_id: _Optional[str] = ..., credential_id: _Optional[str] = ...) -> None: ...

class ShareCredentialResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: _employers_pb2.ShareableCredential
    def __init__(self, credential: _Optional[_Union[_employers_pb2.ShareableCredential, _Mapping]] = ...) -> None: ...

class UnshareCredentialRequest(_message.Message):
    __slots__ = ("employer_id", "credential_id")
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    employer_id: str
    credential_id: str
    def __init__(self, employer_id: _Optional[str] = ..., credential_id: _Optional[str] = ...) -> None: ...

class UnshareCredentialResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
