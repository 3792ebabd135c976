"""The demo journey over the public HTTP API, then the credential checked the way an
employer would: signature against /.well-known/jwks.json with an independent JOSE
library (PyJWT), and the Open Badges 3.0 shape (tests/e2e/test_open_badges.py checks it
against the official schema, a kid resolved over HTTP and an OB 3.0 library)."""

from __future__ import annotations

import httpx
import jwt
import pytest

from services.devstack.demo import JourneyResult, run_journey
from services.devstack.stack import Stack


@pytest.fixture(scope="module")
def journey(stack: Stack) -> JourneyResult:
    return run_journey(stack.gateway_url, say=lambda _: None)


def test_paid_completed_enrollment_ends_with_a_verified_credential(journey: JourneyResult) -> None:
    assert journey.verification["verified"] is True
    assert journey.verification["status"] == "VALID"
    assert [c["name"] for c in journey.verification["checks"] if not c["passed"]] == []


def test_signature_verifies_against_the_published_jwks(
    stack: Stack, journey: JourneyResult
) -> None:
    jwks = httpx.get(f"{stack.gateway_url}/.well-known/jwks.json", timeout=10).json()
    kid = jwt.get_unverified_header(journey.jwt)["kid"]
    [jwk] = [k for k in jwks["keys"] if k["kid"] == kid]
    key = jwt.PyJWK(jwk, algorithm="ES256").key
    claims = jwt.decode(journey.jwt, key, algorithms=["ES256"])
    assert claims["jti"] == f"urn:uuid:{journey.credential_id}"
    header, payload, signature = journey.jwt.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, key, algorithms=["ES256"])


def test_credential_has_the_open_badges_3_fields(journey: JourneyResult) -> None:
    vc = journey.claims  # the OB 3.0 / VCDM 2.0 JWT: the payload is the credential
    assert "vc" not in vc
    assert vc["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert any("purl.imsglobal.org/spec/ob/v3p0/context" in c for c in vc["@context"])
    assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert vc["issuer"]["id"].endswith(f"/issuers/{journey.provider_id}")
    assert "Profile" in vc["issuer"]["type"]
    assert vc["validFrom"].endswith("Z")
    achievement = vc["credentialSubject"]["achievement"]
    assert "Achievement" in achievement["type"]
    assert achievement["name"]
    assert achievement["description"]
    assert achievement["criteria"]["narrative"]
    assert vc["credentialStatus"]["type"] == "BitstringStatusListEntry"


def test_the_enrollment_and_credential_agree(stack: Stack, journey: JourneyResult) -> None:
    learner = {"authorization": f"Bearer {journey.tokens['learner']}"}
    enrollment = httpx.get(
        f"{stack.gateway_url}/api/v1/enrollments/{journey.enrollment_id}",
        headers=learner,
        timeout=10,
    ).json()
    assert enrollment["status"] == "COMPLETED"
    assert enrollment["credential_id"] == journey.credential_id
    assert enrollment["price"] == {"amount_minor": 4900, "currency": "USD"}
    credential = httpx.get(
        f"{stack.gateway_url}/api/v1/credentials/{journey.credential_id}", timeout=10
    ).json()
    assert credential["status"] == "ISSUED"
    assert credential["enrollment_id"] == journey.enrollment_id


def test_another_learner_cannot_see_the_enrollment(stack: Stack, journey: JourneyResult) -> None:
    token = httpx.post(
        f"{stack.gateway_url}/api/v1/dev/tokens",
        json={"role": "learner", "sub": "mallory"},
        timeout=10,
    ).json()["token"]
    response = httpx.get(
        f"{stack.gateway_url}/api/v1/enrollments/{journey.enrollment_id}",
        headers={"authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
