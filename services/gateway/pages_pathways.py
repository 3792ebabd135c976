"""Storefront pages of pathways: the published pathways with their programs and total
price, and one pathway with the signed-in learner's progress."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from upskill.catalog.v1 import catalog_service_pb2

from services.common.auth import Role
from services.gateway.clients import invoke
from services.gateway.dependencies import ClientsDep, Viewer, token_of
from services.gateway.problems import ProblemError
from services.gateway.rendering import render
from services.gateway.routes_pathways import (
    PathwayProgress,
    get_pathway,
    learner_progress,
    pathway_to_json,
)

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 12


@router.get("/pathways", response_class=HTMLResponse)
async def pathways_page(
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
    page_token: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    reply = await invoke(
        clients.catalog.ListPathways,
        catalog_service_pb2.ListPathwaysRequest(page_size=PAGE_SIZE, page_token=page_token),
        token=token_of(viewer),
    )
    next_url = ""
    if reply.next_page_token:
        next_url = "/pathways?" + urlencode({"page_token": reply.next_page_token})
    return render(
        request,
        "pathways.html",
        {"pathways": [pathway_to_json(p) for p in reply.pathways], "next_url": next_url},
    )


@router.get("/pathways/{pathway_id}", response_class=HTMLResponse)
async def pathway_page(
    pathway_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    pathway = await get_pathway(clients, pathway_id, token_of(viewer))
    progress: PathwayProgress | None = None
    if viewer is not None and viewer.role is Role.LEARNER:
        try:
            progress = await learner_progress(clients, pathway, viewer.token)
        except ProblemError as exc:
            if exc.status != 404:  # not yet known to the credentials service: no progress
                raise
    return render(
        request,
        "pathway.html",
        {"pathway": pathway_to_json(pathway), "progress": progress},
    )
