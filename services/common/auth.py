"""Bearer-token identity shared by the gateway and every service.

Dev mode signs HS256 tokens with AUTH_JWT_SECRET; OIDC mode verifies RS/ES/EdDSA tokens
against the issuer's JWKS. Either way a token becomes a Principal, and handlers check
ownership on it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import httpx
import jwt

from services.common import settings
from services.common.errors import PermissionDeniedError, UnauthenticatedError
from services.common.text import is_clean

log = logging.getLogger(__name__)

DEV_ISSUER = "upskill-dev"
# The `aud` of dev tokens; in OIDC mode AUTH_AUDIENCE names the API's audience at the issuer.
AUDIENCE = "upskill"
# A token check waits at most this long on the issuer (PyJWKClient's default was 30 s).
JWKS_TIMEOUT_SECONDS = 5.0
# However many tokens name an unknown key, ask the issuer at most this often.
JWKS_MIN_REFRESH_SECONDS = 30.0
# Keys the issuer has dropped stop being trusted within this long.
JWKS_MAX_AGE_SECONDS = 300.0
# A verified token is remembered (until it expires, at most this long) so that the many
# requests of one session skip the signature check and claim parsing: the gateway and the
# service it calls each verify every request's token.
TOKEN_CACHE_SECONDS = 60.0
TOKEN_CACHE_SIZE = 4096


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


class acting_as:
    """Run the enclosed code as `principal` (what current_principal() returns).

    A class rather than a @contextmanager: it wraps every RPC, and a generator-based
    context manager costs a generator and its frame per call."""

    __slots__ = ("_principal", "_token")

    def __init__(self, principal: Principal | None) -> None:
        self._principal = principal

    def __enter__(self) -> None:
        self._token = _current.set(self._principal)

    def __exit__(self, *exc_info: object) -> None:
        _current.reset(self._token)


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
    # OIDC mode: the `aud` every access token must carry, and the claim (a dotted path into
    # the token, e.g. `groups` or Keycloak's `realm_access.roles`) that names admins when
    # it holds `admin_value`. Nobody else gets a role from the token: signed-in users are
    # learners, provider staff are members in our own data.
    audience: str = AUDIENCE
    admin_claim: str = ""
    admin_value: str = ""
    # OIDC mode: the client whose client-credentials tokens are our services' own
    # (AUTH_SERVICE_TOKEN is one of them); its tokens get the `service` role.
    service_client_id: str = ""
    # With its secret and the issuer's token endpoint, every process fetches (and renews)
    # its service token itself with the client-credentials grant; AUTH_SERVICE_TOKEN is
    # then not needed.
    service_client_secret: str = ""
    token_url: str = ""

    @classmethod
    def from_env(cls) -> AuthSettings:
        # No default: dev mode (anyone may mint any token) must never be what an operator
        # gets by leaving a variable unset.
        mode = settings.required(
            "AUTH_MODE", "`oidc` for a deployment, `dev` only for `upskill dev` and tests"
        )
        if mode not in ("dev", "oidc"):
            raise settings.ConfigError(f"setting AUTH_MODE must be one of dev, oidc, got {mode!r}")
        if mode == "dev":
            secret = settings.required("AUTH_JWT_SECRET", "the HS256 secret for dev-mode tokens")
            if len(secret) < 32:
                raise settings.ConfigError("setting AUTH_JWT_SECRET must be at least 32 characters")
            return cls(mode, secret, "", DEV_ISSUER, "")
        return cls(
            mode,
            "",
            settings.required("AUTH_JWKS_URL", "the OIDC issuer's JWKS URL"),
            # Without it any issuer whose keys happen to be in the JWKS would be trusted.
            settings.required("AUTH_ISSUER", "the OIDC issuer URL, the tokens' `iss` claim"),
            settings.optional("AUTH_SERVICE_TOKEN"),
            audience=settings.required(
                "AUTH_AUDIENCE", "the `aud` the issuer puts in access tokens for this API"
            ),
            admin_claim=settings.required(
                "AUTH_ADMIN_CLAIM", "the token claim naming admins, e.g. groups"
            ),
            admin_value=settings.required(
                "AUTH_ADMIN_VALUE", "the value of AUTH_ADMIN_CLAIM that makes an admin"
            ),
            service_client_id=settings.optional("AUTH_SERVICE_CLIENT_ID"),
            service_client_secret=settings.optional("AUTH_SERVICE_CLIENT_SECRET"),
            token_url=settings.optional("AUTH_TOKEN_URL"),
        )


DEV_MODE_WARNING = (
    "AUTH_MODE=dev: DEVELOPMENT MODE. Anyone can mint a token for any role, admin included."
    " Never run this for real people or real money; set AUTH_MODE=oidc."
)


def warn_if_dev_mode(auth: AuthSettings, logger: logging.Logger) -> None:
    """Say it loudly at start-up: dev mode must never go unnoticed."""
    if auth.mode == "dev":
        logger.warning(DEV_MODE_WARNING)


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


class JwksCache:
    """The issuer's signing keys by `kid`, fetched with async HTTP so that no event loop
    ever waits on the issuer: a short timeout, refreshed when a token names a key we do not
    have (key rotation) or the set is older than `max_age`, at most once per
    `min_refresh_interval` whatever tokens arrive, and one fetch at a time."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = JWKS_TIMEOUT_SECONDS,
        min_refresh_interval: float = JWKS_MIN_REFRESH_SECONDS,
        max_age: float = JWKS_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._min_refresh_interval = min_refresh_interval
        self._max_age = max_age
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    def cached(self, kid: str) -> jwt.PyJWK | None:
        """The key for `kid` if we hold it (no I/O)."""
        return self._keys.get(kid)

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key for `kid`, fetching the set when we lack it or ours is old."""
        if kid in self._keys and not self._stale():
            return self._keys[kid]
        async with self._lock:
            if (kid not in self._keys or self._stale()) and self._may_fetch():
                await self._fetch()
        return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at > self._max_age

    def _may_fetch(self) -> bool:
        return (
            self._fetched_at is None
            or self._clock() - self._fetched_at >= self._min_refresh_interval
        )

    async def _fetch(self) -> None:
        self._fetched_at = self._clock()
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(self._url)
                response.raise_for_status()
                document = response.json()
            if not isinstance(document, dict):
                raise ValueError("the JWKS is not a JSON object")
            key_set = jwt.PyJWKSet.from_dict(document)
        except (httpx.HTTPError, ValueError, jwt.PyJWKError, jwt.PyJWKSetError) as exc:
            # Keep the keys we had: an issuer's hiccup must not sign everyone out.
            log.warning("cannot refresh the JWKS from %s: %r", self._url, exc)
            return
        self._keys = {k.key_id: k for k in key_set.keys if k.key_id}


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    until: float  # epoch seconds: the token's exp, or sooner
    kid: str  # OIDC: the signing key, which must still be in the issuer's set


class VerifiedTokens:
    """A bounded LRU of tokens that passed verification, each kept until its `exp` (and at
    most `ttl`). Only successes are kept: a refused token is checked again every time."""

    def __init__(
        self,
        size: int = TOKEN_CACHE_SIZE,
        ttl: float = TOKEN_CACHE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._size = size
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, _Verified] = OrderedDict()

    def get(self, token: str) -> _Verified | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if self._clock() >= entry.until:
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return entry

    def put(self, token: str, principal: Principal, exp: object, kid: str = "") -> None:
        if not isinstance(exp, int | float):
            return  # dev and OIDC tokens both require exp; without one, never cache
        until = min(float(exp), self._clock() + self._ttl)
        self._entries[token] = _Verified(principal, until, kid)
        self._entries.move_to_end(token)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class TokenVerifier:
    """Turns a bearer token into a Principal, or raises UnauthenticatedError.

    `authenticate` is the one to await in servers: in OIDC mode it first makes sure the
    token's signing key is known (fetching the JWKS off the event loop). `verify` does the
    checks with the keys at hand and never does I/O."""

    def __init__(self, auth: AuthSettings) -> None:
        self._auth = auth
        self._service_tokens: dict[str, tuple[float, str]] = {}
        self._jwks = JwksCache(auth.jwks_url) if auth.mode == "oidc" else None
        self._fetched_service_token = ""
        self._verified = VerifiedTokens()

    @property
    def fetches_service_token(self) -> bool:
        """Whether this process gets its service token with the client-credentials grant."""
        auth = self._auth
        return bool(
            auth.mode == "oidc"
            and auth.service_client_id
            and auth.service_client_secret
            and auth.token_url
        )

    async def fetch_service_token(self) -> float:
        """Fetch a service token now; how many seconds until it should be renewed."""
        async with httpx.AsyncClient(timeout=JWKS_TIMEOUT_SECONDS) as client:
            response = await client.post(
                self._auth.token_url,
                # No `resource` (RFC 8707): Keycloak has none; the issuer's client config
                # gives the token our audience, which every service then checks.
                data={"grant_type": "client_credentials"},
                auth=(self._auth.service_client_id, self._auth.service_client_secret),
            )
            response.raise_for_status()
            body = response.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ValueError("the token endpoint sent no access_token")
        self._fetched_service_token = token
        expires_in = body.get("expires_in", 300)
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 300.0
        # Renew at two thirds of its life: a call never presents a token about to die.
        return max(5.0, lifetime * 2 / 3)

    async def keep_service_token_fresh(self, first_delay: float = 0.0) -> None:
        """Background task: renew the service token before it expires, for ever."""
        delay = first_delay
        while True:
            await asyncio.sleep(delay)
            try:
                delay = await self.fetch_service_token()
            except (httpx.HTTPError, ValueError) as exc:
                # The token we hold may still be good: retry soon, keep serving.
                log.warning("cannot renew the service token: %r", exc)
                delay = 5.0

    async def authenticate(self, token: str) -> Principal:
        if self._jwks is not None:
            await self._jwks.key(_kid_of(token))
        return self.verify(token)

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None and (self._jwks is None or self._jwks.cached(known.kid) is not None):
            return known.principal
        kid = ""
        try:
            if self._jwks is not None:
                kid = _kid_of(token)
                key = self._jwks.cached(kid)
                if key is None:
                    raise UnauthenticatedError("invalid bearer token: unknown signing key")
                claims = jwt.decode(
                    token,
                    key.key,
                    algorithms=["RS256", "ES256", "EdDSA"],
                    audience=self._auth.audience,
                    issuer=self._auth.issuer,
                    options={"require": ["exp", "sub", "iss", "aud"]},
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
        except jwt.ExpiredSignatureError:
            raise UnauthenticatedError("the bearer token has expired") from None
        except jwt.PyJWTError as exc:
            # PyJWT's text names decoders, codecs and the JWKS fetch (urlopen errors): the
            # log gets it, with the trace id; the caller gets a stable sentence.
            log.info("bearer token refused: %s: %s", type(exc).__name__, exc)
            raise UnauthenticatedError("invalid bearer token") from None
        role = self._role(claims)
        identity = {name: claims.get(name, "") for name in ("sub", "email", "provider_id")}
        if self._jwks is not None:
            # An issuer's token names no provider: staff act for a provider through a
            # membership in our data, never through a claim.
            identity["provider_id"] = ""
            if claims.get("email_verified") is False:
                # An address the user typed but never proved: it must not accept invitations.
                identity["email"] = ""
        for name, value in identity.items():
            # A subject or email with a NUL or another control character would be stored
            # (enrollments, payments) and shown: such a token identifies nobody.
            if not isinstance(value, str) or not is_clean(value):
                raise UnauthenticatedError(f"token claim {name} must be a plain string")
        if not identity["sub"]:
            raise UnauthenticatedError("token claim sub must not be empty")
        if role is Role.PROVIDER and not identity["provider_id"]:
            raise UnauthenticatedError("a provider token needs a provider_id claim")
        principal = Principal(
            subject=identity["sub"],
            role=role,
            email=identity["email"],
            provider_id=identity["provider_id"],
            token=token,
            scopes=_scopes(claims.get("scope")),
        )
        self._verified.put(token, principal, claims.get("exp"), kid)
        return principal

    def _role(self, claims: dict[str, object]) -> Role:
        if self._jwks is None:
            # Dev tokens carry the role their minter chose (that is what dev mode is for).
            try:
                return Role(str(claims.get("role", "")))
            except ValueError:
                raise UnauthenticatedError("token has no valid role claim") from None
        if self._auth.admin_claim and _claim_holds(
            claims, self._auth.admin_claim, self._auth.admin_value
        ):
            return Role.ADMIN
        client = claims.get("client_id", claims.get("azp"))
        if (
            self._auth.service_client_id
            and client == self._auth.service_client_id
            and (
                claims.get("sub") == client  # most issuers: the client is the subject
                # Keycloak: the client's service-account user
                or claims.get("preferred_username") == f"service-account-{client}"
            )
        ):
            # A client-credentials token (no user) of our services' own client.
            return Role.SERVICE
        return Role.LEARNER

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
        if self._fetched_service_token:
            return self._fetched_service_token
        if not self._auth.service_token:
            raise settings.MissingSettingError(
                "AUTH_SERVICE_TOKEN", "needed for service-to-service calls in oidc mode"
            )
        return self._auth.service_token


def _kid_of(token: str) -> str:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        # PyJWT's text goes to the log; the caller gets a stable sentence.
        log.info("bearer token refused: %s: %s", type(exc).__name__, exc)
        raise UnauthenticatedError("invalid bearer token") from None
    if not isinstance(kid, str) or not kid:
        raise UnauthenticatedError("invalid bearer token: no key id (kid) in its header")
    return kid


def _claim_holds(claims: dict[str, object], path: str, value: str) -> bool:
    """Whether the claim at dotted `path` is `value` or a list holding it."""
    node: object = claims
    for part in path.split("."):
        if not isinstance(node, dict):
            return False
        node = node.get(part)
    if isinstance(node, str):
        return node == value
    return isinstance(node, list) and value in node


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
