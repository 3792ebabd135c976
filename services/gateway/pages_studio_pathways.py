"""The studio's pathways: a provider's staff list their pathways (drafts, published,
archived), define one (their own programs and other providers' published ones, found by
search; all of them or k of n), see where each other provider's consent stands and ask
again after a refusal, publish and archive.

Every action goes through the same route functions as the public API (routes_pathways),
with the signed-in person's token, acting for the provider in the URL: the catalog checks
the membership and the ownership, and its pathway rules (programs published, consents
granted) decide; a refusal is shown as the API's problem, a field error next to its input.
A DRAFT is edited with the same form ("Edit draft": routes_pathways.update_pathway, with
the version the form was filled in from as If-Match, so an edit made meanwhile is refused,
not overwritten); "New draft from this one" opens the form filled in from any pathway. CSRF: the app-wide same-origin check (cross_origin.py) covers these
forms like every other.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from upskill.catalog.v1 import catalog_service_pb2

from services.common.auth import Principal
from services.gateway import mapping, pathway_form, routes_pathways, studio_form
from services.gateway.clients import Clients, invoke
from services.gateway.dependencies import ClientsDep, Viewer, resource_id
from services.gateway.pages_studio import _acting, _provider
from services.gateway.problems import ProblemError, not_found
from services.gateway.program_titles import BATCH
from services.gateway.rendering import render
from services.gateway.routes_pathways import ConsentRequest, Pathway, PathwayCreate, PathwayPatch
from services.gateway.schemas import Program

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
# The provider's own published programs offered as boxes on the form; search finds more.
OWN_PROGRAMS = 100
SEARCH_RESULTS = 20
_DONE = {
    "publish": "Published.",
    "archive": "Archived.",
    "ask": "Asked again.",
    "edit": "Saved.",
}


@router.get("/studio/{provider_id}/pathways", response_class=HTMLResponse)
async def pathways_page(
    provider_id: str,
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
    page_token: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    person, provider = _acting(viewer, provider_id)
    reply = await invoke(
        clients.catalog.ListPathways,
        catalog_service_pb2.ListPathwaysRequest(
            provider_id=provider,
            include_unpublished=True,
            page_size=PAGE_SIZE,
            page_token=page_token,
        ),
        token=person.token,
    )
    base = f"/studio/{provider}/pathways"
    return render(
        request,
        "studio_pathways.html",
        {
            "provider": await _provider(clients, provider, person.token),
            "pathways": [routes_pathways.pathway_to_json(p) for p in reply.pathways],
            "next_url": (
                f"{base}?" + urlencode({"page_token": reply.next_page_token})
                if reply.next_page_token
                else ""
            ),
            "first_url": base if page_token else "",
        },
    )


# ---------------------------------------------------------------- the form


@router.get("/studio/{provider_id}/pathways/new", response_class=HTMLResponse)
async def new_pathway_page(
    provider_id: str,
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
    from_id: Annotated[str, Query(alias="from", max_length=64)] = "",
) -> HTMLResponse:
    """The blank form, or (`?from=`) one filled in from a pathway of this provider."""
    person, provider = _acting(viewer, provider_id)
    values: dict[str, str] = {}
    chosen: list[str] = []
    if from_id:
        source = await _own_pathway(clients, person, provider, from_id)
        values, chosen = pathway_form.values_of(source.model_dump())
        values["title"] = f"{values['title']} (new draft)"
    return await _form(request, clients, person, provider, values, chosen)


@router.post("/studio/{provider_id}/pathways/new", response_class=HTMLResponse)
async def create_pathway(
    provider_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> Response:
    """ "Search programs" shows the form again with what was typed and the programs found;
    "Create draft" defines the pathway."""
    person, provider = _acting(viewer, provider_id)
    values, chosen = await pathway_form.form_values(request)
    if values.get("action") == "search":
        return await _form(request, clients, person, provider, values, chosen, search=True)
    try:
        body = PathwayCreate.model_validate(pathway_form.pathway_body(values, chosen))
        created = await routes_pathways.create_pathway(body, person, clients, Response())
    except (ValidationError, ProblemError) as exc:
        problem = studio_form.as_problem(exc)
        if problem.status not in (400, 409, 413, 422):
            raise
        return await _form(request, clients, person, provider, values, chosen, problem=problem)
    return RedirectResponse(f"/studio/{provider}/pathways/{created.id}", status_code=303)


@router.get("/studio/{provider_id}/pathways/{pathway_id}/edit", response_class=HTMLResponse)
async def edit_pathway_page(
    provider_id: str, pathway_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    """The form filled in from a DRAFT, and its version (the If-Match of the save)."""
    person, provider = _acting(viewer, provider_id)
    pathway = await _own_pathway(clients, person, provider, pathway_id)
    if pathway.status != "DRAFT":
        problem = ProblemError(409, f"only a DRAFT pathway can be edited (is {pathway.status})")
        return await _pathway_page(request, clients, person, provider, pathway.id, problem=problem)
    values, chosen = pathway_form.values_of(pathway.model_dump())
    values["version"] = str(pathway.version)
    return await _form(request, clients, person, provider, values, chosen, editing=pathway)


@router.post("/studio/{provider_id}/pathways/{pathway_id}/edit", response_class=HTMLResponse)
async def edit_pathway(
    provider_id: str, pathway_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> Response:
    """ "Search programs" shows the form again; "Save draft" sends every field as a patch
    with the version it was filled in from."""
    person, provider = _acting(viewer, provider_id)
    pathway = await _own_pathway(clients, person, provider, pathway_id)
    values, chosen = await pathway_form.form_values(request)
    if values.get("action") == "search":
        return await _form(
            request, clients, person, provider, values, chosen, search=True, editing=pathway
        )
    try:
        body = PathwayPatch.model_validate(pathway_form.patch_body(values, chosen))
        await routes_pathways.update_pathway(
            pathway.id, body, person, clients, Response(), if_match=values.get("version", "")
        )
    except (ValidationError, ProblemError) as exc:
        problem = studio_form.as_problem(exc)
        if problem.status not in (400, 409, 412, 413, 422):
            raise
        return await _form(
            request, clients, person, provider, values, chosen, problem=problem, editing=pathway
        )
    return RedirectResponse(f"/studio/{provider}/pathways/{pathway.id}?done=edit", 303)


async def _form(
    request: Request,
    clients: Clients,
    person: Principal,
    provider: str,
    values: dict[str, str],
    chosen: list[str],
    *,
    search: bool = False,
    problem: ProblemError | None = None,
    editing: Pathway | None = None,
) -> HTMLResponse:
    """The form, with what was typed: the provider's own published programs, the chosen
    ones of other providers, and (after "Search programs") what the search found, each a
    box ticked when chosen; the API's errors beside their inputs when it refused."""
    chosen_ids = pathway_form.program_ids_to_show(chosen)
    own = await _programs(
        clients,
        person,
        catalog_service_pb2.ListProgramsRequest(provider_id=provider, page_size=OWN_PROGRAMS),
    )
    shown = {p.id for p in own}
    others = [p for p in await _programs_by_id(clients, person, chosen_ids) if p.id not in shown]
    shown |= {p.id for p in others}
    query = values.get("q", "").strip()
    found: list[Program] = []
    search_problem = ""
    if search and query:
        try:
            found = await _programs(
                clients,
                person,
                catalog_service_pb2.ListProgramsRequest(query=query, page_size=SEARCH_RESULTS),
            )
        except ProblemError as exc:  # a query the catalog refuses (NUL, too long)
            if exc.status not in (400, 422):
                raise
            search_problem = exc.detail
        found = [p for p in found if p.id not in shown]
    errors = (
        studio_form.errors_for_form(problem, pathway_form.INPUTS)
        if problem
        else {"errors": {}, "other_errors": [], "message": ""}
    )
    return render(
        request,
        "studio_pathway_form.html",
        {
            "provider": await _provider(clients, provider, person.token),
            "values": values,
            "chosen": set(chosen_ids),
            "own": own,
            "others": others,
            "found": found,
            "searched": search and bool(query),
            "search_problem": search_problem,
            "editing": editing,
            **errors,
        },
        status_code=problem.status if problem else (422 if search_problem else 200),
    )


async def _programs(
    clients: Clients, person: Principal, request: catalog_service_pb2.ListProgramsRequest
) -> list[Program]:
    reply = await invoke(clients.catalog.ListPrograms, request, token=person.token)
    return [mapping.program_to_json(p) for p in reply.programs]


async def _programs_by_id(clients: Clients, person: Principal, ids: list[str]) -> list[Program]:
    """The chosen programs the caller may read, in the order chosen."""
    if not ids:
        return []
    reply = await invoke(
        clients.catalog.BatchGetPrograms,
        catalog_service_pb2.BatchGetProgramsRequest(program_ids=ids[:BATCH]),
        token=person.token,
    )
    by_id = {p.id: mapping.program_to_json(p) for p in reply.programs}
    return [by_id[i] for i in ids if i in by_id]


# ---------------------------------------------------------------- one pathway


async def _own_pathway(
    clients: Clients, person: Principal, provider: str, pathway_id: str
) -> Pathway:
    """The pathway, if it is this provider's: another provider's (even published) is not
    part of this studio."""
    found = routes_pathways.pathway_to_json(
        await routes_pathways.get_pathway(clients, resource_id(pathway_id, "pathway"), person.token)
    )
    if found.provider_id != provider:
        raise not_found(f"no pathway with id {pathway_id!r} at this provider")
    return found


async def _pathway_page(
    request: Request,
    clients: Clients,
    person: Principal,
    provider: str,
    pathway_id: str,
    *,
    message: str = "",
    problem: ProblemError | None = None,
) -> HTMLResponse:
    pathway = await _own_pathway(clients, person, provider, pathway_id)
    context: dict[str, Any] = {
        "provider": await _provider(clients, provider, person.token),
        "pathway": pathway,
        "message": message,
        "problem": problem,
    }
    return render(
        request,
        "studio_pathway.html",
        context,
        status_code=problem.status if problem else 200,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/studio/{provider_id}/pathways/{pathway_id}", response_class=HTMLResponse)
async def pathway_page(
    provider_id: str,
    pathway_id: str,
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    person, provider = _acting(viewer, provider_id)
    return await _pathway_page(
        request, clients, person, provider, pathway_id, message=_DONE.get(done, "")
    )


@router.post("/studio/{provider_id}/pathways/{pathway_id}/publish", response_class=HTMLResponse)
async def publish(
    provider_id: str, pathway_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> Response:
    return await _act(request, viewer, clients, provider_id, pathway_id, "publish")


@router.post("/studio/{provider_id}/pathways/{pathway_id}/archive", response_class=HTMLResponse)
async def archive(
    provider_id: str, pathway_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> Response:
    return await _act(request, viewer, clients, provider_id, pathway_id, "archive")


@router.post("/studio/{provider_id}/pathways/{pathway_id}/consents", response_class=HTMLResponse)
async def ask_again(
    provider_id: str, pathway_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> Response:
    """Ask another provider's consent again (after a refusal or a withdrawal)."""
    return await _act(request, viewer, clients, provider_id, pathway_id, "ask")


async def _act(
    request: Request,
    viewer: Principal | None,
    clients: Clients,
    provider_id: str,
    pathway_id: str,
    action: str,
) -> Response:
    person, provider = _acting(viewer, provider_id)
    pathway_id = resource_id(pathway_id, "pathway")
    try:
        if action == "publish":
            await routes_pathways.publish_pathway(pathway_id, person, clients)
        elif action == "archive":
            await routes_pathways.archive_pathway(pathway_id, person, clients)
        else:
            values = await studio_form.form_values(request)
            body = ConsentRequest.model_validate({"program_id": values.get("program_id", "")})
            await routes_pathways.request_consent(pathway_id, body, person, clients)
    except (ValidationError, ProblemError) as exc:
        problem = studio_form.as_problem(exc)
        if problem.status not in (400, 409, 422):
            raise
        return await _pathway_page(request, clients, person, provider, pathway_id, problem=problem)
    return RedirectResponse(f"/studio/{provider}/pathways/{pathway_id}?done={action}", 303)
