"""The employer's team page: sponsored people, their progress and credentials, and the
skills matrix (people x skills), for the employer's members signed in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.gateway.dependencies import ClientsDep, Viewer, resource_id
from services.gateway.problems import unauthenticated
from services.gateway.rendering import render
from services.gateway.routes_employers import get_employer, team

router = APIRouter(include_in_schema=False)


@router.get("/team/{employer_id}", response_class=HTMLResponse)
async def team_page(
    employer_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    if viewer is None:
        raise unauthenticated("sign in to see your team")
    employer_id = resource_id(employer_id, "employer")
    employer = await get_employer(employer_id, viewer, clients)
    members = await team(employer_id, viewer, clients)
    return render(request, "team.html", {"employer": employer, "team": members})
