"""Who is calling: bearer tokens for the API, a cookie for pages, and the gateway's own
service identity for the calls no person's token covers (webhooks, hosted checkout).

The gateway authenticates only enough to answer 401 early; the services authorise.
"""

from __future__ import annotations

from fastapi import Request

from services.common.auth import AuthSettings, Principal, Role, TokenVerifier, mint_dev_token
from services.common.errors import UnauthenticatedError
from services.gateway.problems import unauthenticated

SERVICE_NAME = "gateway"
# Dev service tokens live 12 h; mint a fresh one well before that.
DEV_TOKEN_TTL_SECONDS = 12 * 3600
SESSION_COOKIE = "upskill_token"
# Where the oidc-mode session (services.gateway.signin) keeps the person's access token.
SESSION_TOKEN_KEY = "access_token"


def session_token(request: Request) -> str:
    """The access token of the signed-in person (oidc mode), or ""."""
    if "session" not in request.scope:
        return ""
    token = request.session.get(SESSION_TOKEN_KEY, "")
    return token if isinstance(token, str) else ""


def forget_session_token(request: Request) -> None:
    if "session" in request.scope:
        request.session.pop(SESSION_TOKEN_KEY, None)


class Authenticator:
    def __init__(self, auth: AuthSettings) -> None:
        self._auth = auth
        self._verifier = TokenVerifier(auth)

    @property
    def verifier(self) -> TokenVerifier:
        return self._verifier

    @property
    def dev_mode(self) -> bool:
        return self._auth.mode == "dev"

    async def verify(self, token: str) -> Principal:
        """The principal for `token`, or a 401 ProblemError."""
        try:
            # In OIDC mode this may fetch the issuer's JWKS, with async HTTP.
            return await self._verifier.authenticate(token)
        except UnauthenticatedError as exc:
            raise unauthenticated(exc.message) from None

    def service_token(self) -> str:
        """The gateway's own service token (TokenVerifier re-mints it before it expires)."""
        return self._verifier.service_token(SERVICE_NAME)

    def mint_dev_token(
        self, *, role: Role | str, subject: str, email: str = "", provider_id: str = ""
    ) -> str:
        if not self.dev_mode:
            raise RuntimeError("dev tokens exist only in AUTH_MODE=dev")
        return mint_dev_token(
            self._auth.jwt_secret,
            role=role,
            subject=subject,
            email=email,
            provider_id=provider_id,
            ttl_seconds=DEV_TOKEN_TTL_SECONDS,
        )
