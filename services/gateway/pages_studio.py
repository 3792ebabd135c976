"""The provider studio, `/studio`: provider staff run their programs in the browser.

Every action goes through the same route functions as the public API (routes_catalog,
routes_enrollments, routes_credentials, routes_earnings), with the signed-in person's own
token and `act_for_provider` for the provider in the URL, exactly what an API client does
with `X-Upskill-Provider`: the services check the membership and the ownership, the
catalog its rules, and an edit carries the version the form was rendered from as If-Match.
Validation errors come back as the API's field details and are shown next to the fields;
nothing here re-implements a rule. CSRF: the app-wide same-origin check (cross_origin.py)
covers these forms like every other.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from upskill.catalog.v1 import catalog_pb2, catalog_service_pb2
from upskill.credentials.v1 import credentials_service_pb2

from services.common.auth import Principal
from services.common.memberships import act_for_provider
from services.gateway import (
    mapping,
    routes_catalog,
    routes_credentials,
    routes_earnings,
    routes_enrollments,
    studio_form,
)
from services.gateway.clients import Clients, invoke
from services.gateway.dependencies import ClientsDep, Viewer, resource_id
from services.gateway.problems import ProblemError, not_found
from services.gateway.program_titles import program_titles
from services.gateway.rendering import render
from services.gateway.schemas import (
    CredentialRevoke,
    EnrollmentComplete,
    EnrollmentStatus,
    Program,
    ProgramCreate,
    ProgramPatch,
)

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
STATUSES: tuple[str, ...] = get_args(EnrollmentStatus)


# ---------------------------------------------------------------- who may use the studio


async def my_providers(clients: Clients, viewer: Principal) -> list[dict[str, Any]]:
    reply = await invoke(
        clients.catalog.ListMyProviders,
        catalog_service_pb2.ListMyProvidersRequest(),
        token=viewer.token,
    )
    return [
        {
            "provider": mapping.provider_to_json(m.provider),
            "role": mapping.enum_name(catalog_pb2.MemberRole, m.role, "MEMBER_ROLE_"),
        }
        for m in reply.memberships
    ]


def _signed_in(viewer: Principal | None) -> Principal:
    if viewer is None:
        raise ProblemError(401, "Sign in to use the studio.", slug="unauthenticated")
    return viewer


def _acting(viewer: Principal | None, provider_id: str) -> tuple[Principal, str]:
    """The viewer, now acting for the provider in the URL (the services check that)."""
    person = _signed_in(viewer)
    provider = resource_id(provider_id, "provider")
    act_for_provider(provider)
    return person, provider


async def _provider(clients: Clients, provider_id: str, token: str) -> dict[str, Any]:
    reply = await invoke(
        clients.catalog.GetProvider,
        catalog_service_pb2.GetProviderRequest(provider_id=provider_id),
        token=token,
    )
    return mapping.provider_to_json(reply.provider).model_dump()


# ---------------------------------------------------------------- pages


@router.get("/studio", response_class=HTMLResponse)
async def studio_home(request: Request, viewer: Viewer, clients: ClientsDep) -> Response:
    if viewer is None:
        return render(request, "studio_home.html", {"memberships": None}, status_code=401)
    memberships = await my_providers(clients, viewer)
    if len(memberships) == 1:
        return RedirectResponse(f"/studio/{memberships[0]['provider'].id}", status_code=303)
    return render(request, "studio_home.html", {"memberships": memberships})


@router.get("/studio/{provider_id}", response_class=HTMLResponse)
async def studio_provider(
    provider_id: str,
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
    page_token: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    person, provider = _acting(viewer, provider_id)
    reply = await invoke(
        clients.catalog.ListPrograms,
        catalog_service_pb2.ListProgramsRequest(
            provider_id=provider,
            include_unpublished=True,
            page_size=PAGE_SIZE,
            page_token=page_token,
        ),
        token=person.token,
    )
    next_url = ""
    if reply.next_page_token:
        next_url = f"/studio/{provider}?" + urlencode({"page_token": reply.next_page_token})
    return render(
        request,
        "studio_provider.html",
        {
            "provider": await _provider(clients, provider, person.token),
            "programs": [mapping.program_to_json(p) for p in reply.programs],
            "next_url": next_url,
            "first_url": f"/studio/{provider}" if page_token else "",
        },
    )


@router.get("/studio/{provider_id}/programs/new", response_class=HTMLResponse)
async def new_program_page(
    provider_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    person, provider = _acting(viewer, provider_id)
    return await _program_form(request, clients, person, provider, None, studio_form.blank_values())


@router.post("/studio/{provider_id}/programs/new", response_class=HTMLResponse)
async def create_program(
    provider_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> Response:
    person, provider = _acting(viewer, provider_id)
    values = await studio_form.form_values(request)
    try:
        body = ProgramCreate.model_validate(studio_form.program_body(values))
        created = await routes_catalog.create_program(body, person, clients, Response())
    except (ValidationError, ProblemError) as exc:
        return await _program_form(
            request, clients, person, provider, None, values, studio_form.as_problem(exc)
        )
    return RedirectResponse(f"/studio/{provider}/programs/{created.id}", status_code=303)


async def _program_form(
    request: Request,
    clients: Clients,
    person: Principal,
    provider: str,
    program: Program | None,
    values: dict[str, str],
    problem: ProblemError | None = None,
) -> HTMLResponse:
    """The create/edit form: with the API's errors beside their fields when it refused."""
    errors = (
        studio_form.errors_for_form(problem)
        if problem
        else {"errors": {}, "other_errors": [], "message": ""}
    )
    return render(
        request,
        "studio_program_form.html",
        {
            "provider": await _provider(clients, provider, person.token),
            "program": program,
            "values": values,
            **errors,
        },
        status_code=problem.status if problem else 200,
    )


@router.get("/studio/{provider_id}/programs/{program_id}/edit", response_class=HTMLResponse)
async def edit_program_page(
    provider_id: str, program_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    person, provider = _acting(viewer, provider_id)
    program = await _own_program(clients, person, provider, resource_id(program_id, "program"))
    return await _program_form(
        request, clients, person, provider, program, studio_form.values_of(program.model_dump())
    )


@router.post("/studio/{provider_id}/programs/{program_id}/edit", response_class=HTMLResponse)
async def edit_program(
    provider_id: str, program_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> Response:
    person, provider = _acting(viewer, provider_id)
    program_id = resource_id(program_id, "program")
    values = await studio_form.form_values(request)
    current = await _own_program(clients, person, provider, program_id)
    try:
        patch = studio_form.changes(
            studio_form.program_body(values), current.model_dump(mode="json")
        )
        if not patch:
            raise ProblemError(422, "Nothing changed.", slug="invalid-input")
        await routes_catalog.update_program(
            program_id,
            ProgramPatch.model_validate(patch),
            person,
            clients,
            Response(),
            if_match=routes_catalog.etag(int(values.get("version") or 0) or 1),
        )
    except (ValidationError, ProblemError) as exc:
        problem = studio_form.as_problem(exc)
        if problem.status == 412:
            problem = ProblemError(
                412,
                "Someone changed this program while you edited it: reload the page to see"
                " their changes, then make yours again.",
                slug="stale",
            )
        return await _program_form(request, clients, person, provider, current, values, problem)
    return RedirectResponse(f"/studio/{provider}/programs/{program_id}?saved=1", status_code=303)


@router.get("/studio/{provider_id}/programs/{program_id}", response_class=HTMLResponse)
async def program_page(
    provider_id: str,
    program_id: str,
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
    status: Annotated[str, Query(max_length=20)] = "",
    page_token: Annotated[str, Query(max_length=200)] = "",
    saved: Annotated[str, Query(max_length=5)] = "",
) -> HTMLResponse:
    person, provider = _acting(viewer, provider_id)
    return await _program_page(
        request,
        person,
        clients,
        provider,
        resource_id(program_id, "program"),
        status=status if status in STATUSES else "",
        page_token=page_token,
        message="Saved." if saved else "",
    )


async def _program_page(
    request: Request,
    person: Principal,
    clients: Clients,
    provider: str,
    program_id: str,
    *,
    status: str = "",
    page_token: str = "",
    message: str = "",
    problem: ProblemError | None = None,
) -> HTMLResponse:
    program = await _own_program(clients, person, provider, program_id)
    reply = await routes_enrollments.list_enrollments(
        person,
        request,
        program_id=program_id,
        state=status or None,  # type: ignore[arg-type]  # one of STATUSES
        page_size=PAGE_SIZE,
        page_token=page_token,
    )
    enrollments = reply.enrollments
    credentials = await _credentials(clients, person, [e.credential_id for e in enrollments])
    base = f"/studio/{provider}/programs/{program_id}"
    next_url = ""
    if reply.next_page_token:
        next_url = f"{base}?" + urlencode({"status": status, "page_token": reply.next_page_token})
    return render(
        request,
        "studio_program.html",
        {
            "provider": await _provider(clients, provider, person.token),
            "program": program,
            "enrollments": enrollments,
            "credentials": credentials,
            "statuses": STATUSES,
            "status": status,
            "base": base,
            "next_url": next_url,
            "first_url": f"{base}?" + urlencode({"status": status}) if page_token else "",
            "message": message,
            "problem": problem,
        },
        status_code=problem.status if problem else 200,
    )


async def _own_program(
    clients: Clients, person: Principal, provider: str, program_id: str
) -> Program:
    """The program, if it is this provider's: another provider's (even on sale) is not
    part of this studio."""
    program = await routes_catalog.get_program(program_id, person, clients, Response())
    if program.provider_id != provider:
        raise not_found(f"no program with id {program_id!r} at this provider")
    return program


async def _credentials(
    clients: Clients, person: Principal, ids: list[str | None]
) -> dict[str, Any]:
    """The credentials of this page's enrollments, by id (their status shows, and whether
    they can still be revoked)."""

    async def one(credential_id: str) -> Any:
        reply = await invoke(
            clients.credentials.GetCredential,
            credentials_service_pb2.GetCredentialRequest(credential_id=credential_id),
            token=person.token,
        )
        return mapping.credential_to_json(reply.credential)

    wanted = [i for i in ids if i]
    found = await asyncio.gather(*(one(i) for i in wanted), return_exceptions=True)
    return {i: c for i, c in zip(wanted, found, strict=True) if not isinstance(c, Exception)}


@router.post("/studio/{provider_id}/programs/{program_id}/publish", response_class=HTMLResponse)
async def publish(
    provider_id: str, program_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> Response:
    return await _lifecycle(request, viewer, clients, provider_id, program_id, "publish")


@router.post("/studio/{provider_id}/programs/{program_id}/archive", response_class=HTMLResponse)
async def archive(
    provider_id: str, program_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> Response:
    return await _lifecycle(request, viewer, clients, provider_id, program_id, "archive")


async def _lifecycle(
    request: Request,
    viewer: Principal | None,
    clients: Clients,
    provider_id: str,
    program_id: str,
    action: str,
) -> Response:
    person, provider = _acting(viewer, provider_id)
    program_id = resource_id(program_id, "program")
    route = (
        routes_catalog.publish_program if action == "publish" else routes_catalog.archive_program
    )
    try:
        await route(program_id, person, clients, Response())
    except ProblemError as problem:
        if problem.status not in (400, 409, 422):
            raise
        return await _program_page(request, person, clients, provider, program_id, problem=problem)
    return RedirectResponse(f"/studio/{provider}/programs/{program_id}", status_code=303)


@router.post(
    "/studio/{provider_id}/programs/{program_id}/enrollments/{enrollment_id}/complete",
    response_class=HTMLResponse,
)
async def complete(
    provider_id: str,
    program_id: str,
    enrollment_id: str,
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
) -> Response:
    person, provider = _acting(viewer, provider_id)
    program_id = resource_id(program_id, "program")
    form = await studio_form.form_values(request)
    try:
        body = EnrollmentComplete.model_validate(
            {
                "grade": form.get("grade") or None,
                "evidence_url": form.get("evidence_url") or None,
            }
        )
        await routes_enrollments.complete_enrollment(
            resource_id(enrollment_id, "enrollment"), person, request, body
        )
    except (ValidationError, ProblemError) as exc:
        problem = studio_form.as_problem(exc)
        if problem.status not in (400, 409, 422):
            raise
        return await _program_page(request, person, clients, provider, program_id, problem=problem)
    return RedirectResponse(f"/studio/{provider}/programs/{program_id}", status_code=303)


@router.post(
    "/studio/{provider_id}/programs/{program_id}/credentials/{credential_id}/revoke",
    response_class=HTMLResponse,
)
async def revoke(
    provider_id: str,
    program_id: str,
    credential_id: str,
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
) -> Response:
    person, provider = _acting(viewer, provider_id)
    program_id = resource_id(program_id, "program")
    form = await studio_form.form_values(request)
    try:
        body = CredentialRevoke.model_validate({"reason": form.get("reason", "").strip()})
        await routes_credentials.revoke_credential(
            resource_id(credential_id, "credential"), body, person, clients
        )
    except (ValidationError, ProblemError) as exc:
        problem = studio_form.as_problem(exc)
        if problem.status not in (400, 409, 422):
            raise
        return await _program_page(request, person, clients, provider, program_id, problem=problem)
    return RedirectResponse(f"/studio/{provider}/programs/{program_id}", status_code=303)


@router.get("/studio/{provider_id}/earnings", response_class=HTMLResponse)
async def earnings_page(
    provider_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    person, provider = _acting(viewer, provider_id)
    earnings = await routes_earnings.earnings(provider, person, clients, None, None)
    titles = await program_titles(
        clients, person.token, (p.program_id for p in earnings.programs if p.program_id)
    )
    return render(
        request,
        "studio_earnings.html",
        {
            "provider": await _provider(clients, provider, person.token),
            "earnings": earnings,
            "titles": titles,
        },
    )


@router.get("/studio/{provider_id}/statement.csv")
async def statement(provider_id: str, viewer: Viewer, clients: ClientsDep) -> Response:
    """The API's CSV statement, for the signed-in member (a browser sends no bearer token)."""
    person, provider = _acting(viewer, provider_id)
    return await routes_earnings.statement(provider, person, clients, None, None)
