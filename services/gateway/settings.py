"""The gateway's settings, read once from the environment (12-factor, fail fast by name)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common import settings
from services.common.auth import AuthSettings

DEFAULT_LISTEN_ADDR = "0.0.0.0:8080"


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
        )


def parse_listen_addr(value: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' into (host, port); ValueError naming LISTEN_ADDR otherwise."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"setting LISTEN_ADDR must be host:port, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port_text)
