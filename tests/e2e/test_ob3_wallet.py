"""A wallet connects to the Open Badges 3.0 API the way OB 3.0 section 6 describes, against
a real, certified authorization server (panva's `oidc-provider`, the identity provider the
whole stack trusts in AUTH_MODE=oidc): it reads our discovery document, registers itself
dynamically at the registration URL it names (RFC 7591), sends the learner to the
authorization URL (authorization code with PKCE), exchanges the code at the token URL, and
pulls the learner's credentials with the scoped access token. Nothing here is signed by the
test: every token is the provider's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.devstack.stack import Stack
from tests.oidc.browserless import sign_in_at_provider
from tests.oidc.fixtures import bearer
from tests.oidc.server import OidcProvider
from tests.polling import eventually

pytestmark = pytest.mark.slow

OB3 = "/ims/ob/v3p0"
CREDENTIAL_READONLY = "https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.readonly"
PROFILE_READONLY = "https://purl.imsglobal.org/spec/ob/v3p0/scope/profile.readonly"
WALLET_REDIRECT = "https://wallet.example/callback"
LEARNER = "pat"  # an account of the test provider (tests/oidc/server.py)


@pytest.fixture(scope="module")
def earned(oidc_stack: Stack, provider: OidcProvider, staffed: dict[str, str]) -> str:
    """The learner holds one credential: a free program that issues on enrollment."""
    api = oidc_stack.gateway_url + "/api/v1"
    olga = bearer(provider, "olga") | {"x-upskill-provider": staffed["provider_id"]}
    created = httpx.post(
        f"{api}/programs",
        json={
            "title": "Wallet-ready badge",
            "price": {"amount_minor": 0, "currency": "USD"},
            "credential": {
                "name": "Wallet Ready",
                "description": "Shows up in wallets",
                "criteria": "Enroll",
                "issuance": "ON_PAYMENT",
            },
        },
        headers=olga,
    )
    assert created.status_code == 201, created.text
    program_id = created.json()["id"]
    httpx.post(f"{api}/programs/{program_id}/publish", headers=olga).raise_for_status()
    learner = bearer(provider, LEARNER)
    enrolled = httpx.post(f"{api}/enrollments", json={"program_id": program_id}, headers=learner)
    assert enrolled.status_code == 201, enrolled.text

    def credentials() -> list[dict[str, Any]]:
        answer = httpx.get(f"{api}/credentials", headers=learner)
        listing: list[dict[str, Any]] = answer.json()["credentials"]
        return listing

    found = eventually(credentials, until=lambda c: len(c) == 1, what="the learner's credential")
    credential_id: str = found[0]["id"]
    return credential_id


@pytest.fixture(scope="module")
def scheme(oidc_stack: Stack) -> dict[str, Any]:
    document = httpx.get(f"{oidc_stack.gateway_url}{OB3}/discovery")
    assert document.status_code == 200, document.text
    found: dict[str, Any] = document.json()["components"]["securitySchemes"]["OAuth2ACG"]
    return found


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, trust_env=False) as client:
        yield client


def _register(scheme: dict[str, Any], scope: str) -> str:
    registered = httpx.post(
        scheme["x-imssf-registrationUrl"],
        json={
            "client_name": "A wallet",
            "redirect_uris": [WALLET_REDIRECT],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",  # a public client: PKCE protects the code
            "scope": scope,
        },
    )
    assert registered.status_code == 201, registered.text
    client_id: str = registered.json()["client_id"]
    return client_id


def _authorize(browser: httpx.Client, scheme: dict[str, Any], scope: str) -> str:
    """The whole authorization-code dance; returns the access token."""
    flow = scheme["flows"]["authorizationCode"]
    client_id = _register(scheme, scope)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(16)
    start = browser.get(
        flow["authorizationUrl"],
        params={
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": WALLET_REDIRECT,
            "scope": scope,
            "state": state,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        },
    )
    back = sign_in_at_provider(browser, start, LEARNER, stop_at=WALLET_REDIRECT)
    assert back.is_redirect, back.text[:500]
    query = parse_qs(urlsplit(back.headers["location"]).query)
    assert query["state"] == [state]
    token = httpx.post(
        flow["tokenUrl"],
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": WALLET_REDIRECT,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    access: str = token.json()["access_token"]
    return access


def test_discovery_names_the_identity_providers_endpoints(
    scheme: dict[str, Any], provider: OidcProvider
) -> None:
    issuer_metadata = httpx.get(f"{provider.issuer}/.well-known/openid-configuration").json()
    flow = scheme["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == issuer_metadata["authorization_endpoint"]
    assert flow["tokenUrl"] == issuer_metadata["token_endpoint"]
    assert scheme["x-imssf-registrationUrl"] == issuer_metadata["registration_endpoint"]
    assert set(flow["scopes"]) == {CREDENTIAL_READONLY, PROFILE_READONLY}


def test_a_wallet_pulls_the_learners_credentials(
    oidc_stack: Stack, scheme: dict[str, Any], earned: str, browser: httpx.Client
) -> None:
    access = _authorize(browser, scheme, f"openid {CREDENTIAL_READONLY}")

    answer = httpx.get(
        f"{oidc_stack.gateway_url}{OB3}/credentials",
        headers={"authorization": f"Bearer {access}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-total-count"] == "1"
    (jws,) = answer.json()["compactJwsString"]
    verified = httpx.post(
        f"{oidc_stack.gateway_url}/api/v1/credentials/verify", json={"credential": jws}
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified"] is True
    payload = json.loads(base64.urlsafe_b64decode(jws.split(".")[1] + "=="))
    assert earned in payload["id"]


def test_the_token_grants_only_the_scopes_the_learner_consented_to(
    oidc_stack: Stack, scheme: dict[str, Any], earned: str, browser: httpx.Client
) -> None:
    access = _authorize(browser, scheme, f"openid {PROFILE_READONLY}")
    headers = {"authorization": f"Bearer {access}"}

    profile = httpx.get(f"{oidc_stack.gateway_url}{OB3}/profile", headers=headers)
    assert profile.status_code == 200, profile.text
    refused = httpx.get(f"{oidc_stack.gateway_url}{OB3}/credentials", headers=headers)
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert CREDENTIAL_READONLY in refused.headers["www-authenticate"]


def test_a_code_is_bound_to_its_pkce_verifier(
    scheme: dict[str, Any], earned: str, browser: httpx.Client
) -> None:
    """A stolen code is worthless without the wallet's verifier (the provider enforces it;
    this proves our discovery sends wallets to a server that does)."""
    flow = scheme["flows"]["authorizationCode"]
    client_id = _register(scheme, f"openid {CREDENTIAL_READONLY}")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    start = browser.get(
        flow["authorizationUrl"],
        params={
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": WALLET_REDIRECT,
            "scope": f"openid {CREDENTIAL_READONLY}",
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        },
    )
    back = sign_in_at_provider(browser, start, LEARNER, stop_at=WALLET_REDIRECT)
    code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    stolen = httpx.post(
        flow["tokenUrl"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": WALLET_REDIRECT,
            "client_id": client_id,
            "code_verifier": secrets.token_urlsafe(48),
        },
    )
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_grant"
