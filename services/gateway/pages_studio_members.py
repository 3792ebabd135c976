"""The studio's "Members" page: a provider's members and open invitations, and the form
that invites someone by email. It calls the same catalog RPCs as routes_members.py with
the signed-in person's token, acting for the provider in the URL: who may invite (owners,
admins) stays the catalog's rule; a staff member who tries is shown the catalog's refusal.
The person invited opens the invitation link (/invitations/{id}), signs in with that
email, and accepts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from upskill.catalog.v1 import catalog_service_pb2

from services.common.auth import Principal
from services.gateway import mapping, studio_form
from services.gateway.clients import Clients, invoke
from services.gateway.dependencies import ClientsDep, Viewer
from services.gateway.pages_studio import _acting, _provider
from services.gateway.problems import ProblemError
from services.gateway.rendering import render
from services.gateway.schemas import InvitationCreate

router = APIRouter(include_in_schema=False)

_FORM_FIELDS = ("email", "role")


async def _members(clients: Clients, provider: str, person: Principal) -> dict[str, Any]:
    reply = await invoke(
        clients.catalog.ListMembers,
        catalog_service_pb2.ListMembersRequest(provider_id=provider),
        token=person.token,
    )
    return {
        "members": [mapping.member_to_json(m) for m in reply.members],
        "invitations": [mapping.invitation_to_json(i) for i in reply.invitations],
    }


async def _page(
    request: Request,
    clients: Clients,
    provider: str,
    person: Principal,
    *,
    values: dict[str, str] | None = None,
    problem: ProblemError | None = None,
    invited: str = "",
) -> HTMLResponse:
    errors: dict[str, str] = {}
    other: list[str] = []
    if problem is not None:
        for e in problem.errors:
            if e.field in _FORM_FIELDS:
                errors.setdefault(e.field, e.message)
            else:
                other.append(f"{e.field}: {e.message}" if e.field else e.message)
        if not problem.errors:
            other.append(problem.detail)
    base_url = request.app.state.settings.public_base_url.rstrip("/")
    return render(
        request,
        "studio_members.html",
        {
            "provider": await _provider(clients, provider, person.token),
            **await _members(clients, provider, person),
            "values": values or {"email": "", "role": "STAFF"},
            "errors": errors,
            "other_errors": other,
            "invited": invited,
            "base_url": base_url,
        },
        status_code=problem.status if problem is not None else 200,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/studio/{provider_id}/members", response_class=HTMLResponse)
async def members_page(
    provider_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    person, provider = _acting(viewer, provider_id)
    invited = request.query_params.get("invited", "")[:100]
    return await _page(request, clients, provider, person, invited=invited)


@router.post("/studio/{provider_id}/members/invitations", response_class=HTMLResponse)
async def invite(
    provider_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> Response:
    person, provider = _acting(viewer, provider_id)
    values = await studio_form.form_values(request)
    values = {name: values.get(name, "").strip() for name in _FORM_FIELDS}
    try:
        body = InvitationCreate.model_validate(
            {"email": values["email"], "role": values["role"] or "STAFF"}
        )
        reply = await invoke(
            clients.catalog.InviteMember,
            catalog_service_pb2.InviteMemberRequest(
                provider_id=provider,
                email=body.email,
                role=mapping.member_role_to_proto(body.role),  # type: ignore[arg-type]
            ),
            token=person.token,
        )
    except (ValidationError, ProblemError) as exc:
        problem = studio_form.as_problem(exc)
        if problem.status not in (400, 403, 409, 422):
            raise
        return await _page(request, clients, provider, person, values=values, problem=problem)
    return RedirectResponse(
        f"/studio/{provider}/members?invited={reply.invitation.id}", status_code=303
    )
