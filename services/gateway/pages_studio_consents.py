"""The studio's "Consents" page: requests from other providers to count this provider's
programs towards their pathways (grant, refuse, withdraw), and the requests this provider
made for its own pathways. It calls the same route functions as the public API
(routes_pathways) with the signed-in person's token, acting for the provider in the URL:
who may decide (the program's provider's staff, admins) and what a decision may do stay
the catalog's rules; a refusal is shown as the API's problem."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.common.auth import Principal
from services.gateway import routes_pathways
from services.gateway.clients import Clients
from services.gateway.dependencies import ClientsDep, Viewer, resource_id
from services.gateway.pages_studio import _acting, _provider
from services.gateway.problems import ProblemError, not_found
from services.gateway.rendering import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
ACTIONS = ("grant", "refuse", "withdraw")
_DONE = {"grant": "Granted", "refuse": "Refused", "withdraw": "Withdrawn"}


async def _page(
    request: Request,
    clients: Clients,
    provider: str,
    person: Principal,
    *,
    in_token: str = "",
    out_token: str = "",
    message: str = "",
    problem: ProblemError | None = None,
) -> HTMLResponse:
    incoming = await routes_pathways.list_consents(
        clients, person.token, provider, "incoming", None, PAGE_SIZE, in_token
    )
    outgoing = await routes_pathways.list_consents(
        clients, person.token, provider, "outgoing", None, PAGE_SIZE, out_token
    )
    base = f"/studio/{provider}/consents"

    def link(**tokens: str) -> str:
        return f"{base}?" + urlencode({k: v for k, v in tokens.items() if v})

    return render(
        request,
        "studio_consents.html",
        {
            "provider": await _provider(clients, provider, person.token),
            "incoming": incoming.consents,
            "outgoing": outgoing.consents,
            "in_next": (
                link(in_token=incoming.next_page_token, out_token=out_token)
                if incoming.next_page_token
                else ""
            ),
            "out_next": (
                link(in_token=in_token, out_token=outgoing.next_page_token)
                if outgoing.next_page_token
                else ""
            ),
            "first_url": base if (in_token or out_token) else "",
            "message": message,
            "problem": problem,
        },
        status_code=problem.status if problem is not None else 200,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/studio/{provider_id}/consents", response_class=HTMLResponse)
async def consents_page(
    provider_id: str,
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
    in_token: Annotated[str, Query(max_length=200)] = "",
    out_token: Annotated[str, Query(max_length=200)] = "",
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    person, provider = _acting(viewer, provider_id)
    return await _page(
        request,
        clients,
        provider,
        person,
        in_token=in_token,
        out_token=out_token,
        message=f"{_DONE[done]}." if done in _DONE else "",
    )


@router.post("/studio/{provider_id}/consents/{consent_id}/{action}", response_class=HTMLResponse)
async def decide(
    provider_id: str,
    consent_id: str,
    action: str,
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
) -> Response:
    person, provider = _acting(viewer, provider_id)
    if action not in ACTIONS:
        raise not_found(f"no such action {action!r}")
    try:
        await routes_pathways.decide_consent(
            resource_id(consent_id, "consent"), action, person, clients
        )
    except ProblemError as problem:
        if problem.status not in (403, 404, 409, 422):
            raise
        return await _page(request, clients, provider, person, problem=problem)
    return RedirectResponse(f"/studio/{provider}/consents?done={action}", status_code=303)
