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
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_webhook_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES

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
        return cls(
            listen_host=host,
            listen_port=port,
            catalog_addr=peers["CATALOG_ADDR"],
            enrollment_addr=peers["ENROLLMENT_ADDR"],
            payments_addr=peers["PAYMENTS_ADDR"],
            credentials_addr=peers["CREDENTIALS_ADDR"],
            auth=AuthSettings.from_env(),
            public_base_url=settings.optional(
                "PUBLIC_BASE_URL", f"http://{public_host}:{port}"
            ).rstrip("/"),
            log_level=settings.optional("LOG_LEVEL", "INFO").upper(),
            max_request_bytes=_body_cap("MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES),
            max_webhook_bytes=_body_cap(
                "MAX_WEBHOOK_BYTES", DEFAULT_MAX_WEBHOOK_BYTES, maximum=MAX_WEBHOOK_PAYLOAD_BYTES
            ),
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
