"""/api/v1/employers and /api/v1/redemptions: employers buy seat packs through the same
checkout as single purchases and hand the seats out by one-time code (the enrollment
service owns all of it, since it owns seats)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field
from upskill.enrollment.v1 import employers_pb2, employers_service_pb2, enrollment_pb2

from services.gateway import mapping
from services.gateway.clients import invoke
from services.gateway.dependencies import Caller, ClientsDep, resource_id, uuid_path
from services.gateway.problems import problem_responses
from services.gateway.schemas import (
    DISTINCT,
    EmailText,
    Enrollment,
    EnrollmentStatus,
    Money,
    NonBlank,
    Page,
    StrictModel,
    Text,
    UuidText,
)

router = APIRouter(prefix="/api/v1", tags=["employers"])

_READ_ERRORS = problem_responses(401, 403, 404, 422, 502, 503)
_WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422, 502, 503)
EmployerId = Annotated[str, uuid_path("employer")]
SeatPackId = Annotated[str, uuid_path("seat pack")]
InvitationId = Annotated[str, uuid_path("invitation")]
CredentialId = Annotated[str, uuid_path("credential")]
PageSize = Annotated[int, Query(ge=0, le=100, description="0: the server's default")]
PageToken = Annotated[Text, Query(max_length=200, description="next_page_token of the page before")]
SeatInvitationStatus = Literal["PENDING", "REDEEMED", "REVOKED", "EXPIRED", "UNSPECIFIED"]
EmployerRole = Literal["OWNER", "MANAGER", "UNSPECIFIED"]
SeatPackStatus = Literal[
    "PENDING_PAYMENT", "PAID", "EXPIRED", "CANCELLED", "REFUNDED", "UNSPECIFIED"
]

# ---------------------------------------------------------------- shapes


class EmployerCreate(StrictModel):
    name: NonBlank = Field(max_length=200, description="Not blank")


class Employer(BaseModel):
    id: str
    name: str
    role: EmployerRole = Field(description="The caller's role in it")
    created_at: datetime | None


class ManagerInvite(StrictModel):
    email: EmailText = Field(max_length=320)


class EmployerInvitation(BaseModel):
    id: str
    employer_id: str
    email: str
    role: EmployerRole
    created_at: datetime | None


class SeatPackCreate(StrictModel):
    program_id: UuidText = Field(max_length=64)
    seats: int = Field(ge=1, le=1000)


class SeatPack(BaseModel):
    id: str
    employer_id: str
    program_id: str
    program_title: str
    seats: int
    seats_redeemed: int
    seats_refunded: int = Field(description="Unassigned seats given back; not in `seats`")
    price_per_seat: Money = Field(description="The program's price, or its volume tier's")
    total: Money = Field(description="price_per_seat times the seats bought")
    status: SeatPackStatus
    payment_id: str | None
    checkout_url: str | None = Field(description="Where the manager pays, while pending")
    receipt_url: str | None = Field(
        description="The receipt naming the employer and the seats (once paid; the buyer's)"
    )
    created_at: datetime | None


class SeatInvite(StrictModel):
    emails: list[EmailText] = Field(
        min_length=1,
        max_length=100,
        description="Distinct (exactly as written)",
        json_schema_extra=DISTINCT,
    )


class SeatInvitation(BaseModel):
    id: str
    seat_pack_id: str
    email: str
    code: str = Field(description="The one-time code; shown only here")
    expires_at: datetime | None


class SeatInvitationList(BaseModel):
    invitations: list[SeatInvitation]


class Redemption(StrictModel):
    code: Text = Field(min_length=1, max_length=100)


class TeamEnrollment(BaseModel):
    enrollment_id: str
    program_id: str
    program_title: str
    status: EnrollmentStatus | Literal["UNSPECIFIED"]
    credential_id: str | None
    shared: bool = Field(
        description="A credential the person earned on their own and chose to share (not a"
        " seat of this employer's packs)"
    )
    credential_revoked: bool = Field(
        default=False,
        description="The credential was revoked: it no longer verifies and its skills no"
        " longer count in the matrix",
    )
    revocation_reason: str | None = Field(
        default=None, description="Why the credential was revoked, when the revocation said"
    )


class TeamPerson(BaseModel):
    email: str
    learner_id: str
    enrollments: list[TeamEnrollment]
    skills: list[str] = Field(description="Skills of their issued credentials")
    shared_skills: list[str] = Field(
        description="The skills among `skills` that only credentials they share show"
    )


class Team(BaseModel):
    people: list[TeamPerson]
    skills: list[str] = Field(description="The skills matrix's columns")


class EmployerList(Page):
    employers: list[Employer]


class SeatPackList(Page):
    seat_packs: list[SeatPack]


class SeatInvitationState(BaseModel):
    id: str
    seat_pack_id: str
    email: str
    status: SeatInvitationStatus
    expires_at: datetime | None
    redeemed_at: datetime | None
    revoked_at: datetime | None
    enrollment_id: str | None


class SeatInvitationStateList(Page):
    invitations: list[SeatInvitationState] = Field(description="Without codes: shown once")


class ShareableCredential(BaseModel):
    credential_id: str
    enrollment_id: str
    program_id: str
    program_title: str
    skills: list[str]
    shared: bool = Field(description="Whether this employer sees it")


class Sponsor(BaseModel):
    employer: Employer
    seen: TeamPerson | None = Field(
        description="You, exactly as this employer's team view and skills matrix show you"
    )
    credentials: list[ShareableCredential] = Field(
        description="Credentials you earned on your own, each shared with it or not"
    )


class SponsorList(BaseModel):
    sponsors: list[Sponsor]


# ---------------------------------------------------------------- mapping

# Packs whose payment went through: these have a receipt.
_RECEIPTED = (employers_pb2.SEAT_PACK_STATUS_PAID, employers_pb2.SEAT_PACK_STATUS_REFUNDED)


def _role(value: int) -> EmployerRole:
    return mapping.enum_name(employers_pb2.EmployerRole, value, "EMPLOYER_ROLE_")  # type: ignore[return-value]


def employer_to_json(e: employers_pb2.Employer) -> Employer:
    return Employer(
        id=e.id,
        name=e.name,
        role=_role(e.role),
        created_at=mapping.timestamp(e.create_time, e.HasField("create_time")),
    )


def pack_to_json(p: employers_pb2.SeatPack) -> SeatPack:
    return SeatPack(
        id=p.id,
        employer_id=p.employer_id,
        program_id=p.program.program_id,
        program_title=p.program.title,
        seats=p.seats,
        seats_redeemed=p.seats_redeemed,
        seats_refunded=p.seats_refunded,
        price_per_seat=mapping.money_to_json(p.price_per_seat),
        total=mapping.money_to_json(p.total),
        status=mapping.enum_name(  # type: ignore[arg-type]
            employers_pb2.SeatPackStatus, p.status, "SEAT_PACK_STATUS_"
        ),
        payment_id=mapping.or_none(p.payment_id),
        checkout_url=mapping.or_none(p.checkout_url),
        receipt_url=f"/learning/receipts/{p.payment_id}"
        if p.payment_id and p.status in _RECEIPTED
        else None,
        created_at=mapping.timestamp(p.create_time, p.HasField("create_time")),
    )


def team_person_to_json(p: employers_pb2.TeamPerson) -> TeamPerson:
    return TeamPerson(
        email=p.email,
        learner_id=p.learner_id,
        enrollments=[
            TeamEnrollment(
                enrollment_id=e.enrollment_id,
                program_id=e.program_id,
                program_title=e.program_title,
                status=mapping.enum_name(  # type: ignore[arg-type]
                    enrollment_pb2.EnrollmentStatus, e.status, "ENROLLMENT_STATUS_"
                ),
                credential_id=mapping.or_none(e.credential_id),
                shared=e.shared,
                credential_revoked=e.credential_revoked,
                revocation_reason=mapping.or_none(e.revocation_reason),
            )
            for e in p.enrollments
        ],
        skills=list(p.skills),
        shared_skills=list(p.shared_skills),
    )


def shareable_to_json(c: employers_pb2.ShareableCredential) -> ShareableCredential:
    return ShareableCredential(
        credential_id=c.credential_id,
        enrollment_id=c.enrollment_id,
        program_id=c.program_id,
        program_title=c.program_title,
        skills=list(c.skills),
        shared=c.shared,
    )


def invitation_state_to_json(i: employers_pb2.SeatInvitation) -> SeatInvitationState:
    return SeatInvitationState(
        id=i.id,
        seat_pack_id=i.seat_pack_id,
        email=i.email,
        status=mapping.enum_name(  # type: ignore[arg-type]
            employers_pb2.SeatInvitationStatus, i.status, "SEAT_INVITATION_STATUS_"
        ),
        expires_at=mapping.timestamp(i.expire_time, i.HasField("expire_time")),
        redeemed_at=mapping.timestamp(i.redeem_time, i.HasField("redeem_time")),
        revoked_at=mapping.timestamp(i.revoke_time, i.HasField("revoke_time")),
        enrollment_id=mapping.or_none(i.enrollment_id),
    )


# ---------------------------------------------------------------- routes


@router.get(
    "/employers",
    response_model=EmployerList,
    responses=_READ_ERRORS,
    summary="List the employers the caller is a member of (owner or manager), latest joined first",
)
async def list_employers(
    caller: Caller, clients: ClientsDep, page_size: PageSize = 0, page_token: PageToken = ""
) -> EmployerList:
    reply = await invoke(
        clients.employers.ListEmployers,
        employers_service_pb2.ListEmployersRequest(page_size=page_size, page_token=page_token),
        token=caller.token,
    )
    return EmployerList(
        employers=[employer_to_json(e) for e in reply.employers],
        next_page_token=reply.next_page_token or None,
    )


@router.post(
    "/employers",
    status_code=status.HTTP_201_CREATED,
    response_model=Employer,
    responses=_WRITE_ERRORS,
    summary="Create an employer; the caller becomes its owner (anyone signed in)",
)
async def create_employer(
    body: EmployerCreate, caller: Caller, clients: ClientsDep, response: Response
) -> Employer:
    reply = await invoke(
        clients.employers.CreateEmployer,
        employers_service_pb2.CreateEmployerRequest(name=body.name),
        token=caller.token,
    )
    response.headers["Location"] = f"/api/v1/employers/{reply.employer.id}"
    return employer_to_json(reply.employer)


@router.get(
    "/employers/{employer_id}",
    response_model=Employer,
    responses=_READ_ERRORS,
    summary="Get an employer (its members)",
)
async def get_employer(employer_id: EmployerId, caller: Caller, clients: ClientsDep) -> Employer:
    reply = await invoke(
        clients.employers.GetEmployer,
        employers_service_pb2.GetEmployerRequest(employer_id=resource_id(employer_id, "employer")),
        token=caller.token,
    )
    return employer_to_json(reply.employer)


@router.post(
    "/employers/{employer_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    response_model=EmployerInvitation,
    responses=_WRITE_ERRORS,
    summary="Invite a manager by email (owners); they accept by signing in with it",
)
async def invite_manager(
    employer_id: EmployerId, body: ManagerInvite, caller: Caller, clients: ClientsDep
) -> EmployerInvitation:
    reply = await invoke(
        clients.employers.InviteManager,
        employers_service_pb2.InviteManagerRequest(
            employer_id=resource_id(employer_id, "employer"), email=body.email
        ),
        token=caller.token,
    )
    i = reply.invitation
    return EmployerInvitation(
        id=i.id,
        employer_id=i.employer_id,
        email=i.email,
        role=_role(i.role),
        created_at=mapping.timestamp(i.create_time, i.HasField("create_time")),
    )


@router.post(
    "/employer-invitations/{invitation_id}/accept",
    response_model=Employer,
    responses=_WRITE_ERRORS,
    summary="Accept an invitation to manage an employer (the invited, signed-in person)",
)
async def accept_manager_invitation(
    invitation_id: InvitationId, caller: Caller, clients: ClientsDep
) -> Employer:
    reply = await invoke(
        clients.employers.AcceptEmployerInvitation,
        employers_service_pb2.AcceptEmployerInvitationRequest(
            invitation_id=resource_id(invitation_id, "invitation")
        ),
        token=caller.token,
    )
    return employer_to_json(reply.employer)


@router.post(
    "/employers/{employer_id}/seat-packs",
    status_code=status.HTTP_201_CREATED,
    response_model=SeatPack,
    responses=_WRITE_ERRORS,
    summary="Buy N seats of a published program (members); pay at checkout_url",
    description=(
        "The seats are reserved at once (409 when the program has fewer left); the pack is"
        " paid once, at the price per seat times N, through the same checkout as a single"
        " purchase. The price per seat is the program's, or that of its volume tier with the"
        " most min_seats that N reaches."
    ),
)
async def create_seat_pack(
    employer_id: EmployerId,
    body: SeatPackCreate,
    caller: Caller,
    clients: ClientsDep,
    response: Response,
) -> SeatPack:
    reply = await invoke(
        clients.employers.CreateSeatPack,
        employers_service_pb2.CreateSeatPackRequest(
            employer_id=resource_id(employer_id, "employer"),
            program_id=body.program_id,
            seats=body.seats,
        ),
        token=caller.token,
    )
    pack = reply.seat_pack
    response.headers["Location"] = f"/api/v1/employers/{pack.employer_id}/seat-packs/{pack.id}"
    return pack_to_json(pack)


@router.get(
    "/employers/{employer_id}/seat-packs/{seat_pack_id}",
    response_model=SeatPack,
    responses=_READ_ERRORS,
    summary="Get a seat pack (members)",
)
async def get_seat_pack(
    employer_id: EmployerId, seat_pack_id: SeatPackId, caller: Caller, clients: ClientsDep
) -> SeatPack:
    reply = await invoke(
        clients.employers.GetSeatPack,
        employers_service_pb2.GetSeatPackRequest(
            employer_id=resource_id(employer_id, "employer"),
            seat_pack_id=resource_id(seat_pack_id, "seat pack"),
        ),
        token=caller.token,
    )
    return pack_to_json(reply.seat_pack)


@router.post(
    "/employers/{employer_id}/seat-packs/{seat_pack_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    response_model=SeatInvitationList,
    responses=_WRITE_ERRORS,
    summary="Give each email a one-time code for a seat (members)",
)
async def invite_seats(
    employer_id: EmployerId,
    seat_pack_id: SeatPackId,
    body: SeatInvite,
    caller: Caller,
    clients: ClientsDep,
) -> SeatInvitationList:
    reply = await invoke(
        clients.employers.InviteSeats,
        employers_service_pb2.InviteSeatsRequest(
            employer_id=resource_id(employer_id, "employer"),
            seat_pack_id=resource_id(seat_pack_id, "seat pack"),
            emails=body.emails,
        ),
        token=caller.token,
    )
    return SeatInvitationList(
        invitations=[
            SeatInvitation(
                id=i.id,
                seat_pack_id=i.seat_pack_id,
                email=i.email,
                code=i.code,
                expires_at=mapping.timestamp(i.expire_time, i.HasField("expire_time")),
            )
            for i in reply.invitations
        ]
    )


class RevokedSeatInvitation(BaseModel):
    id: str
    seat_pack_id: str
    email: str
    revoked_at: datetime | None


@router.post(
    "/employers/{employer_id}/seat-packs/{seat_pack_id}/invitations/{invitation_id}/revoke",
    response_model=RevokedSeatInvitation,
    responses=_WRITE_ERRORS,
    summary="Stop an unredeemed seat code working (members)",
)
async def revoke_seat_invitation(
    employer_id: EmployerId,
    seat_pack_id: SeatPackId,
    invitation_id: InvitationId,
    caller: Caller,
    clients: ClientsDep,
) -> RevokedSeatInvitation:
    reply = await invoke(
        clients.employers.RevokeSeatInvitation,
        employers_service_pb2.RevokeSeatInvitationRequest(
            employer_id=resource_id(employer_id, "employer"),
            seat_pack_id=resource_id(seat_pack_id, "seat pack"),
            invitation_id=resource_id(invitation_id, "invitation"),
        ),
        token=caller.token,
    )
    i = reply.invitation
    return RevokedSeatInvitation(
        id=i.id,
        seat_pack_id=i.seat_pack_id,
        email=i.email,
        revoked_at=mapping.timestamp(i.revoke_time, i.HasField("revoke_time")),
    )


class SeatRefund(BaseModel):
    seat_pack: SeatPack
    seats_refunded: int = Field(description="Seats given back by this request")


@router.post(
    "/employers/{employer_id}/seat-packs/{seat_pack_id}/refund-unassigned",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SeatRefund,
    responses=_WRITE_ERRORS,
    summary="Give the unredeemed seats back; their price is refunded (members)",
    description=(
        "The seats nobody redeemed go back to the program at once, and the pack's payment is"
        " refunded for them (asynchronously, like every refund). Codes not yet redeemed then"
        " find the pack sold out. 409 when every seat is redeemed."
    ),
)
async def refund_unassigned(
    employer_id: EmployerId, seat_pack_id: SeatPackId, caller: Caller, clients: ClientsDep
) -> SeatRefund:
    reply = await invoke(
        clients.employers.RefundUnassignedSeats,
        employers_service_pb2.RefundUnassignedSeatsRequest(
            employer_id=resource_id(employer_id, "employer"),
            seat_pack_id=resource_id(seat_pack_id, "seat pack"),
        ),
        token=caller.token,
    )
    return SeatRefund(seat_pack=pack_to_json(reply.seat_pack), seats_refunded=reply.seats_refunded)


@router.post(
    "/redemptions",
    status_code=status.HTTP_201_CREATED,
    response_model=Enrollment,
    responses=_WRITE_ERRORS,
    summary="Redeem a seat code: an ACTIVE enrollment paid by the pack (the invited learner)",
    description=(
        "Only the person the code was issued to (their verified email) may redeem it; a"
        " second redemption returns the same enrollment; 409 when the pack is sold out."
    ),
)
async def redeem(body: Redemption, caller: Caller, clients: ClientsDep) -> Enrollment:
    reply = await invoke(
        clients.employers.RedeemSeat,
        employers_service_pb2.RedeemSeatRequest(code=body.code),
        token=caller.token,
    )
    return mapping.enrollment_to_json(reply.enrollment)


@router.get(
    "/employers/{employer_id}/team",
    response_model=Team,
    responses=_READ_ERRORS,
    summary="Sponsored people, their progress, credentials and skills matrix (members)",
)
async def team(employer_id: EmployerId, caller: Caller, clients: ClientsDep) -> Team:
    reply = await invoke(
        clients.employers.GetTeam,
        employers_service_pb2.GetTeamRequest(employer_id=resource_id(employer_id, "employer")),
        token=caller.token,
    )
    return Team(people=[team_person_to_json(p) for p in reply.people], skills=list(reply.skills))


@router.get(
    "/employers/{employer_id}/seat-packs",
    response_model=SeatPackList,
    responses=_READ_ERRORS,
    summary="List the employer's seat packs, newest first, with seats redeemed (members)",
)
async def list_seat_packs(
    employer_id: EmployerId,
    caller: Caller,
    clients: ClientsDep,
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> SeatPackList:
    reply = await invoke(
        clients.employers.ListSeatPacks,
        employers_service_pb2.ListSeatPacksRequest(
            employer_id=resource_id(employer_id, "employer"),
            page_size=page_size,
            page_token=page_token,
        ),
        token=caller.token,
    )
    return SeatPackList(
        seat_packs=[pack_to_json(p) for p in reply.seat_packs],
        next_page_token=reply.next_page_token or None,
    )


@router.get(
    "/employers/{employer_id}/seat-packs/{seat_pack_id}/invitations",
    response_model=SeatInvitationStateList,
    responses=_READ_ERRORS,
    summary="List a seat pack's invitations and where each is, newest first (members)",
)
async def list_seat_invitations(
    employer_id: EmployerId,
    seat_pack_id: SeatPackId,
    caller: Caller,
    clients: ClientsDep,
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> SeatInvitationStateList:
    reply = await invoke(
        clients.employers.ListSeatInvitations,
        employers_service_pb2.ListSeatInvitationsRequest(
            employer_id=resource_id(employer_id, "employer"),
            seat_pack_id=resource_id(seat_pack_id, "seat pack"),
            page_size=page_size,
            page_token=page_token,
        ),
        token=caller.token,
    )
    return SeatInvitationStateList(
        invitations=[invitation_state_to_json(i) for i in reply.invitations],
        next_page_token=reply.next_page_token or None,
    )


@router.get(
    "/me/sponsors",
    response_model=SponsorList,
    responses=_READ_ERRORS,
    summary="The employers that sponsor you, exactly what each sees, and what you may share",
)
async def list_sponsors(caller: Caller, clients: ClientsDep) -> SponsorList:
    reply = await invoke(
        clients.employers.ListSponsors,
        employers_service_pb2.ListSponsorsRequest(),
        token=caller.token,
    )
    return SponsorList(
        sponsors=[
            Sponsor(
                employer=employer_to_json(s.employer),
                seen=team_person_to_json(s.seen) if s.HasField("seen") else None,
                credentials=[shareable_to_json(c) for c in s.credentials],
            )
            for s in reply.sponsors
        ]
    )


@router.put(
    "/me/sponsors/{employer_id}/shared-credentials/{credential_id}",
    response_model=ShareableCredential,
    responses=_WRITE_ERRORS,
    summary="Share a credential you earned on your own with an employer that sponsors you",
    description=(
        "Its team view and skills matrix then show it, marked as shared. Only credentials of"
        " programs you paid for yourself, still valid (409 otherwise; a revoked one: 409"
        " `this credential was revoked, so it cannot be shared`, and a shared one that is"
        " revoked leaves the employer's view); an employer that does not sponsor you is 404."
        " Sharing again changes nothing."
    ),
)
async def share_credential(
    employer_id: EmployerId, credential_id: CredentialId, caller: Caller, clients: ClientsDep
) -> ShareableCredential:
    reply = await invoke(
        clients.employers.ShareCredential,
        employers_service_pb2.ShareCredentialRequest(
            employer_id=resource_id(employer_id, "employer"),
            credential_id=resource_id(credential_id, "credential"),
        ),
        token=caller.token,
    )
    return shareable_to_json(reply.credential)


@router.delete(
    "/me/sponsors/{employer_id}/shared-credentials/{credential_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_WRITE_ERRORS,
    summary="Stop sharing a credential with an employer (again: no change)",
)
async def unshare_credential(
    employer_id: EmployerId, credential_id: CredentialId, caller: Caller, clients: ClientsDep
) -> Response:
    await invoke(
        clients.employers.UnshareCredential,
        employers_service_pb2.UnshareCredentialRequest(
            employer_id=resource_id(employer_id, "employer"),
            credential_id=resource_id(credential_id, "credential"),
        ),
        token=caller.token,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
