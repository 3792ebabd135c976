"""The learner's side of employers. `/redeem` turns a seat code (or the link the employer
sent, `/redeem?code=...`) into the sponsored enrollment, signed in as the invited person.

The "What your employers see" page (`/learning/employers`): each employer that
sponsors them (a seat of its packs they redeemed), exactly the rows its team view and
skills matrix show of them, and the credentials they earned on their own, each with a
button to share it with that employer or stop sharing it.

What an employer sees is decided in one place, the enrollment service's `seen_by`: this
page shows its answer (ListSponsors) and calls ShareCredential / UnshareCredential, the
same RPCs as PUT/DELETE /api/v1/me/sponsors/{id}/shared-credentials/{credential_id}.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from upskill.enrollment.v1 import employers_service_pb2

from services.common.auth import Principal
from services.gateway import studio_form
from services.gateway.clients import Clients, invoke
from services.gateway.dependencies import ClientsDep, Viewer, resource_id
from services.gateway.problems import ProblemError, unauthenticated
from services.gateway.rendering import render
from services.gateway.routes_employers import (
    Redemption,
    Sponsor,
    employer_to_json,
    shareable_to_json,
    team_person_to_json,
)

router = APIRouter(include_in_schema=False)

_NO_STORE = {"Cache-Control": "no-store"}
_NOTICES = {
    "shared": "Shared: that employer now sees this credential.",
    "unshared": "No longer shared: that employer no longer sees this credential.",
}


def _signed_in(viewer: Principal | None) -> Principal:
    if viewer is None:
        raise unauthenticated("sign in to see what your employers see")
    return viewer


async def _page(
    request: Request,
    clients: Clients,
    person: Principal,
    *,
    notice: str = "",
    error: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    reply = await invoke(
        clients.employers.ListSponsors,
        employers_service_pb2.ListSponsorsRequest(),
        token=person.token,
    )
    sponsors = [
        Sponsor(
            employer=employer_to_json(s.employer),
            seen=team_person_to_json(s.seen) if s.HasField("seen") else None,
            credentials=[shareable_to_json(c) for c in s.credentials],
        )
        for s in reply.sponsors
    ]
    return render(
        request,
        "learning_employers.html",
        {"sponsors": sponsors, "notice": notice, "error": error},
        status_code=status_code,
        headers=_NO_STORE,
    )


@router.get("/learning/employers", response_class=HTMLResponse)
async def sponsors_page(request: Request, viewer: Viewer, clients: ClientsDep) -> HTMLResponse:
    person = _signed_in(viewer)
    notice = _NOTICES.get(request.query_params.get("done", ""), "")
    return await _page(request, clients, person, notice=notice)


async def _change(
    request: Request, viewer: Principal | None, clients: Clients, employer_id: str, share: bool
) -> Response:
    person = _signed_in(viewer)
    employer_id = resource_id(employer_id, "employer")
    form = await studio_form.form_values(request)
    try:
        credential_id = resource_id(form.get("credential_id", ""), "credential")
        if share:
            await invoke(
                clients.employers.ShareCredential,
                employers_service_pb2.ShareCredentialRequest(
                    employer_id=employer_id, credential_id=credential_id
                ),
                token=person.token,
            )
        else:
            await invoke(
                clients.employers.UnshareCredential,
                employers_service_pb2.UnshareCredentialRequest(
                    employer_id=employer_id, credential_id=credential_id
                ),
                token=person.token,
            )
    except ProblemError as problem:
        if problem.status not in (400, 403, 404, 409, 422):
            raise
        return await _page(
            request, clients, person, error=problem.detail, status_code=problem.status
        )
    done = "shared" if share else "unshared"
    return RedirectResponse(f"/learning/employers?done={done}", status_code=303)


@router.post("/learning/employers/{employer_id}/share", response_class=HTMLResponse)
async def share(
    employer_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> Response:
    return await _change(request, viewer, clients, employer_id, share=True)


@router.post("/learning/employers/{employer_id}/unshare", response_class=HTMLResponse)
async def unshare(
    employer_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> Response:
    return await _change(request, viewer, clients, employer_id, share=False)


# ---------------------------------------------------------------- redeeming a seat


def _redeem_page(
    request: Request, code: str, error: str = "", status_code: int = 200
) -> HTMLResponse:
    return render(
        request,
        "redeem.html",
        {"code": code, "error": error},
        status_code=status_code,
        headers=_NO_STORE,
    )


@router.get("/redeem", response_class=HTMLResponse)
async def redeem_page(request: Request, viewer: Viewer) -> HTMLResponse:
    return _redeem_page(request, request.query_params.get("code", "")[:100])


@router.post("/redeem", response_class=HTMLResponse)
async def redeem(request: Request, viewer: Viewer, clients: ClientsDep) -> Response:
    person = _signed_in(viewer)
    code = (await studio_form.form_values(request)).get("code", "")
    try:
        body = Redemption.model_validate({"code": code.strip()})
        reply = await invoke(
            clients.employers.RedeemSeat,
            employers_service_pb2.RedeemSeatRequest(code=body.code),
            token=person.token,
        )
    except (ValidationError, ProblemError) as exc:
        problem = studio_form.as_problem(exc)
        if problem.status not in (400, 403, 404, 409, 422):
            raise
        message = "; ".join(e.message for e in problem.errors) or problem.detail
        return _redeem_page(request, code[:100], message, problem.status)
    return RedirectResponse(f"/enrollments/{reply.enrollment.id}", status_code=303)
