"""OIDC mode: tokens are verified against the issuer's JWKS, fetched over HTTP, with
issuer and audience enforced; dev-mode HS256 tokens are refused there."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from services.common.auth import AUDIENCE, AuthSettings, Role, TokenVerifier, mint_dev_token
from services.common.errors import UnauthenticatedError

ISSUER = "https://login.example"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks() -> bytes:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    return json.dumps({"keys": [public | {"kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = jwks()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


def issued(**overrides: object) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "role": "learner",
        "email": "alice@example.com",
        "iat": now,
        "exp": now + 300,
    } | overrides
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def verifier(jwks_url: str) -> TokenVerifier:
    return TokenVerifier(AuthSettings("oidc", "", jwks_url, ISSUER, "svc-token"))


def test_a_token_from_the_issuer_becomes_a_principal(verifier: TokenVerifier) -> None:
    principal = verifier.verify(issued())
    assert (principal.subject, principal.role, principal.email) == (
        "alice",
        Role.LEARNER,
        "alice@example.com",
    )


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(issued(iss="https://evil.example"), id="other issuer"),
        pytest.param(issued(aud="someone-else"), id="other audience"),
        pytest.param(issued(exp=int(time.time()) - 10), id="expired"),
        pytest.param(issued(role="superuser"), id="unknown role"),
        pytest.param(issued(role="provider"), id="provider without provider_id"),
        pytest.param(mint_dev_token("s" * 40, role="admin", subject="x"), id="dev HS256 token"),
    ],
)
def test_tokens_the_issuer_did_not_vouch_for_are_refused(
    verifier: TokenVerifier, token: str
) -> None:
    with pytest.raises(UnauthenticatedError):
        verifier.verify(token)


def test_services_present_the_configured_token_in_oidc_mode(verifier: TokenVerifier) -> None:
    assert verifier.service_token("enrollment") == "svc-token"
