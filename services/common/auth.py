"""Bearer-token identity shared by the gateway and every service.

Dev mode signs HS256 tokens with AUTH_JWT_SECRET; OIDC mode verifies RS/ES/EdDSA tokens
against the issuer's JWKS. Either way a token becomes a Principal, and handlers check
ownership on it.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

import jwt

from services.common import settings
from services.common.errors import PermissionDeniedError, UnauthenticatedError

DEV_ISSUER = "upskill-dev"
AUDIENCE = "upskill"


class Role(StrEnum):
    LEARNER = "learner"
    PROVIDER = "provider"
    ADMIN = "admin"
    SERVICE = "service"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    email: str = ""
    provider_id: str = ""
    token: str = ""
    # OAuth 2.0 scopes the token grants (its space-separated "scope" claim, RFC 9068), for
    # APIs that third parties call on a user's behalf (the Open Badges 3.0 API).
    scopes: frozenset[str] = frozenset()

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise PermissionDeniedError(
                f"role {self.role} may not do this (needs {', '.join(sorted(roles))})"
            )

    def listing_scope(self) -> tuple[str | None, str | None]:
        """(learner id, provider id) that a listing for this caller is restricted to; None
        where it is not: learners see their own rows, providers their programs' rows."""
        return (
            self.subject if self.role is Role.LEARNER else None,
            self.provider_id if self.role is Role.PROVIDER else None,
        )

    @property
    def is_privileged(self) -> bool:
        """Admins and services see everything."""
        return self.role in (Role.ADMIN, Role.SERVICE)


ANONYMOUS = Principal(subject="", role=Role.LEARNER)

_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "upskill_principal", default=None
)


def current_principal() -> Principal | None:
    """The authenticated caller of the RPC being handled, or None for an anonymous one."""
    return _current.get()


@contextlib.contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    """Run the enclosed code as `principal` (what current_principal() returns)."""
    token = _current.set(principal)
    try:
        yield
    finally:
        _current.reset(token)


def authenticated() -> Principal:
    principal = _current.get()
    if principal is None:
        raise UnauthenticatedError("a bearer token is required")
    return principal


@dataclass(frozen=True)
class AuthSettings:
    mode: str
    jwt_secret: str
    jwks_url: str
    issuer: str
    service_token: str

    @classmethod
    def from_env(cls) -> AuthSettings:
        mode = settings.choice("AUTH_MODE", "dev", ("dev", "oidc"))
        if mode == "dev":
            secret = settings.required("AUTH_JWT_SECRET", "the HS256 secret for dev-mode tokens")
            if len(secret) < 32:
                raise settings.ConfigError("setting AUTH_JWT_SECRET must be at least 32 characters")
            return cls(mode, secret, "", DEV_ISSUER, "")
        return cls(
            mode,
            "",
            settings.required("AUTH_JWKS_URL", "the OIDC issuer's JWKS URL"),
            settings.optional("AUTH_ISSUER"),
            settings.optional("AUTH_SERVICE_TOKEN"),
        )


def mint_dev_token(
    secret: str,
    *,
    role: Role | str,
    subject: str,
    email: str = "",
    provider_id: str = "",
    ttl_seconds: int = 12 * 3600,
    scope: str = "",
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": DEV_ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "role": Role(role).value,
        "iat": now,
        "nbf": now - 5,
        "exp": now + ttl_seconds,
    }
    if email:
        claims["email"] = email
    if provider_id:
        claims["provider_id"] = provider_id
    if scope:
        claims["scope"] = scope
    return jwt.encode(claims, secret, algorithm="HS256")


class TokenVerifier:
    """Turns a bearer token into a Principal, or raises UnauthenticatedError."""

    def __init__(self, auth: AuthSettings) -> None:
        self._auth = auth
        self._service_tokens: dict[str, tuple[float, str]] = {}
        self._jwks = (
            jwt.PyJWKClient(auth.jwks_url, cache_keys=True) if auth.mode == "oidc" else None
        )

    def verify(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=["RS256", "ES256", "EdDSA"],
                    audience=AUDIENCE,
                    issuer=self._auth.issuer or None,
                    options={"require": ["exp", "sub"]},
                )
            else:
                claims = jwt.decode(
                    token,
                    self._auth.jwt_secret,
                    algorithms=["HS256"],
                    audience=AUDIENCE,
                    issuer=DEV_ISSUER,
                    options={"require": ["exp", "sub"]},
                )
        except jwt.PyJWTError as exc:
            raise UnauthenticatedError(f"invalid bearer token: {exc}") from None
        try:
            role = Role(str(claims.get("role", "")))
        except ValueError:
            raise UnauthenticatedError("token has no valid role claim") from None
        provider_id = str(claims.get("provider_id", ""))
        if role is Role.PROVIDER and not provider_id:
            raise UnauthenticatedError("a provider token needs a provider_id claim")
        return Principal(
            subject=str(claims["sub"]),
            role=role,
            email=str(claims.get("email", "")),
            provider_id=provider_id,
            token=token,
            scopes=_scopes(claims.get("scope")),
        )

    def service_token(self, service_name: str) -> str:
        """The token this service presents when it calls another service."""
        if self._auth.mode == "dev":
            # Re-mint well before expiry: long-running services must never present a dead token.
            minted_at, token = self._service_tokens.get(service_name, (0.0, ""))
            if time.time() - minted_at > 3600:
                token = mint_dev_token(
                    self._auth.jwt_secret, role=Role.SERVICE, subject=f"service:{service_name}"
                )
                self._service_tokens[service_name] = (time.time(), token)
            return token
        if not self._auth.service_token:
            raise settings.MissingSettingError(
                "AUTH_SERVICE_TOKEN", "needed for service-to-service calls in oidc mode"
            )
        return self._auth.service_token


def _scopes(claim: object) -> frozenset[str]:
    """The "scope" claim: a space-separated string (RFC 8693/9068); some issuers send a list."""
    if isinstance(claim, str):
        return frozenset(claim.split())
    if isinstance(claim, list):
        return frozenset(s for s in claim if isinstance(s, str) and s and " " not in s)
    return frozenset()


def bearer(header_value: str | None) -> str | None:
    """The token in an `authorization: Bearer <token>` value, or None when absent."""
    if not header_value:
        return None
    scheme, _, token = header_value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthenticatedError("authorization must be 'Bearer <token>'")
    return token.strip()
