"""The public profile page, /u/{handle}: the learner's chosen credentials grouped by skill,
each verified as the page is drawn (the same verdict as the API's), a link that verifies
them all at once, and Open Graph tags for link previews. Never cached: a revocation shows
at the next view. And the form on /learning where the learner curates it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from upskill.credentials.v1 import credentials_service_pb2

from services.common.auth import Principal
from services.gateway import mapping
from services.gateway.clients import Clients, invoke
from services.gateway.dependencies import ClientsDep, Viewer
from services.gateway.problems import ProblemError
from services.gateway.rendering import render
from services.gateway.routes_profiles import public_profile

router = APIRouter(include_in_schema=False)


@router.get("/u/{handle}", response_class=HTMLResponse)
async def profile_page(
    handle: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    base_url = str(request.app.state.settings.public_base_url).rstrip("/")
    profile = await public_profile(clients, handle, base_url)
    by_id = {c.id: c for c in profile.credentials}
    groups = [(g.skill, [by_id[i] for i in g.credential_ids]) for g in profile.skills]
    valid = sum(1 for c in profile.credentials if c.verification.verified)
    return render(
        request,
        "profile.html",
        {
            "profile": profile,
            "groups": groups,
            "valid": valid,
            "title": profile.name or profile.handle,
            "image_url": f"{base_url}/static/favicon.svg",
        },
        headers={"Cache-Control": "no-store"},
    )


# ---------------------------------------------------------------- curation on /learning

# Enough of a learner's credentials to choose from on one form (the service shows at most
# public_profiles.MAX_SHOWN of them).
CHOOSABLE = 100


async def curation(clients: Clients, learner: Principal) -> dict[str, Any] | None:
    """What the public-profile form on /learning needs: the learner's settings and every
    credential they may show (None for staff and admins, who have no profile)."""
    try:
        reply = await invoke(
            clients.credentials.GetLearnerProfile,
            credentials_service_pb2.GetLearnerProfileRequest(),
            token=learner.token,
        )
        owned = await invoke(
            clients.credentials.ListCredentials,
            credentials_service_pb2.ListCredentialsRequest(page_size=CHOOSABLE),
            token=learner.token,
        )
    except ProblemError:
        return None
    shown = list(reply.profile.shown_credential_ids)
    return {
        "handle": reply.profile.handle,
        "public": reply.profile.public,
        "shown": set(shown),
        "choices": [mapping.credential_to_json(c) for c in owned.credentials],
    }


@router.post("/learning/public-profile")
async def save_public_profile(
    viewer: Viewer,
    clients: ClientsDep,
    handle: Annotated[str, Form(max_length=200)] = "",
    public: Annotated[str, Form(max_length=10)] = "",
    credential_ids: Annotated[list[str], Form(max_length=100)] = [],  # noqa: B006
) -> Response:
    """The learner's public profile: its handle, on or off, the credentials it shows.
    A taken handle or a bad one is the error page, saying which rule failed."""
    if viewer is None:
        raise ProblemError(401, "Sign in to edit your profile.", slug="unauthenticated")
    current = await invoke(
        clients.credentials.GetLearnerProfile,
        credentials_service_pb2.GetLearnerProfileRequest(),
        token=viewer.token,
    )
    # The form lists at most CHOOSABLE credentials: keep the order the learner had, then
    # add the newly ticked ones.
    ticked = list(dict.fromkeys(credential_ids))
    kept = [c for c in current.profile.shown_credential_ids if c in ticked]
    chosen = kept + [c for c in ticked if c not in kept]
    await invoke(
        clients.credentials.UpdatePublicProfile,
        credentials_service_pb2.UpdatePublicProfileRequest(
            handle=handle.strip(), public=public == "on", credential_ids=chosen
        ),
        token=viewer.token,
    )
    return RedirectResponse("/learning?message=public-profile-saved#public-profile", 303)
