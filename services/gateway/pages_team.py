"""The employer pages, for the people who own or manage an employer: `/team` lists theirs
and creates one; `/team/{id}` shows its seat packs (seats left), buys one (-> checkout),
invites people to a pack, invites managers, and shows the team view and skills matrix;
`/team/{id}/seat-packs/{pack}` lists a pack's invitations with their status and revokes
one; `/team/invitations/{id}` accepts an invitation to manage.

Every action calls the same RPCs as the JSON API (routes_employers.py) with the signed-in
person's token, its body validated by the same models: who may do what stays the
enrollment service's rule, and its refusals are shown next to the form that caused them.
Forms are plain POSTs, protected from other sites by cross_origin.py like every form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from upskill.catalog.v1 import catalog_service_pb2
from upskill.enrollment.v1 import employers_service_pb2

from services.common.auth import Principal
from services.gateway import mapping, schemas, seat_prices, studio_access, studio_form
from services.gateway.clients import Clients, invoke
from services.gateway.dependencies import ClientsDep, Viewer, resource_id
from services.gateway.problems import FieldError, ProblemError, unauthenticated
from services.gateway.rendering import render
from services.gateway.routes_employers import (
    EmployerCreate,
    ManagerInvite,
    SeatInvite,
    SeatPackCreate,
    employer_to_json,
    invitation_state_to_json,
    pack_to_json,
    team_person_to_json,
)

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
_NO_STORE = {"Cache-Control": "no-store"}
# Errors a form shows next to itself; anything else is the error page.
_FORM_STATUSES = (400, 403, 404, 409, 413, 422)
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_EMAIL_SEPARATORS = re.compile(r"[\s,;]+")
# Packs people can still be invited to.
_INVITABLE = ("PENDING_PAYMENT", "PAID")

PageToken = Annotated[str, Query(max_length=200)]


@dataclass
class FormState:
    """One form's typed values and the API's refusal, split onto its inputs."""

    name: str = ""
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    other: list[str] = field(default_factory=list)


def _refused(
    name: str, values: dict[str, str], exc: ValidationError | ProblemError, inputs: dict[str, str]
) -> tuple[FormState, int]:
    """The form `name` with the refusal's field errors on its inputs (`inputs` maps the
    API's field, first path segment, to the input), the rest above it."""
    problem = studio_form.as_problem(exc)
    if problem.status not in _FORM_STATUSES:
        raise problem
    state = FormState(name, values)
    for e in problem.errors:
        where = inputs.get(e.field.split(".")[0].split("[")[0])
        if where:
            state.errors.setdefault(where, e.message)
        else:
            state.other.append(f"{e.field}: {e.message}" if e.field else e.message)
    if not problem.errors:
        state.other.append(problem.detail)
    return state, problem.status


def _signed_in(viewer: Principal | None) -> Principal:
    if viewer is None:
        raise unauthenticated("sign in to see your team")
    return viewer


async def _values(request: Request, *names: str) -> dict[str, str]:
    form = await studio_form.form_values(request)
    return {n: form.get(n, "") for n in names}


def _validated(model: type[BaseModel], body: dict[str, Any]) -> Any:
    return model.model_validate(body)


# ---------------------------------------------------------------- /team


async def _index(
    request: Request,
    clients: Clients,
    person: Principal,
    page_token: str,
    form: FormState | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    reply = await invoke(
        clients.employers.ListEmployers,
        employers_service_pb2.ListEmployersRequest(page_size=PAGE_SIZE, page_token=page_token),
        token=person.token,
    )
    return render(
        request,
        "team_index.html",
        {
            "employers": [employer_to_json(e) for e in reply.employers],
            "next_token": reply.next_page_token,
            "paged": bool(page_token),
            "form": form or FormState("create", {"name": ""}),
        },
        status_code=status_code,
        headers=_NO_STORE,
    )


@router.get("/team", response_class=HTMLResponse)
async def team_index(
    request: Request, viewer: Viewer, clients: ClientsDep, page_token: PageToken = ""
) -> HTMLResponse:
    return await _index(request, clients, _signed_in(viewer), page_token)


@router.post("/team", response_class=HTMLResponse)
async def create_employer(request: Request, viewer: Viewer, clients: ClientsDep) -> Response:
    person = _signed_in(viewer)
    values = await _values(request, "name")
    try:
        body = _validated(EmployerCreate, values)
        reply = await invoke(
            clients.employers.CreateEmployer,
            employers_service_pb2.CreateEmployerRequest(name=body.name),
            token=person.token,
        )
    except (ValidationError, ProblemError) as exc:
        form, status = _refused("create", values, exc, {"name": "name"})
        return await _index(request, clients, person, "", form, status)
    studio_access.forget(request, person.subject)
    return RedirectResponse(f"/team/{reply.employer.id}?created=1", status_code=303)


# ---------------------------------------------------------------- /team/{id}


@dataclass
class Notice:
    """What the page says happened (codes are shown once, right after they are issued)."""

    text: str = ""
    codes: list[dict[str, str]] = field(default_factory=list)
    manager_link: str = ""


@dataclass
class Review:
    """A seat pack about to be bought: the program, and its price for the seats asked for."""

    program: schemas.Program
    quote: seat_prices.Quote
    tiers: list[seat_prices.TierRow]


async def _employer_page(
    request: Request,
    clients: Clients,
    person: Principal,
    employer_id: str,
    packs_token: str = "",
    *,
    form: FormState | None = None,
    notice: Notice | None = None,
    review: Review | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    employer = await invoke(
        clients.employers.GetEmployer,
        employers_service_pb2.GetEmployerRequest(employer_id=employer_id),
        token=person.token,
    )
    packs = await invoke(
        clients.employers.ListSeatPacks,
        employers_service_pb2.ListSeatPacksRequest(
            employer_id=employer_id, page_size=PAGE_SIZE, page_token=packs_token
        ),
        token=person.token,
    )
    team = await invoke(
        clients.employers.GetTeam,
        employers_service_pb2.GetTeamRequest(employer_id=employer_id),
        token=person.token,
    )
    shown_packs = [pack_to_json(p) for p in packs.seat_packs]
    return render(
        request,
        "team.html",
        {
            "employer": employer_to_json(employer.employer),
            "packs": shown_packs,
            "invitable": [p for p in shown_packs if p.status in _INVITABLE],
            "packs_next": packs.next_page_token,
            "packs_paged": bool(packs_token),
            "team": {
                "people": [team_person_to_json(p) for p in team.people],
                "skills": list(team.skills),
            },
            "form": form or FormState(),
            "notice": notice or Notice(),
            "review": review,
            "program_id": request.query_params.get("program_id", "")[:64],
        },
        status_code=status_code,
        headers=_NO_STORE,
    )


def _created_notice(request: Request) -> Notice:
    if request.query_params.get("created"):
        return Notice("Your employer account is ready: buy seats for your people below.")
    bought = request.query_params.get("bought", "")
    if bought:
        return Notice("The seat pack is yours: invite people to it below.")
    return Notice()


@router.get("/team/{employer_id}", response_class=HTMLResponse)
async def team_page(
    employer_id: str,
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
    packs_page_token: PageToken = "",
) -> HTMLResponse:
    person = _signed_in(viewer)
    employer_id = resource_id(employer_id, "employer")
    return await _employer_page(
        request, clients, person, employer_id, packs_page_token, notice=_created_notice(request)
    )


def _program_id(typed: str) -> str:
    """The program's id, typed as is or inside its page's link; else as typed (for the
    API's validation to name)."""
    found = _UUID.search(typed)
    return found.group(0).lower() if found else typed.strip()


_BUY_INPUTS = {"program_id": "program_id", "seats": "seats"}


def _pack_body(values: dict[str, str]) -> Any:
    return _validated(
        SeatPackCreate,
        {
            "program_id": _program_id(values["program_id"]),
            "seats": studio_form.number(values["seats"]),
        },
    )


_NOT_ON_SALE = "is not a program on sale"


async def _program_on_sale(clients: Clients, person: Principal, program_id: str) -> schemas.Program:
    """The published program to review a pack of; else a refusal on the program input
    (drafts and archived programs are not found by those who do not own them)."""
    try:
        reply = await invoke(
            clients.catalog.GetProgram,
            catalog_service_pb2.GetProgramRequest(program_id=program_id),
            token=person.token,
        )
    except ProblemError as problem:
        if problem.status != 404:
            raise
        problem.errors = [FieldError(field="program_id", message=_NOT_ON_SALE)]
        raise
    program = mapping.program_to_json(reply.program)
    if program.status != "PUBLISHED":
        raise ProblemError(
            409,
            "this program is not on sale",
            slug="conflict",
            errors=[FieldError(field="program_id", message=_NOT_ON_SALE)],
        )
    return program


@router.post("/team/{employer_id}/seat-packs/review", response_class=HTMLResponse)
async def review_seats(
    employer_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    """The buy form's first step: the program's price per seat for that many seats (its
    volume tier's, by the rule enrollment charges) and the total, with the button that
    opens the checkout. Nothing is bought or reserved yet."""
    person = _signed_in(viewer)
    employer_id = resource_id(employer_id, "employer")
    values = await _values(request, "program_id", "seats")
    try:
        body = _pack_body(values)
        program = await _program_on_sale(clients, person, body.program_id)
    except (ValidationError, ProblemError) as exc:
        form, status = _refused("buy", values, exc, _BUY_INPUTS)
        return await _employer_page(
            request, clients, person, employer_id, form=form, status_code=status
        )
    review = Review(program, seat_prices.quote(program, body.seats), seat_prices.tier_rows(program))
    return await _employer_page(
        request,
        clients,
        person,
        employer_id,
        form=FormState("buy", {"program_id": program.id, "seats": str(body.seats)}),
        review=review,
    )


@router.post("/team/{employer_id}/seat-packs", response_class=HTMLResponse)
async def buy_seats(
    employer_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> Response:
    person = _signed_in(viewer)
    employer_id = resource_id(employer_id, "employer")
    values = await _values(request, "program_id", "seats")
    try:
        body = _pack_body(values)
        reply = await invoke(
            clients.employers.CreateSeatPack,
            employers_service_pb2.CreateSeatPackRequest(
                employer_id=employer_id, program_id=body.program_id, seats=body.seats
            ),
            token=person.token,
        )
    except (ValidationError, ProblemError) as exc:
        form, status = _refused("buy", values, exc, _BUY_INPUTS)
        return await _employer_page(
            request, clients, person, employer_id, form=form, status_code=status
        )
    pack = reply.seat_pack
    if pack.checkout_url and pack_to_json(pack).status == "PENDING_PAYMENT":
        return RedirectResponse(pack.checkout_url, status_code=303)
    return RedirectResponse(f"/team/{employer_id}?bought={pack.id}", status_code=303)


def _emails(typed: str) -> list[str]:
    return [e for e in _EMAIL_SEPARATORS.split(typed) if e]


async def _invite(
    request: Request,
    clients: Clients,
    person: Principal,
    employer_id: str,
    pack_id: str,
    typed: str,
) -> Notice:
    body = _validated(SeatInvite, {"emails": _emails(typed)})
    base_url = request.app.state.settings.public_base_url.rstrip("/")
    reply = await invoke(
        clients.employers.InviteSeats,
        employers_service_pb2.InviteSeatsRequest(
            employer_id=employer_id,
            seat_pack_id=resource_id(pack_id, "seat pack") if pack_id else "",
            emails=body.emails,
        ),
        token=person.token,
    )
    codes = [
        {
            "email": i.email,
            "code": i.code,
            "link": f"{base_url}/redeem?{urlencode({'code': i.code})}",
        }
        for i in reply.invitations
    ]
    return Notice(
        f"{len(codes)} invited. Send each person their link (or code): they redeem it signed"
        " in with that email address. The codes are shown only now.",
        codes,
    )


@router.post("/team/{employer_id}/invitations", response_class=HTMLResponse)
async def invite_people(
    employer_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    person = _signed_in(viewer)
    employer_id = resource_id(employer_id, "employer")
    values = await _values(request, "seat_pack_id", "emails")
    try:
        if not values["seat_pack_id"]:
            raise ProblemError(
                422, "choose the seat pack to invite people to", slug="invalid-input"
            )
        notice = await _invite(
            request, clients, person, employer_id, values["seat_pack_id"], values["emails"]
        )
    except (ValidationError, ProblemError) as exc:
        form, status = _refused(
            "invite", values, exc, {"emails": "emails", "seat_pack_id": "seat_pack_id"}
        )
        return await _employer_page(
            request, clients, person, employer_id, form=form, status_code=status
        )
    return await _employer_page(request, clients, person, employer_id, notice=notice)


@router.post("/team/{employer_id}/managers", response_class=HTMLResponse)
async def invite_manager(
    employer_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    person = _signed_in(viewer)
    employer_id = resource_id(employer_id, "employer")
    values = await _values(request, "email")
    try:
        body = _validated(ManagerInvite, {"email": values["email"].strip()})
        reply = await invoke(
            clients.employers.InviteManager,
            employers_service_pb2.InviteManagerRequest(employer_id=employer_id, email=body.email),
            token=person.token,
        )
    except (ValidationError, ProblemError) as exc:
        form, status = _refused("manager", values, exc, {"email": "email"})
        return await _employer_page(
            request, clients, person, employer_id, form=form, status_code=status
        )
    base_url = request.app.state.settings.public_base_url.rstrip("/")
    notice = Notice(
        f"{reply.invitation.email} is invited to manage. Send them this link: they sign in"
        " with that address and accept.",
        manager_link=f"{base_url}/team/invitations/{reply.invitation.id}",
    )
    return await _employer_page(request, clients, person, employer_id, notice=notice)


# ---------------------------------------------------------------- one pack


async def _pack_page(
    request: Request,
    clients: Clients,
    person: Principal,
    employer_id: str,
    pack_id: str,
    page_token: str = "",
    *,
    form: FormState | None = None,
    notice: Notice | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    employer = await invoke(
        clients.employers.GetEmployer,
        employers_service_pb2.GetEmployerRequest(employer_id=employer_id),
        token=person.token,
    )
    pack = await invoke(
        clients.employers.GetSeatPack,
        employers_service_pb2.GetSeatPackRequest(employer_id=employer_id, seat_pack_id=pack_id),
        token=person.token,
    )
    invitations = await invoke(
        clients.employers.ListSeatInvitations,
        employers_service_pb2.ListSeatInvitationsRequest(
            employer_id=employer_id,
            seat_pack_id=pack_id,
            page_size=PAGE_SIZE,
            page_token=page_token,
        ),
        token=person.token,
    )
    return render(
        request,
        "team_pack.html",
        {
            "employer": employer_to_json(employer.employer),
            "pack": pack_to_json(pack.seat_pack),
            "invitations": [invitation_state_to_json(i) for i in invitations.invitations],
            "next_token": invitations.next_page_token,
            "paged": bool(page_token),
            "form": form or FormState(),
            "notice": notice or Notice(),
        },
        status_code=status_code,
        headers=_NO_STORE,
    )


@router.get("/team/{employer_id}/seat-packs/{pack_id}", response_class=HTMLResponse)
async def pack_page(
    employer_id: str,
    pack_id: str,
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
    page_token: PageToken = "",
) -> HTMLResponse:
    person = _signed_in(viewer)
    employer_id, pack_id = resource_id(employer_id, "employer"), resource_id(pack_id, "seat pack")
    notice = Notice("The invitation is revoked.") if request.query_params.get("revoked") else None
    return await _pack_page(
        request, clients, person, employer_id, pack_id, page_token, notice=notice
    )


@router.post("/team/{employer_id}/seat-packs/{pack_id}/invitations", response_class=HTMLResponse)
async def invite_to_pack(
    employer_id: str, pack_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    person = _signed_in(viewer)
    employer_id, pack_id = resource_id(employer_id, "employer"), resource_id(pack_id, "seat pack")
    values = await _values(request, "emails")
    try:
        notice = await _invite(request, clients, person, employer_id, pack_id, values["emails"])
    except (ValidationError, ProblemError) as exc:
        form, status = _refused("invite", values, exc, {"emails": "emails"})
        return await _pack_page(
            request, clients, person, employer_id, pack_id, form=form, status_code=status
        )
    return await _pack_page(request, clients, person, employer_id, pack_id, notice=notice)


@router.post(
    "/team/{employer_id}/seat-packs/{pack_id}/invitations/{invitation_id}/revoke",
    response_class=HTMLResponse,
)
async def revoke_invitation(
    employer_id: str,
    pack_id: str,
    invitation_id: str,
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
) -> Response:
    person = _signed_in(viewer)
    employer_id, pack_id = resource_id(employer_id, "employer"), resource_id(pack_id, "seat pack")
    try:
        await invoke(
            clients.employers.RevokeSeatInvitation,
            employers_service_pb2.RevokeSeatInvitationRequest(
                employer_id=employer_id,
                seat_pack_id=pack_id,
                invitation_id=resource_id(invitation_id, "invitation"),
            ),
            token=person.token,
        )
    except ProblemError as exc:
        form, status = _refused("revoke", {}, exc, {})
        return await _pack_page(
            request, clients, person, employer_id, pack_id, form=form, status_code=status
        )
    return RedirectResponse(f"/team/{employer_id}/seat-packs/{pack_id}?revoked=1", status_code=303)


# ---------------------------------------------------------------- managers join


@router.get("/team/invitations/{invitation_id}", response_class=HTMLResponse)
async def manager_invitation_page(
    invitation_id: str, request: Request, viewer: Viewer
) -> HTMLResponse:
    invitation_id = resource_id(invitation_id, "invitation")
    return render(
        request,
        "team_invitation.html",
        {"invitation_id": invitation_id, "employer": None, "message": ""},
        headers=_NO_STORE,
    )


@router.post("/team/invitations/{invitation_id}", response_class=HTMLResponse)
async def accept_manager_invitation(
    invitation_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    person = _signed_in(viewer)
    invitation_id = resource_id(invitation_id, "invitation")
    try:
        reply = await invoke(
            clients.employers.AcceptEmployerInvitation,
            employers_service_pb2.AcceptEmployerInvitationRequest(invitation_id=invitation_id),
            token=person.token,
        )
    except ProblemError as problem:
        if problem.status not in _FORM_STATUSES:
            raise
        return render(
            request,
            "team_invitation.html",
            {"invitation_id": invitation_id, "employer": None, "message": problem.detail},
            status_code=problem.status,
            headers=_NO_STORE,
        )
    studio_access.forget(request, person.subject)
    request.state.team_link = True
    return render(
        request,
        "team_invitation.html",
        {"invitation_id": invitation_id, "employer": employer_to_json(reply.employer)},
        headers=_NO_STORE,
    )
