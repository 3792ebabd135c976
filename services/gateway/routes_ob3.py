"""The Open Badges 3.0 API (1EdTech OB 3.0 section 6) for wallets and other platforms:
service discovery, getCredentials and getProfile, protected by the OB 3.0 OAuth 2.0 scopes.

Scopes come from the bearer token's ``scope`` claim, verified like every other token. The
authorization server that hands such tokens to a wallet (authorization code with PKCE,
dynamic client registration) is the identity provider we sign people in with: the
discovery document names its endpoints, read from its own metadata. Errors are the spec's
``Imsx_StatusInfo`` documents, not problem+json.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from upskill.credentials.v1 import credentials_pb2, credentials_service_pb2

from services.common.auth import Principal, Role, bearer
from services.common.errors import UnauthenticatedError
from services.common.open_badges import OB_CONTEXT, learner_uri
from services.gateway import signin
from services.gateway.clients import invoke
from services.gateway.dependencies import ClientsDep, get_authenticator, get_settings
from services.gateway.problems import ProblemError
from services.gateway.schemas import is_rfc3339_date_time

PREFIX = "/ims/ob/v3p0"
SCOPE_BASE = "https://purl.imsglobal.org/spec/ob/v3p0/scope/"
CREDENTIAL_READONLY = SCOPE_BASE + "credential.readonly"
PROFILE_READONLY = SCOPE_BASE + "profile.readonly"
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# How many of a learner's credentials getCredentials pages through (X-Total-Count needs all).
MAX_CREDENTIALS = 2000
_LIST_PAGE = 100

log = logging.getLogger(__name__)

router = APIRouter(tags=["open badges 3.0"])

_bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An OAuth 2.0 access token whose scope claim grants the OB 3.0 scope.",
)

_IMSX_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": f"Imsx_StatusInfo ({minor})"}
    for code, minor in (
        (400, "invalid_query_parameter"),
        (401, "unauthorizedrequest"),
        (403, "forbidden"),
        (500, "internal_server_error"),
    )
}


class ImsxError(Exception):
    """Answered as an OB 3.0 Imsx_StatusInfo document."""

    def __init__(
        self, status: int, minor: str, description: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.minor = minor
        self.description = description
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse(
            {
                "imsx_codeMajor": "failure",
                "imsx_severity": "error",
                "imsx_description": self.description,
                "imsx_codeMinor": {
                    "imsx_codeMinorField": [
                        {
                            "imsx_codeMinorFieldName": "TargetEndSystem",
                            "imsx_codeMinorFieldValue": self.minor,
                        }
                    ]
                },
            },
            status_code=self.status,
            headers=self.headers,
        )


async def _principal(request: Request) -> Principal:
    try:
        token = bearer(request.headers.get("authorization"))
    except UnauthenticatedError as exc:
        raise _unauthorized(exc.message) from None
    if token is None:
        raise _unauthorized("an OAuth 2.0 bearer access token is required")
    try:
        return await get_authenticator(request).verify(token)
    except ProblemError as exc:
        raise _unauthorized(str(exc)) from None


def _unauthorized(description: str) -> ImsxError:
    # RFC 6750: tell the client how to authenticate.
    header = 'Bearer error="invalid_token"' if "token" in description else "Bearer"
    return ImsxError(401, "unauthorizedrequest", description, {"WWW-Authenticate": header})


def _granted(principal: Principal, scope: str) -> Principal:
    if scope not in principal.scopes:
        raise ImsxError(
            403,
            "forbidden",
            f"the access token does not grant the scope {scope}",
            {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )
    if principal.role is not Role.LEARNER:
        # The OB 3.0 API serves the authenticated person's own credentials and profile.
        raise ImsxError(403, "forbidden", "the OB 3.0 API serves a learner's own credentials")
    return principal


async def _authorize(request: Request, scope: str) -> Principal:
    return _granted(await _principal(request), scope)


_MINOR_BY_STATUS = {400: "invalid_data", 401: "unauthorizedrequest", 403: "forbidden",
                    404: "not_found", 503: "server_busy"}  # fmt: skip


def _as_imsx(exc: ProblemError) -> ImsxError:
    """A failure from the services (a gRPC error mapped to a problem) in the spec's form."""
    status = exc.status if exc.status in _MINOR_BY_STATUS else 500
    minor = _MINOR_BY_STATUS.get(status, "internal_server_error")
    return ImsxError(status, minor, exc.detail, dict(exc.headers))


BearerDoc = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)]


_DIGITS = re.compile(r"^[0-9]{1,9}$")


def _integer(request: Request, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _DIGITS.match(raw) or not minimum <= int(raw) <= maximum:
        raise ImsxError(
            400,
            "invalid_query_parameter",
            f"{name} must be an integer from {minimum} to {maximum}",
        )
    return int(raw)


def _since(request: Request) -> datetime | None:
    raw = request.query_params.get("since")
    if raw is None:
        return None
    try:
        # RFC 3339 only (the API's date-time): fromisoformat alone also reads ISO 8601's
        # other forms, such as 20250101T000000+0000 or a time without seconds.
        since = datetime.fromisoformat(raw) if is_rfc3339_date_time(raw) else None
    except ValueError:
        since = None
    if since is None or since.tzinfo is None:
        raise ImsxError(
            400, "invalid_query_parameter", "since must be a date-time with a time zone offset"
        )
    return since


@router.get(
    f"{PREFIX}/discovery",
    summary="OB 3.0 Service Description Document (OpenAPI 3.0, unprotected)",
    responses={500: _IMSX_RESPONSES[500]},
)
async def discovery(request: Request) -> JSONResponse:
    base = get_settings(request).public_base_url.rstrip("/")
    try:
        endpoints, note = await _oauth_endpoints(request, base)
    except ProblemError as exc:
        return _as_imsx(exc).response()
    return JSONResponse(
        {
            "openapi": "3.0.1",
            "info": {
                "title": "Upskill Open Badges 3.0 API",
                "version": "3.0",
                "termsOfService": f"{base}/",
                "x-imssf-privacyPolicyUrl": f"{base}/",
            },
            "paths": {
                f"{PREFIX}/credentials": {"get": {"operationId": "getCredentials"}},
                f"{PREFIX}/profile": {"get": {"operationId": "getProfile"}},
                f"{PREFIX}/discovery": {"get": {"operationId": "getServiceDescription"}},
            },
            "components": {
                "securitySchemes": {
                    "OAuth2ACG": {
                        "type": "oauth2",
                        "description": note,
                        "x-imssf-name": "Upskill",
                        "x-imssf-registrationUrl": endpoints["registration"],
                        "flows": {
                            "authorizationCode": {
                                "authorizationUrl": endpoints["authorization"],
                                "tokenUrl": endpoints["token"],
                                "refreshUrl": endpoints["token"],
                                "scopes": {
                                    CREDENTIAL_READONLY: "Read the learner's Open Badges credentials",
                                    PROFILE_READONLY: "Read the learner's profile",
                                },
                            }
                        },
                    }
                },
                "schemas": {},
            },
        }
    )


_ACG = "OAuth 2.0 Authorization Code Grant authorization"


async def _oauth_endpoints(request: Request, base: str) -> tuple[dict[str, str], str]:
    """Where a wallet registers, sends the learner to consent, and gets its tokens.

    Our authorization server is the identity provider the gateway signs people in with
    (AUTH_MODE=oidc): its own metadata names the endpoints, so the document never points
    at a server that does not exist. In AUTH_MODE=dev there is none: scoped tokens come
    from `upskill token --scope` (or the dev token route), and the document says so.
    """
    client = getattr(request.app.state, "oidc_client", None)
    if client is None:
        dev_tokens = f"{base}/api/v1/dev/tokens"
        note = (
            f"{_ACG}. AUTH_MODE=dev has no authorization server: mint a scoped access token"
            " with `upskill token --role learner --sub <id> --scope <scope>`."
        )
        return {"authorization": f"{base}/", "token": dev_tokens, "registration": dev_tokens}, note
    metadata = await signin.provider_metadata(client, get_settings(request))
    registration = metadata.get("registration_endpoint")
    if not registration:
        # OB 3.0 asks for dynamic registration; without it, clients are registered by an
        # operator at the provider, which its issuer URL leads to.
        log.warning("the identity provider offers no registration_endpoint (RFC 7591)")
        registration = metadata["issuer"]
    return (
        {
            "authorization": metadata["authorization_endpoint"],
            "token": metadata["token_endpoint"],
            "registration": registration,
        },
        f"{_ACG} at the identity provider {metadata['issuer']}.",
    )


@router.get(
    f"{PREFIX}/credentials",
    summary="getCredentials: the learner's credentials as compact JWS (scope credential.readonly)",
    responses=_IMSX_RESPONSES,
)
async def get_credentials(request: Request, clients: ClientsDep, _: BearerDoc) -> JSONResponse:
    try:
        principal = await _authorize(request, CREDENTIAL_READONLY)
        limit = _integer(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = _integer(request, "offset", 0, 0, MAX_CREDENTIALS)
        since = _since(request)
        try:
            tokens = await _learner_credentials(clients, principal, since)
        except ProblemError as exc:
            raise _as_imsx(exc) from None
    except ImsxError as exc:
        return exc.response()
    total = len(tokens)
    page = tokens[offset : offset + limit]
    return JSONResponse(
        {"credential": [], "compactJwsString": page},
        headers={
            "X-Total-Count": str(total),
            "Link": _links(request, limit, offset, total),
            "Cache-Control": "no-store",
        },
    )


async def _learner_credentials(
    clients: ClientsDep, principal: Principal, since: datetime | None
) -> list[str]:
    """The learner's standing credentials, newest first (the order paging relies on)."""
    tokens: list[str] = []
    page_token = ""
    while len(tokens) < MAX_CREDENTIALS:
        reply = await invoke(
            clients.credentials.ListCredentials,
            credentials_service_pb2.ListCredentialsRequest(
                page_size=_LIST_PAGE, page_token=page_token
            ),
            token=principal.token,
        )
        for credential in reply.credentials:
            if credential.status == credentials_pb2.CREDENTIAL_STATUS_REVOKED:
                continue
            if since is not None and credential.issue_time.ToDatetime().timestamp() < (
                since.timestamp()
            ):
                continue
            tokens.append(credential.jwt)
        page_token = reply.next_page_token
        if not page_token:
            break
    return tokens[:MAX_CREDENTIALS]


def _links(request: Request, limit: int, offset: int, total: int) -> str:
    """RFC 8288 Link header with first, last, and (where they exist) prev and next."""
    base = str(request.url.remove_query_params(["limit", "offset"]))
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("limit", "offset")]

    def url(at: int) -> str:
        return f"{base.split('?')[0]}?{urlencode([*kept, ('limit', limit), ('offset', at)])}"

    last = max(0, (total - 1) // limit * limit) if total else 0
    links = [f'<{url(0)}>; rel="first"', f'<{url(last)}>; rel="last"']
    if offset + limit < total:
        links.append(f'<{url(offset + limit)}>; rel="next"')
    if offset > 0:
        links.append(f'<{url(max(0, offset - limit))}>; rel="prev"')
    return ", ".join(links)


@router.get(
    f"{PREFIX}/profile",
    summary="getProfile: the learner's profile (scope profile.readonly)",
    responses=_IMSX_RESPONSES,
)
async def get_profile(request: Request, _: BearerDoc) -> JSONResponse:
    try:
        principal = await _authorize(request, PROFILE_READONLY)
    except ImsxError as exc:
        return exc.response()
    profile: dict[str, Any] = {
        "@context": [OB_CONTEXT],
        "id": learner_uri(principal.subject),  # what credentialSubject.id says in credentials
        "type": ["Profile"],
    }
    if principal.email:
        profile["email"] = principal.email
    return JSONResponse(profile)
