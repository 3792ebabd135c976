"""Provider staff over HTTP: invitations by email, accepted by signing in; membership
lives in the catalog's data. To act for a provider afterwards, a member sends
`X-Upskill-Provider: <provider id>` with their own token; every service checks the
membership before it treats the caller as that provider's staff."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status
from upskill.catalog.v1 import catalog_service_pb2

from services.gateway import mapping
from services.gateway.clients import invoke
from services.gateway.dependencies import Caller, ClientsDep, resource_id, uuid_path
from services.gateway.problems import problem_responses
from services.gateway.schemas import (
    Invitation,
    InvitationCreate,
    Member,
    MemberCreate,
    MemberList,
)

router = APIRouter(prefix="/api/v1", tags=["provider staff"])

ProviderId = Annotated[str, uuid_path("provider")]
InvitationId = Annotated[str, uuid_path("invitation")]


@router.post(
    "/providers/{provider_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    response_model=Invitation,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 502, 503),
    summary="Invite an email address to the provider's staff (admin, or an owner)",
    description="409 when the address already has an open invitation or is a member.",
)
async def invite_member(
    provider_id: ProviderId,
    body: InvitationCreate,
    caller: Caller,
    clients: ClientsDep,
    response: Response,
) -> Invitation:
    reply = await invoke(
        clients.catalog.InviteMember,
        catalog_service_pb2.InviteMemberRequest(
            provider_id=resource_id(provider_id, "provider"),
            email=body.email,
            role=mapping.member_role_to_proto(body.role),  # type: ignore[arg-type]
        ),
        token=caller.token,
    )
    response.headers["Location"] = f"/api/v1/invitations/{reply.invitation.id}"
    return mapping.invitation_to_json(reply.invitation)


@router.post(
    "/providers/{provider_id}/members",
    status_code=status.HTTP_201_CREATED,
    response_model=Member,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 502, 503),
    summary="Add an identity with no email, such as an API client, as a member (admin, owner)",
    description="People join by invitation; this is for a provider's own API client.",
)
async def add_member(
    provider_id: ProviderId, body: MemberCreate, caller: Caller, clients: ClientsDep
) -> Member:
    reply = await invoke(
        clients.catalog.AddMember,
        catalog_service_pb2.AddMemberRequest(
            provider_id=resource_id(provider_id, "provider"),
            subject=body.subject,
            role=mapping.member_role_to_proto(body.role),  # type: ignore[arg-type]
        ),
        token=caller.token,
    )
    return mapping.member_to_json(reply.member)


@router.post(
    "/invitations/{invitation_id}/accept",
    response_model=Member,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 502, 503),
    summary="Accept an invitation: the caller (whose verified email it names) becomes a member",
    description=(
        "404 for an unknown invitation or one addressed to someone else; 409 once accepted;"
        " 403 when the caller's sign-in carries no verified email."
    ),
)
async def accept_invitation(
    invitation_id: InvitationId, caller: Caller, clients: ClientsDep
) -> Member:
    reply = await invoke(
        clients.catalog.AcceptInvitation,
        catalog_service_pb2.AcceptInvitationRequest(
            invitation_id=resource_id(invitation_id, "invitation")
        ),
        token=caller.token,
    )
    return mapping.member_to_json(reply.member)


@router.get(
    "/providers/{provider_id}/members",
    response_model=MemberList,
    responses=problem_responses(400, 401, 403, 404, 422, 502, 503),
    summary="The provider's members and open invitations (admins, the provider's members)",
)
async def list_members(provider_id: ProviderId, caller: Caller, clients: ClientsDep) -> MemberList:
    reply = await invoke(
        clients.catalog.ListMembers,
        catalog_service_pb2.ListMembersRequest(provider_id=resource_id(provider_id, "provider")),
        token=caller.token,
    )
    return MemberList(
        members=[mapping.member_to_json(m) for m in reply.members],
        invitations=[mapping.invitation_to_json(i) for i in reply.invitations],
    )


@router.get(
    "/providers/{provider_id}/membership",
    response_model=Member,
    responses=problem_responses(400, 401, 403, 404, 422, 502, 503),
    summary="The caller's own membership of the provider (404 when none)",
)
async def my_membership(provider_id: ProviderId, caller: Caller, clients: ClientsDep) -> Member:
    reply = await invoke(
        clients.catalog.GetMembership,
        catalog_service_pb2.GetMembershipRequest(provider_id=resource_id(provider_id, "provider")),
        token=caller.token,
    )
    return mapping.member_to_json(reply.member)
