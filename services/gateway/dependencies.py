"""FastAPI dependencies: the app's shared objects and the caller's identity."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import HTTPBearer

from services.common.auth import Principal, bearer
from services.common.errors import UnauthenticatedError
from services.common.memberships import act_for_provider
from services.gateway.clients import Clients
from services.gateway.cross_origin import refuse_cross_site
from services.gateway.problems import ProblemError, invalid_input, not_found, unauthenticated
from services.gateway.security import (
    SESSION_COOKIE,
    Authenticator,
    forget_session_token,
    session_token,
)
from services.gateway.settings import GatewaySettings
from services.gateway.studio_access import studio_link, team_link

_BEARER_DESCRIPTION = "A JWT: from POST /api/v1/dev/tokens in dev mode, else from the OIDC issuer."
# Declared for the OpenAPI document; the header itself is parsed by services.common.auth.
_bearer_scheme = HTTPBearer(auto_error=False, description=_BEARER_DESCRIPTION)


def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def get_clients(request: Request) -> Clients:
    clients: Clients = request.app.state.clients
    return clients


def get_authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


# What a route that anyone may call declares: a bearer token, or none at all.
OPTIONAL_BEARER: dict[str, Any] = {"security": [{}, {_bearer_scheme.scheme_name: []}]}


async def optional_principal(request: Request) -> Principal | None:
    """The caller when a bearer token was sent (401 if it is bad), else None. Routes that
    use it alone document their optional token with `openapi_extra=OPTIONAL_BEARER`."""
    try:
        token = bearer(request.headers.get("authorization"))
    except UnauthenticatedError as exc:
        raise unauthenticated(exc.message) from None
    if token is None:
        return None
    return await get_authenticator(request).verify(token)


class _RequiredPrincipal(HTTPBearer):
    """The caller; 401 before any RPC when no bearer token was sent.

    One dependency that is also the OpenAPI security scheme (FastAPI documents a dependency
    that is a SecurityBase instance as one): the same "HTTPBearer" scheme as
    `_bearer_scheme`, so the document does not change. As a function depending on
    `optional_principal` and on `_bearer_scheme` it was three dependency solves per
    request, each a recursive `solve_dependencies`: about 6 % of the gateway's CPU per
    GET in `benchmarks.reads`."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = await optional_principal(request)
        if principal is None:
            raise unauthenticated("this route needs an 'Authorization: Bearer <token>' header")
        return principal


require_principal = _RequiredPrincipal(
    scheme_name=_bearer_scheme.scheme_name, auto_error=False, description=_BEARER_DESCRIPTION
)


async def request_guards(request: Request) -> None:
    """The checks every route makes before anything else: a cross-site state-changing
    request is refused first, then the provider the caller acts for is taken from
    `X-Upskill-Provider`. One dependency (FastAPI solves each dependency of every request
    on its own, a few percent of the gateway's CPU apiece), given to every router when it
    is included (services.gateway.app), except the purchase's routers (GUARDED_ROUTERS),
    whose routes run it inside their one dependency: `GuardedCaller`, `GuardedViewer`, or
    `GUARDS` itself."""
    await refuse_cross_site(request)
    await acting_provider(request)


class _GuardedPrincipal(_RequiredPrincipal):
    """`request_guards`, then `require_principal`, as one dependency solve: what the
    routes of a guarded router take instead of `Caller` (the same security scheme)."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        await request_guards(request)
        return await super().__call__(request)


guarded_principal = _GuardedPrincipal(
    scheme_name=_bearer_scheme.scheme_name, auto_error=False, description=_BEARER_DESCRIPTION
)


async def page_viewer(request: Request) -> Principal | None:
    """Who is looking at a page: the session's principal, or None (never an error). In oidc
    mode the session holds the provider's access token; in dev mode a cookie holds a dev
    token."""
    authenticator = get_authenticator(request)
    token = request.cookies.get(SESSION_COOKIE) if authenticator.dev_mode else None
    token = token or session_token(request)
    principal = None
    if token:
        try:
            principal = await authenticator.verify(token)
        except ProblemError:
            # Expired or no longer trusted: the person is signed out.
            forget_session_token(request)
            principal = None
    request.state.viewer = principal  # the page layout shows who is signed in
    if principal is None:
        # Neither link for nobody (studio_link and team_link answer False at once): no
        # gather, whose two tasks were a twentieth of the checkout's pay (benchmarks/README.md,
        # round 10).
        request.state.studio_link = request.state.team_link = False
        return None
    request.state.studio_link, request.state.team_link = await asyncio.gather(
        studio_link(request, principal), team_link(request, principal)
    )
    return principal


async def guarded_page_viewer(request: Request) -> Principal | None:
    """`request_guards`, then `page_viewer`, as one dependency solve."""
    await request_guards(request)
    return await page_viewer(request)


def uuid_path(what: str) -> Any:
    """A path parameter holding a resource id: documented as a UUID, and a value that
    cannot be one is answered 404 by resource_id (no such resource), like an unknown id."""
    return Path(
        description=f"The {what}'s id; anything but a UUID is 404",
        json_schema_extra={"format": "uuid"},
    )


# A UUID as str(uuid.UUID(...)) writes it: such a path id is returned as it is, with no
# UUID object made (the buyer's polls; tests/unit/test_gateway_guards.py compares).
_CANONICAL_UUID = re.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def resource_id(value: str, what: str) -> str:
    """A path id as the services store it (a canonical UUID); 404 when it cannot be one."""
    if _CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise not_found(f"no {what} with id {value!r}") from None


def token_of(principal: Principal | None) -> str:
    return principal.token if principal else ""


# The route dependencies are async, though they only read app.state: FastAPI runs a plain
# `def` dependency in its thread pool, a hand-off per request that showed as a tenth of the
# gateway's CPU under load (py-spy).
async def _settings_dependency(request: Request) -> GatewaySettings:
    return get_settings(request)


async def _clients_dependency(request: Request) -> Clients:
    return get_clients(request)


async def _authenticator_dependency(request: Request) -> Authenticator:
    return get_authenticator(request)


SettingsDep = Annotated[GatewaySettings, Depends(_settings_dependency)]
ClientsDep = Annotated[Clients, Depends(_clients_dependency)]
AuthenticatorDep = Annotated[Authenticator, Depends(_authenticator_dependency)]
Caller = Annotated[Principal, Depends(require_principal)]
MaybeCaller = Annotated[Principal | None, Depends(optional_principal)]
Viewer = Annotated[Principal | None, Depends(page_viewer)]
# In a guarded router (services.gateway.app.GUARDED_ROUTERS) only: the route's first
# dependency, which runs request_guards before the caller or the viewer.
GuardedCaller = Annotated[Principal, Depends(guarded_principal)]
GuardedViewer = Annotated[Principal | None, Depends(guarded_page_viewer)]
GUARDS = [Depends(request_guards)]


async def acting_provider(request: Request) -> None:
    """App-wide: the provider the caller acts for (`X-Upskill-Provider`), forwarded to the
    services, which check the membership. A value that cannot be a provider id is 400.
    (An async dependency runs in the request's own task, so the value stays with it.)"""
    value = request.headers.get("x-upskill-provider")
    if value is None:
        return
    try:
        provider_id = str(uuid.UUID(value.strip()))
    except ValueError:
        raise invalid_input("X-Upskill-Provider must be a provider id (a UUID)") from None
    act_for_provider(provider_id)
