"""The gateway's settings, read once from the environment (12-factor, fail fast by name)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common import settings
from services.common.auth import AuthSettings

DEFAULT_LISTEN_ADDR = "0.0.0.0:8080"
# Request body caps (services.gateway.limits). The API's JSON bodies are small: the largest
# legitimate ones are a credential to verify (up to 65,536 characters) and a program
# (a 20,000-character description plus its badge's texts: ~115 KB if every character
# takes four bytes). Stripe's webhook events are well under 512 KiB; payments refuses a
# payload over 1 MiB in any case (HandleProviderWebhookRequest.payload).
DEFAULT_MAX_REQUEST_BYTES = 128 * 1024
DEFAULT_MAX_WEBHOOK_BYTES = 512 * 1024
MIN_BODY_CAP_BYTES = 1024
MAX_WEBHOOK_PAYLOAD_BYTES = 1024 * 1024
MIN_SESSION_SECRET_CHARS = 32
DEFAULT_OIDC_SCOPES = "openid email profile"


@dataclass(frozen=True)
class OidcClientSettings:
    """The gateway as an OpenID Connect relying party (AUTH_MODE=oidc)."""

    client_id: str
    client_secret: str
    # Where the gateway reads the provider's metadata. Usually the issuer's own
    # `/.well-known/openid-configuration`; in docker compose the gateway reaches the
    # provider by its container name while browsers use the public issuer URL.
    discovery_url: str
    scopes: str
    # Signs the session cookie (state, nonce and PKCE verifier during sign-in, then the
    # access token): anyone holding it could forge sessions.
    session_secret: str

    @classmethod
    def from_env(cls, issuer: str) -> OidcClientSettings:
        secret = settings.required(
            "SESSION_SECRET", "signs the session cookie; generate one with `openssl rand -hex 32`"
        )
        if len(secret) < MIN_SESSION_SECRET_CHARS:
            raise settings.ConfigError(
                f"setting SESSION_SECRET must be at least {MIN_SESSION_SECRET_CHARS} characters"
                " (`openssl rand -hex 32`)"
            )
        scopes = settings.optional("OIDC_SCOPES", DEFAULT_OIDC_SCOPES)
        if "openid" not in scopes.split():
            raise settings.ConfigError("setting OIDC_SCOPES must include openid")
        return cls(
            client_id=settings.required("OIDC_CLIENT_ID", "the gateway's client id at the issuer"),
            client_secret=settings.required(
                "OIDC_CLIENT_SECRET", "the gateway's client secret at the issuer"
            ),
            discovery_url=settings.optional(
                "OIDC_DISCOVERY_URL", issuer.rstrip("/") + "/.well-known/openid-configuration"
            ),
            scopes=scopes,
            session_secret=secret,
        )


@dataclass(frozen=True)
class GatewaySettings:
    listen_host: str
    listen_port: int
    catalog_addr: str
    enrollment_addr: str
    payments_addr: str
    credentials_addr: str
    auth: AuthSettings
    public_base_url: str
    log_level: str = "INFO"
    # One log line per request (uvicorn's access line); off by default.
    access_log: bool = False
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_webhook_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES
    # Sign-in through the OpenID provider; None in dev mode.
    oidc: OidcClientSettings | None = None

    @property
    def dev_mode(self) -> bool:
        """Dev tokens (and the storefront's sign-in form) exist only in AUTH_MODE=dev."""
        return self.auth.mode == "dev"

    @property
    def peers(self) -> dict[str, str]:
        """The four services by name, as /readyz reports them."""
        return {
            "catalog": self.catalog_addr,
            "enrollment": self.enrollment_addr,
            "payments": self.payments_addr,
            "credentials": self.credentials_addr,
        }

    @classmethod
    def from_env(cls) -> GatewaySettings:
        host, port = parse_listen_addr(settings.optional("LISTEN_ADDR", DEFAULT_LISTEN_ADDR))
        peers = {
            name: settings.required(name, "host:port of the service")
            for name in ("CATALOG_ADDR", "ENROLLMENT_ADDR", "PAYMENTS_ADDR", "CREDENTIALS_ADDR")
        }
        public_host = "localhost" if host in ("0.0.0.0", "::", "") else host
        auth = AuthSettings.from_env()
        oidc = None
        public_base_url = f"http://{public_host}:{port}"
        if auth.mode == "oidc":
            oidc = OidcClientSettings.from_env(auth.issuer)
            # The provider sends browsers back to it: a guess would break sign-in.
            public_base_url = settings.required(
                "PUBLIC_BASE_URL", "the public origin people use, e.g. https://upskill.example"
            )
        return cls(
            listen_host=host,
            listen_port=port,
            catalog_addr=peers["CATALOG_ADDR"],
            enrollment_addr=peers["ENROLLMENT_ADDR"],
            payments_addr=peers["PAYMENTS_ADDR"],
            credentials_addr=peers["CREDENTIALS_ADDR"],
            auth=auth,
            public_base_url=settings.optional("PUBLIC_BASE_URL", public_base_url).rstrip("/"),
            log_level=settings.optional("LOG_LEVEL", "INFO").upper(),
            access_log=settings.choice("ACCESS_LOG", "false", ("true", "false")) == "true",
            max_request_bytes=_body_cap("MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES),
            max_webhook_bytes=_body_cap(
                "MAX_WEBHOOK_BYTES", DEFAULT_MAX_WEBHOOK_BYTES, maximum=MAX_WEBHOOK_PAYLOAD_BYTES
            ),
            oidc=oidc,
        )


def _body_cap(name: str, default: int, *, maximum: int | None = None) -> int:
    value = settings.integer(name, default, minimum=MIN_BODY_CAP_BYTES)
    if maximum is not None and value > maximum:
        raise settings.ConfigError(f"setting {name} must be <= {maximum}, got {value}")
    return value


def parse_listen_addr(value: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' into (host, port); ValueError naming LISTEN_ADDR otherwise."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"setting LISTEN_ADDR must be host:port, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port_text)
