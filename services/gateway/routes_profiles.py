"""Public profiles: the learner's own settings (`/api/v1/me/profile`), and anyone's read of a
public profile (`/api/v1/profiles/{handle}`) with one link that verifies every credential on
it (`.../verification`), for people and applicant-tracking systems alike."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from upskill.credentials.v1 import credentials_service_pb2

from services.gateway import profile_view
from services.gateway.clients import Clients, invoke
from services.gateway.dependencies import Caller, ClientsDep
from services.gateway.problems import not_found, problem_responses
from services.gateway.profile_view import (
    ProfileSettings,
    ProfileUpdate,
    ProfileVerification,
    PublicProfile,
)

router = APIRouter(tags=["profiles"])

# Documented as what the route accepts (any case: handles fold to lowercase); anything else
# is answered 404 like an unknown handle.
Handle = Annotated[
    str,
    Path(
        description="The profile's handle; anything that cannot be one is 404",
        json_schema_extra={"pattern": profile_view.HANDLE_SHAPE.pattern, "maxLength": 60},
    ),
]

# Verdicts are live: a revocation must show at once, so nobody caches them.
_LIVE = {"Cache-Control": "no-store"}


def _base_url(request: Request) -> str:
    return str(request.app.state.settings.public_base_url).rstrip("/")


@router.get(
    "/api/v1/me/profile",
    response_model=ProfileSettings,
    responses=problem_responses(401, 403, 502, 503),
    summary="The caller's own profile: display name, public profile settings (learner)",
)
async def get_my_profile(request: Request, caller: Caller, clients: ClientsDep) -> JSONResponse:
    reply = await invoke(
        clients.credentials.GetLearnerProfile,
        credentials_service_pb2.GetLearnerProfileRequest(),
        token=caller.token,
    )
    settings = profile_view.settings_to_json(reply.profile, _base_url(request))
    return JSONResponse(settings.model_dump(mode="json"), headers=_LIVE)


@router.put(
    "/api/v1/me/profile",
    response_model=ProfileSettings,
    responses=problem_responses(400, 401, 403, 409, 413, 422, 502, 503),
    summary="Replace the caller's public profile: handle, on/off, credentials shown (learner)."
    " 409 when another learner holds the handle",
)
async def put_my_profile(
    request: Request, body: ProfileUpdate, caller: Caller, clients: ClientsDep
) -> JSONResponse:
    update = credentials_service_pb2.UpdatePublicProfileRequest(
        handle=body.handle, public=body.public, credential_ids=body.credential_ids
    )
    if body.display_name is not None:
        update.display_name = body.display_name
    if body.show_name is not None:
        update.show_name = body.show_name
    reply = await invoke(clients.credentials.UpdatePublicProfile, update, token=caller.token)
    settings = profile_view.settings_to_json(reply.profile, _base_url(request))
    return JSONResponse(settings.model_dump(mode="json"), headers=_LIVE)


async def public_profile(clients: Clients, handle: str, base_url: str) -> PublicProfile:
    """The public profile at ``handle`` with every credential verified now; 404 for an
    unknown handle and a private profile alike."""
    if not profile_view.HANDLE_SHAPE.match(handle):
        raise not_found("no public profile at this address")
    reply = await invoke(
        clients.credentials.GetPublicProfile,
        credentials_service_pb2.GetPublicProfileRequest(handle=handle),
        token="",
    )
    return profile_view.public_to_json(reply.profile, base_url)


@router.get(
    "/api/v1/profiles/{handle}",
    response_model=PublicProfile,
    responses=problem_responses(404, 502, 503),
    summary="A learner's public profile (anyone): their chosen credentials grouped by skill,"
    " each verified now",
)
async def get_public_profile(handle: Handle, request: Request, clients: ClientsDep) -> JSONResponse:
    profile = await public_profile(clients, handle, _base_url(request))
    return JSONResponse(profile.model_dump(mode="json"), headers=_LIVE)


@router.get(
    "/api/v1/profiles/{handle}/verification",
    response_model=ProfileVerification,
    responses=problem_responses(404, 502, 503),
    summary="Verify every credential on a public profile at once (anyone)",
)
async def verify_public_profile(
    handle: Handle, request: Request, clients: ClientsDep
) -> JSONResponse:
    profile = await public_profile(clients, handle, _base_url(request))
    return JSONResponse(
        profile_view.verification_of(profile).model_dump(mode="json"), headers=_LIVE
    )
