"""Start the real OpenID provider (tests/oidc/provider.mjs, panva's certified
`oidc-provider` on Node) for a test session, and mint the tokens a hostile client would
send with the same signing key (expired, for another audience, from another issuer).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from joserfc.jwk import RSAKey

from services.devstack.embedded import free_port
from tests.polling import eventually

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("provider.mjs")
AUDIENCE = "urn:upskill:api"
ADMIN_GROUP = "upskill-admins"
GATEWAY_CLIENT_ID = "upskill-gateway"
API_CLIENT_ID = "acme-integration"
SERVICES_CLIENT_ID = "upskill-services"
OB3_SCOPES = (
    "https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.readonly",
    "https://purl.imsglobal.org/spec/ob/v3p0/scope/profile.readonly",
)

ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice": {"email": "alice@example.test", "name": "Alice Learner", "groups": []},
    "olga": {"email": "olga@example.test", "name": "Olga Owner", "groups": []},
    "pat": {"email": "pat@example.test", "name": "Pat Staff", "groups": ["staff"]},
    "root": {"email": "root@example.test", "name": "Ada Admin", "groups": [ADMIN_GROUP]},
}


def require_node() -> None:
    """The login tests are part of `make test`: a missing Node is a failure, not a skip."""
    if shutil.which("node") is None:
        raise RuntimeError("the login tests need Node.js on the PATH")
    if not (ROOT / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("oidc-provider is not installed: run `make node_modules/.installed`")


@dataclass
class OidcProvider:
    """One running provider: `issuer`, the clients' secrets, and `sign` for forged tokens."""

    workdir: Path
    gateway_redirect_uri: str
    post_logout_redirect_uri: str
    port: int = field(default_factory=free_port)
    gateway_secret: str = field(default_factory=lambda: uuid.uuid4().hex * 2)
    api_secret: str = field(default_factory=lambda: uuid.uuid4().hex * 2)
    services_secret: str = field(default_factory=lambda: uuid.uuid4().hex * 2)
    # The gateway's SESSION_SECRET: a test that holds it can forge what a thief cannot.
    session_secret: str = field(default_factory=lambda: uuid.uuid4().hex * 2)
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, {"kid": f"k-{uuid.uuid4().hex[:8]}"})
    )
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    def start(self) -> None:
        require_node()
        config = {
            "port": self.port,
            "issuer": self.issuer,
            "audience": AUDIENCE,
            "jwks": {"keys": [{**self.key.as_dict(private=True), "use": "sig", "alg": "RS256"}]},
            "accounts": ACCOUNTS,
            # What a wallet may ask of our API (the OB 3.0 API's scopes).
            "api_scopes": list(OB3_SCOPES),
            # Long enough for the services' own token to outlast the test module.
            "access_token_ttl_seconds": 3600,
            "clients": [
                {
                    "client_id": GATEWAY_CLIENT_ID,
                    "client_secret": self.gateway_secret,
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                    "redirect_uris": [self.gateway_redirect_uri],
                    "post_logout_redirect_uris": [self.post_logout_redirect_uri],
                    "token_endpoint_auth_method": "client_secret_basic",
                },
                {
                    # A provider's own integration: machine-to-machine, no user.
                    "client_id": API_CLIENT_ID,
                    "client_secret": self.api_secret,
                    "grant_types": ["client_credentials"],
                    "response_types": [],
                    "redirect_uris": [],
                    "token_endpoint_auth_method": "client_secret_basic",
                },
                {
                    # Our services' own identity for service-to-service calls.
                    "client_id": SERVICES_CLIENT_ID,
                    "client_secret": self.services_secret,
                    "grant_types": ["client_credentials"],
                    "response_types": [],
                    "redirect_uris": [],
                    "token_endpoint_auth_method": "client_secret_basic",
                },
            ],
        }
        path = self.workdir / "oidc-provider.json"
        path.write_text(json.dumps(config))
        log = (self.workdir / "oidc-provider.log").open("wb")
        self._proc = subprocess.Popen(
            ["node", str(SCRIPT), str(path)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        eventually(
            self._discovery_served,
            ignoring=(httpx.TransportError,),
            what=f"the OpenID provider at {self.issuer} (log: {log.name})",
        )

    def _discovery_served(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(f"the OpenID provider exited with {self._proc.returncode}")
        response = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2)
        return response.status_code == 200

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def client_credentials_token(self, client_id: str = API_CLIENT_ID) -> str:
        """An access token for a machine client, from the provider's token endpoint."""
        secret = self.services_secret if client_id == SERVICES_CLIENT_ID else self.api_secret
        response = httpx.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials"},  # its default resource: our API
            auth=(client_id, secret),
            timeout=10,
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def stack_env(self) -> dict[str, str]:
        """What the processes of a stack in oidc mode read to trust this provider (the
        services ignore the gateway's OIDC_* and SESSION_SECRET)."""
        return {
            "AUTH_MODE": "oidc",
            "AUTH_ISSUER": self.issuer,
            "AUTH_JWKS_URL": self.jwks_url,
            "AUTH_AUDIENCE": AUDIENCE,
            "AUTH_ADMIN_CLAIM": "groups",
            "AUTH_ADMIN_VALUE": ADMIN_GROUP,
            "AUTH_SERVICE_CLIENT_ID": SERVICES_CLIENT_ID,
            # Every process fetches and renews its own service token (client credentials).
            "AUTH_SERVICE_CLIENT_SECRET": self.services_secret,
            "AUTH_TOKEN_URL": f"{self.issuer}/token",
            "OIDC_CLIENT_ID": GATEWAY_CLIENT_ID,
            "OIDC_CLIENT_SECRET": self.gateway_secret,
            "SESSION_SECRET": self.session_secret,
        }

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        """A token signed with the provider's own key: what only a forger or a bug makes."""
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "alice",
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        return jwt.encode(
            payload,
            self.key.as_pem(private=True),
            algorithm="RS256",
            headers={"kid": kid or self.key.kid or ""},
        )
