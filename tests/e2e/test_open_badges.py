"""A credential issued by the running system, checked the way an outside Open Badges 3.0
verifier does it, from public URLs alone: the JOSE rules of 1EdTech's validator (alg ES256 or
RS256, a kid that is an absolute URL returning one JWK), signature checks with JOSE libraries
we do not sign with (PyJWT, jwcrypto) reading only the key the kid resolves to over HTTP,
the official OB 3.0 JSON Schema, an independent OB 3.0 library (openbadgeslib), and
revocation through the status list's randomly placed bit."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jwt
import pytest
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws
from openbadgeslib.ob3.verifier import OB3VerificationError, OB3Verifier

from services.credentials.status_list import decode_list, is_set
from services.devstack.demo import JourneyResult, run_journey
from services.devstack.stack import Stack
from tests.standards import ACHIEVEMENT_ONLY_PATHS, describe, schema_errors

VALIDATOR_ALGS = ("ES256", "RS256")  # what 1EdTech's validator accepts


@pytest.fixture(scope="module")
def journey(stack: Stack) -> JourneyResult:
    return run_journey(stack.gateway_url, say=lambda _: None)


def fetch(url: str, **headers: str) -> httpx.Response:
    response = httpx.get(url, headers=headers, timeout=10)
    response.raise_for_status()
    return response


def resolved_key(token: str) -> dict[str, Any]:
    """Dereference the JOSE kid as a verifier does: one HTTP GET, one JWK back."""
    kid = jwt.get_unverified_header(token)["kid"]
    response = fetch(kid)
    assert response.headers["content-type"].startswith("application/jwk+json")
    key = response.json()
    assert "keys" not in key  # one JWK, not a set
    assert "d" not in key  # never a private part
    return key


def status_list_token(stack: Stack, journey: JourneyResult) -> str:
    url = journey.claims["credentialStatus"]["statusListCredential"]
    assert url.startswith(stack.gateway_url)
    response = fetch(url)
    assert response.headers["content-type"].startswith("application/vc+jwt")
    return response.text


def payload(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_the_jose_header_follows_the_validators_rules(stack: Stack, journey: JourneyResult) -> None:
    header = jwt.get_unverified_header(journey.jwt)

    assert header["alg"] in VALIDATOR_ALGS
    assert header["alg"] == "ES256"  # the default key type
    assert header["typ"] == "JWT"  # OB 3.0: "If present, MUST be set to JWT"
    assert set(header) == {"alg", "kid", "typ"}  # OB 3.0: no other JOSE headers
    assert header["kid"].startswith(f"{stack.gateway_url}/keys/")
    assert resolved_key(journey.jwt)["kid"] == header["kid"]


def test_pyjwt_verifies_with_only_the_key_the_kid_resolves_to(journey: JourneyResult) -> None:
    key = jwt.PyJWK(resolved_key(journey.jwt))

    claims = jwt.decode(journey.jwt, key.key, algorithms=list(VALIDATOR_ALGS))

    assert claims["jti"] == f"urn:uuid:{journey.credential_id}"
    assert claims["iss"] == claims["issuer"]["id"]
    assert claims["sub"] == claims["credentialSubject"]["id"]
    assert "vc" not in claims  # VC-JOSE-COSE: the vc claim MUST NOT be present


def test_jwcrypto_verifies_with_only_the_key_the_kid_resolves_to(
    journey: JourneyResult,
) -> None:
    key = jwcrypto_jwk.JWK(**resolved_key(journey.jwt))
    token = jwcrypto_jws.JWS()
    token.deserialize(journey.jwt)

    token.verify(key, alg="ES256")

    assert json.loads(token.payload)["id"] == f"urn:uuid:{journey.credential_id}"
    header, body, signature = journey.jwt.split(".")
    tampered = jwcrypto_jws.JWS()
    tampered.deserialize(f"{header}.{body[:-2]}AA.{signature}")
    with pytest.raises(jwcrypto_jws.InvalidJWSSignature):
        tampered.verify(key, alg="ES256")


def test_the_live_credential_passes_the_official_ob3_schema(journey: JourneyResult) -> None:
    assert describe(schema_errors(payload(journey.jwt))) == []


def test_the_live_status_list_is_secured_and_fits_the_schema_where_a_list_can(
    stack: Stack, journey: JourneyResult
) -> None:
    token = status_list_token(stack, journey)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, jwt.PyJWK(resolved_key(token)).key, algorithms=[header["alg"]])

    assert header["alg"] in VALIDATOR_ALGS
    assert claims["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert claims["issuer"]["id"] == journey.claims["issuer"]["id"]
    errors = schema_errors(claims)
    assert {str(e.absolute_path[0]) for e in errors} <= ACHIEVEMENT_ONLY_PATHS, describe(errors)


@pytest.mark.parametrize("accept", ["application/json", "application/vc+ld+json", "*/*"])
def test_the_status_list_is_never_served_unsigned(
    stack: Stack, journey: JourneyResult, accept: str
) -> None:
    url = journey.claims["credentialStatus"]["statusListCredential"]

    response = fetch(url, accept=accept)

    assert response.headers["content-type"].startswith("application/vc+jwt")
    assert response.text.count(".") == 2


def test_an_unknown_key_url_is_a_404_problem(stack: Stack) -> None:
    response = httpx.get(f"{stack.gateway_url}/keys/nope", timeout=10)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_an_independent_ob3_library_verifies_the_credential_and_its_status(
    journey: JourneyResult,
) -> None:
    # openbadgeslib: an OB 3.0 verifier from PyPI (PyJWT underneath). It takes the key we
    # resolve from kid, checks the VC-JWT claims and fetches and verifies the status list.
    verifier = OB3Verifier(jwt.PyJWK(resolved_key(journey.jwt)).key)

    credential = verifier.verify(
        journey.jwt,
        check_status=True,
        verify_status_list=True,
        download=lambda url: fetch(url).content,
    )

    assert credential.id == f"urn:uuid:{journey.credential_id}"


def test_revocation_shows_through_the_randomly_placed_bit(
    stack: Stack, journey: JourneyResult
) -> None:
    # Last in this module: it revokes the module's credential.
    index = int(journey.claims["credentialStatus"]["statusListIndex"])
    before = decode_list(
        payload(status_list_token(stack, journey))["credentialSubject"]["encodedList"]
    )
    assert not is_set(before, index)

    response = httpx.post(
        f"{stack.gateway_url}/api/v1/credentials/{journey.credential_id}/revoke",
        json={"reason": "issued in error"},
        headers={"authorization": f"Bearer {journey.tokens['provider']}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text

    after = decode_list(
        payload(status_list_token(stack, journey))["credentialSubject"]["encodedList"]
    )
    assert is_set(after, index)
    changed = [
        i for i in range(len(after) * 8) if (after[i // 8] ^ before[i // 8]) & (0x80 >> i % 8)
    ]
    assert changed == [index]  # that one bit, nowhere else
    verdict = httpx.post(
        f"{stack.gateway_url}/api/v1/credentials/verify",
        json={"credential": journey.jwt},
        timeout=10,
    ).json()
    assert verdict["status"] == "REVOKED"
    assert verdict["verified"] is False
    verifier = OB3Verifier(jwt.PyJWK(resolved_key(journey.jwt)).key)
    with pytest.raises(OB3VerificationError, match=f"revocation.* is set at index {index} "):
        verifier.verify(
            journey.jwt,
            check_status=True,
            verify_status_list=True,
            download=lambda url: fetch(url).content,
        )
