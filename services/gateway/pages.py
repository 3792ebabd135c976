"""Server-rendered pages for people: the storefront, a program, an enrollment, the public
credential verification page, and (dev mode) sign-in with a dev token kept in a cookie.

Pages call the services with the signed-in viewer's token, exactly as the API does with
a bearer token; a page needs no JavaScript.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from upskill.catalog.v1 import catalog_service_pb2
from upskill.enrollment.v1 import employers_service_pb2, enrollment_service_pb2

from services.common.auth import Principal
from services.gateway import mapping, schemas, seat_prices, studio_access
from services.gateway.clients import Clients, invoke
from services.gateway.dependencies import (
    AuthenticatorDep,
    ClientsDep,
    SettingsDep,
    Viewer,
    resource_id,
    token_of,
)
from services.gateway.pages_learning import already_enrolled
from services.gateway.problems import ProblemError, invalid_input, not_found
from services.gateway.rendering import render
from services.gateway.schemas import DevTokenRequest
from services.gateway.security import DEV_TOKEN_TTL_SECONDS, SESSION_COOKIE
from services.gateway.signin import safe_next, sign_out_redirect

router = APIRouter(include_in_schema=False)

STOREFRONT_PAGE_SIZE = 12


# The storefront's price and duration filters: a few bands a person picks from, each the
# bounds of the API's filters (max_price in minor units; duration in hours).
PRICE_BANDS: dict[str, tuple[str, int]] = {
    "free": ("Free", 0),
    "50": ("Up to 50", 5000),
    "100": ("Up to 100", 10000),
    "250": ("Up to 250", 25000),
}
DURATION_BANDS: dict[str, tuple[str, int | None, int | None]] = {
    "short": ("Up to 5 hours", None, 5),
    "medium": ("5 to 20 hours", 5, 20),
    "long": ("Over 20 hours", 21, None),
}


@router.get("/", response_class=HTMLResponse)
async def storefront(
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
    q: Annotated[str, Query(max_length=200)] = "",
    skill: Annotated[str, Query(max_length=100)] = "",
    price: Annotated[str, Query(max_length=10)] = "",
    duration: Annotated[str, Query(max_length=10)] = "",
    page_token: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    price = price if price in PRICE_BANDS else ""
    duration = duration if duration in DURATION_BANDS else ""
    listing = catalog_service_pb2.ListProgramsRequest(
        query=q.strip(),
        skill=skill.strip(),
        page_size=STOREFRONT_PAGE_SIZE,
        page_token=page_token,
    )
    if price:
        listing.max_price_minor = PRICE_BANDS[price][1]
    if duration:
        _, shortest, longest = DURATION_BANDS[duration]
        if shortest is not None:
            listing.min_duration_hours = shortest
        if longest is not None:
            listing.max_duration_hours = longest
    reply = await invoke(clients.catalog.ListPrograms, listing, token=token_of(viewer))
    programs = [mapping.program_to_json(p) for p in reply.programs]
    filters = {"q": q, "skill": skill, "price": price, "duration": duration}
    next_url = ""
    if reply.next_page_token:
        next_url = "/?" + urlencode({**filters, "page_token": reply.next_page_token})
    return render(
        request,
        "storefront.html",
        {
            "programs": programs,
            "seats_left": await seats_left(clients, programs),
            **filters,
            "price_bands": {k: v[0] for k, v in PRICE_BANDS.items()},
            "duration_bands": {k: v[0] for k, v in DURATION_BANDS.items()},
            "filtered": any(filters.values()),
            "next_url": next_url,
            "first_url": "/?" + urlencode(filters) if page_token else "",
        },
    )


async def seats_left(clients: Clients, programs: list[Any]) -> dict[str, int]:
    """Seats still on sale per program that has a capacity. A page still shows when the
    count cannot be had (it is a hint; the enrollment itself is what refuses a full program)."""
    limited = {p.id: p.capacity for p in programs if p.capacity}
    if not limited:
        return {}
    try:
        reply = await invoke(
            clients.enrollment.CountTakenSeats,
            enrollment_service_pb2.CountTakenSeatsRequest(program_ids=list(limited)),
            token="",
        )
    except ProblemError:
        return {}
    return {pid: max(capacity - reply.taken.get(pid, 0), 0) for pid, capacity in limited.items()}


# How many of the viewer's employers the program page links to, to buy seats from.
TEAM_LINKS = 5


async def team_employers(
    request: Request, clients: Clients, viewer: Principal | None, program: schemas.Program
) -> list[Any]:
    """The employers the viewer owns or manages, for the program page's links to buy seats
    of an on-sale program from their team page; none when the header shows no "Team" (the
    viewer manages none), or when they cannot be had (the links are a shortcut)."""
    if viewer is None or program.status != "PUBLISHED":
        return []
    if not getattr(request.state, "team_link", False):
        return []
    try:
        reply = await invoke(
            clients.employers.ListEmployers,
            employers_service_pb2.ListEmployersRequest(page_size=TEAM_LINKS),
            token=viewer.token,
        )
    except ProblemError:
        return []
    return list(reply.employers)


@router.get("/skills/{skill}")
async def skill_page(skill: str) -> RedirectResponse:
    """Where a credential's skill alignment points: the storefront filtered by that skill."""
    return RedirectResponse("/?" + urlencode({"skill": skill}), status_code=303)


@router.get("/programs/{program_id}", response_class=HTMLResponse)
async def program_page(
    program_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    return await _program_page(request, viewer, clients, program_id)


async def _program_page(
    request: Request,
    viewer: Principal | None,
    clients: Clients,
    program_id: str,
    *,
    message: str = "",
    existing_enrollment_id: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    reply = await invoke(
        clients.catalog.GetProgram,
        catalog_service_pb2.GetProgramRequest(program_id=resource_id(program_id, "program")),
        token=token_of(viewer),
    )
    program = mapping.program_to_json(reply.program)
    return render(
        request,
        "program.html",
        {
            "program": program,
            "tiers": seat_prices.tier_rows(program),
            "team_employers": await team_employers(request, clients, viewer, program),
            "seats_left": (await seats_left(clients, [program])).get(program.id),
            # A fresh key per rendered form: a double-submitted form enrolls once.
            "idempotency_key": str(uuid.uuid4()),
            "message": message,
            "existing_enrollment_id": existing_enrollment_id,
            # Also rendered in answer to POST .../enroll: sign-in must come back to the
            # program page, not to a URL that only takes POST.
            "current_path": f"/programs/{program_id}",
        },
        status_code=status_code,
    )


@router.post("/programs/{program_id}/enroll")
async def enroll(
    program_id: str,
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
    idempotency_key: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if viewer is None:
        return await _program_page(
            request,
            viewer,
            clients,
            program_id,
            message="Sign in as a learner to enroll.",
            status_code=401,
        )
    try:
        reply = await invoke(
            clients.enrollment.CreateEnrollment,
            enrollment_service_pb2.CreateEnrollmentRequest(
                program_id=resource_id(program_id, "program"),
                idempotency_key=idempotency_key,
            ),
            token=viewer.token,
        )
    except ProblemError as problem:
        if problem.status == 409:
            existing = await already_enrolled(clients, viewer, program_id)
            if existing:
                return await _program_page(
                    request,
                    viewer,
                    clients,
                    program_id,
                    message="You are already enrolled in this program.",
                    existing_enrollment_id=existing,
                    status_code=409,
                )
        if problem.status in (400, 403, 409):
            return await _program_page(
                request,
                viewer,
                clients,
                program_id,
                message=problem.detail,
                status_code=problem.status,
            )
        raise
    enrollment = reply.enrollment
    target = enrollment.checkout_url or f"/enrollments/{enrollment.id}"
    return RedirectResponse(target, status_code=303)


@router.get("/issuers/{provider_id}", response_class=HTMLResponse)
async def issuer_page(
    provider_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    """Where a credential's issuer id points: the provider's public profile."""
    reply = await invoke(
        clients.catalog.GetProvider,
        catalog_service_pb2.GetProviderRequest(provider_id=resource_id(provider_id, "issuer")),
        token=token_of(viewer),
    )
    return render(request, "issuer.html", {"provider": mapping.provider_to_json(reply.provider)})


# ---------------------------------------------------------------- provider staff


@router.get("/invitations/{invitation_id}", response_class=HTMLResponse)
async def invitation_page(invitation_id: str, request: Request, viewer: Viewer) -> HTMLResponse:
    """Where an invitation link points: sign in, then accept."""
    return render(
        request,
        "invitation.html",
        {"invitation_id": resource_id(invitation_id, "invitation"), "member": None},
    )


@router.post("/invitations/{invitation_id}/accept", response_class=HTMLResponse)
async def accept_invitation_page(
    invitation_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    invitation = resource_id(invitation_id, "invitation")
    if viewer is None:
        raise ProblemError(401, "Sign in to accept the invitation.", slug="unauthenticated")
    try:
        reply = await invoke(
            clients.catalog.AcceptInvitation,
            catalog_service_pb2.AcceptInvitationRequest(invitation_id=invitation),
            token=viewer.token,
        )
    except ProblemError as problem:
        if problem.status in (403, 404, 409):
            return render(
                request,
                "invitation.html",
                {"invitation_id": invitation, "member": None, "message": problem.detail},
                status_code=problem.status,
            )
        raise
    studio_access.forget(request, viewer.subject)
    request.state.studio_link = True
    return render(
        request,
        "invitation.html",
        {"invitation_id": invitation, "member": mapping.member_to_json(reply.member)},
    )


# ---------------------------------------------------------------- dev sign-in


@router.post("/session")
async def sign_in(
    authenticator: AuthenticatorDep,
    settings: SettingsDep,
    role: Annotated[str, Form()] = "learner",
    sub: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    provider_id: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form(alias="next")] = "/",
) -> RedirectResponse:
    """Dev mode: mint a token for the form's role and subject and keep it in a cookie.

    "Provider" is provider staff: with a provider id, a token for that provider; without
    one, the person signs in as themselves and the studio lists the providers they are a
    member of (or says how to become one). Either way they land in the studio."""
    if not authenticator.dev_mode:
        raise not_found("sign-in with dev tokens exists only in AUTH_MODE=dev")
    if role == "provider":
        if not provider_id.strip():
            role = "learner"  # a person; membership, not the token, makes them staff
        if safe_next(next_path) == "/":
            next_path = "/studio"
    try:
        wanted = DevTokenRequest(
            role=role,  # type: ignore[arg-type]
            sub=sub.strip(),
            email=email.strip() or None,
            provider_id=provider_id.strip() or None,
        )
    except ValidationError as exc:
        detail = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise invalid_input(f"cannot sign in: {detail}") from None
    token = authenticator.mint_dev_token(
        role=wanted.role,
        subject=wanted.sub,
        email=wanted.email or "",
        provider_id=wanted.provider_id or "",
    )
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=DEV_TOKEN_TTL_SECONDS,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https://"),
        path="/",
    )
    return response


@router.post("/session/end")
async def sign_out(
    request: Request,
    settings: SettingsDep,
    next_path: Annotated[str, Form(alias="next")] = "/",
) -> RedirectResponse:
    """Sign out: the dev cookie goes; in oidc mode the session too, and the browser goes on
    to the provider to end its session (RP-initiated logout) when it offers that."""
    target = safe_next(next_path)
    if not settings.dev_mode:
        target = await sign_out_redirect(request, settings)
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
