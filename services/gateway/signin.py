"""Sign-in and sign-out through the OpenID provider (AUTH_MODE=oidc).

The gateway is an OpenID Connect relying party built on Authlib's Starlette client, which
does the protocol: discovery from the issuer's metadata, Authorization Code with PKCE
(S256), `state` and `nonce` kept in the signed session cookie and checked on the way back
(each used once), the ID token verified against the issuer's JWKS (`iss`, `aud`, `exp`,
`nonce`, `at_hash`). What we add:

- the provider's metadata must name our configured issuer (AUTH_ISSUER), so that a
  discovery document pointing elsewhere cannot swap issuers under us;
- the access token must pass the same check the services apply (signature, issuer, our
  audience, expiry) and be for the ID token's subject; it is what the gateway forwards to
  the services as the caller's bearer token, so that every service decides on a token the
  issuer signed, not on anything the gateway or the browser asserts;
- the session cookie (Starlette's SessionMiddleware: signed with SESSION_SECRET, HttpOnly,
  SameSite=Lax, Secure when PUBLIC_BASE_URL is https) holds only that access token and
  where to go after sign-in. When the token expires the person signs in again (the
  provider's own session usually makes that one redirect).

Sign-out clears the session and, when the provider offers an `end_session_endpoint`, sends
the browser there (RP-initiated logout) to end the provider's session too.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from joserfc.errors import JoseError

from services.common.auth import Principal
from services.common.text import is_clean
from services.gateway.dependencies import AuthenticatorDep, SettingsDep
from services.gateway.problems import ProblemError, not_found
from services.gateway.security import SESSION_TOKEN_KEY
from services.gateway.settings import GatewaySettings, OidcClientSettings
from services.gateway.studio_access import studio_link

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

SESSION_COOKIE_NAME = "upskill_session"
# The session cookie outlives no working day; the access token inside usually expires first.
SESSION_MAX_AGE_SECONDS = 8 * 3600
CALLBACK_PATH = "/signin/callback"
_NEXT_KEY = "next"
_METADATA_TIMEOUT_SECONDS = 10.0


def build_client(oidc: OidcClientSettings) -> StarletteOAuth2App:
    oauth = OAuth()
    client: StarletteOAuth2App = oauth.register(
        "upskill",
        client_id=oidc.client_id,
        client_secret=oidc.client_secret,
        server_metadata_url=oidc.discovery_url,
        client_kwargs={
            "scope": oidc.scopes,
            "code_challenge_method": "S256",
            "timeout": _METADATA_TIMEOUT_SECONDS,
        },
    )
    return client


def safe_next(value: str) -> str:
    """Only local paths: a sign-in link must not become an open redirect (nor carry a
    control character into a Location header)."""
    if (
        value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and value.isprintable()
        and is_clean(value)
    ):
        return value
    return "/"


def _client(request: Request) -> StarletteOAuth2App:
    client: StarletteOAuth2App | None = getattr(request.app.state, "oidc_client", None)
    if client is None:
        raise not_found("sign-in through an OpenID provider exists only in AUTH_MODE=oidc")
    return client


async def provider_metadata(
    client: StarletteOAuth2App, settings: GatewaySettings
) -> dict[str, Any]:
    """The identity provider's metadata, checked to name our issuer (503 when unreachable)."""
    try:
        metadata: dict[str, Any] = await client.load_server_metadata()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("cannot read the OpenID provider's metadata: %r", exc)
        raise ProblemError(
            503, "the identity provider cannot be reached; try again shortly", slug="idp-down"
        ) from None
    if metadata.get("issuer") != settings.auth.issuer:
        # Mix-up defence: the discovery document must be our issuer's.
        log.error(
            "the OpenID provider's metadata names issuer %r, not AUTH_ISSUER %r",
            metadata.get("issuer"),
            settings.auth.issuer,
        )
        raise ProblemError(503, "the identity provider is misconfigured", slug="idp-down")
    return metadata


@router.get("/signin")
async def sign_in_start(
    request: Request,
    settings: SettingsDep,
    next_path: Annotated[str, Query(alias="next", max_length=2000)] = "/",
) -> RedirectResponse:
    """Send the browser to the provider's sign-in page (Authorization Code + PKCE)."""
    client = _client(request)
    await provider_metadata(client, settings)
    request.session[_NEXT_KEY] = safe_next(next_path)
    response: RedirectResponse = await client.authorize_redirect(
        request, settings.public_base_url + CALLBACK_PATH
    )
    return response


@router.get(CALLBACK_PATH)
async def sign_in_callback(
    request: Request, settings: SettingsDep, authenticator: AuthenticatorDep
) -> RedirectResponse:
    """The provider sends the browser back here with a code: exchange it, check the
    tokens, and keep the access token in the session."""
    client = _client(request)
    await provider_metadata(client, settings)
    try:
        token = await client.authorize_access_token(request)
    except (OAuthError, JoseError, KeyError, ValueError) as exc:
        # A replayed or forged state, an error from the provider, a bad ID token (nonce,
        # issuer, audience, signature): the person starts again; the log says why.
        log.warning("sign-in refused: %s: %s", type(exc).__name__, exc)
        raise ProblemError(
            400, "sign-in failed or expired; please sign in again", slug="sign-in-failed"
        ) from None
    except httpx.HTTPError as exc:
        log.warning("sign-in: the provider's token endpoint failed: %r", exc)
        raise ProblemError(
            503, "the identity provider cannot be reached; try again shortly", slug="idp-down"
        ) from None
    identity = token.get("userinfo")
    access_token = token.get("access_token")
    if not identity or not isinstance(access_token, str):
        log.warning("sign-in refused: the provider sent no ID token or no access token")
        raise ProblemError(400, "sign-in failed; please sign in again", slug="sign-in-failed")
    principal: Principal = await authenticator.verify(access_token)
    if principal.subject != identity.get("sub"):
        log.warning("sign-in refused: the access token is for another subject")
        raise ProblemError(400, "sign-in failed; please sign in again", slug="sign-in-failed")
    next_path = safe_next(str(request.session.pop(_NEXT_KEY, "/")))
    request.session[SESSION_TOKEN_KEY] = access_token
    if next_path == "/" and await studio_link(request, principal):
        next_path = "/studio"  # provider staff start where their work is
    log.info("signed in: %s (%s)", principal.subject, principal.role.value)
    return RedirectResponse(next_path, status_code=303)


async def sign_out_redirect(request: Request, settings: GatewaySettings) -> str:
    """End the local session; where to send the browser to end the provider's too."""
    request.session.clear()
    client = _client(request)
    try:
        metadata = await provider_metadata(client, settings)
    except ProblemError:
        return "/"  # signed out here at least; the provider's session ends on its own
    if not metadata.get("end_session_endpoint"):
        return "/"
    logout = await client.create_logout_url(
        post_logout_redirect_uri=settings.public_base_url + "/",
        client_id=client.client_id,
    )
    url: str = logout["url"]
    return url
