import base64
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.credentials.badges import Issuance, build_credential, sign_credential
from services.credentials.keys import IssuerKey
from services.credentials.verification import (
    MAX_TOKEN_LENGTH,
    Check,
    Verification,
    VerificationStatus,
    apply_revocation,
    verify_jwt,
)

S = VerificationStatus
BASE = "https://upskill.example"
ISSUED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
DURING = ISSUED + timedelta(days=10)
ALL_STEPS = ["format", "key", "signature", "structure", "validity"]

# Module-level so hypothesis examples reuse them instead of generating keys per example.
KEY = IssuerKey.generate()
OTHER_KEY = IssuerKey.generate()


def make_issuance(**changes: Any) -> Issuance:
    issuance = Issuance(
        credential_id="6c1f7a52-8f44-4c56-9f7b-0d3c1c2b9e11",
        learner_id="learner-1",
        learner_email="learner@example.com",
        provider_id="prov-1",
        provider_name="Acme Academy",
        program_id="prog-1",
        achievement_name="Applied Statistics",
        achievement_description="Uses statistics on real data.",
        criteria="Passed the final project.",
        skills=["Statistics"],
        issued_at=ISSUED,
        valid_for_days=30,
        status_list_url=f"{BASE}/status-lists/1",
        status_index=3,
        base_url=BASE,
    )
    return dataclasses.replace(issuance, **changes)


def issue(key: IssuerKey = KEY, **changes: Any) -> str:
    return sign_credential(build_credential(make_issuance(**changes)), key)


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(segment: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def signed_claims(claims: dict[str, Any], key: IssuerKey = KEY) -> str:
    """A correctly signed token around arbitrary claims, to test the checks after the
    signature."""
    signing_input = f"{b64({'alg': 'EdDSA', 'kid': key.kid, 'typ': 'JWT'})}.{b64(claims)}"
    signature = key.private_key.sign(signing_input.encode())
    return f"{signing_input}.{b64(signature)}"


def valid_claims() -> dict[str, Any]:
    return unb64(issue().split(".")[1])


def failed(v: Verification) -> Check:
    assert v.checks, "a verification always records at least one check"
    last = v.checks[-1]
    assert not last.passed
    assert all(check.passed for check in v.checks[:-1])
    return last


# --- the happy path ---------------------------------------------------------------


def test_signed_credential_verifies():
    credential = build_credential(make_issuance())
    token = sign_credential(credential, KEY)

    v = verify_jwt(token, [KEY.public_jwk()], DURING)

    assert v.status is S.VALID
    assert v.verified
    assert [c.name for c in v.checks] == ALL_STEPS
    assert all(c.passed for c in v.checks)
    assert v.credential == credential
    assert v.claims is not None
    assert v.claims["jti"] == credential["id"]


def test_credential_without_expiry_verifies_far_in_the_future():
    token = issue(valid_for_days=None)

    v = verify_jwt(token, [KEY.public_jwk()], ISSUED + timedelta(days=3650))

    assert v.status is S.VALID
    assert "no expiry" in v.checks[-1].detail


def test_naive_now_is_taken_as_utc():
    v = verify_jwt(issue(), [KEY.public_jwk()], DURING.replace(tzinfo=None))

    assert v.status is S.VALID


# --- keys and rotation --------------------------------------------------------------


def test_credential_signed_with_an_old_key_verifies_after_rotation():
    old_token = issue(KEY)
    new_token = issue(OTHER_KEY)
    jwks = [OTHER_KEY.public_jwk(), KEY.public_jwk()]

    assert verify_jwt(old_token, jwks, DURING).status is S.VALID
    assert verify_jwt(new_token, jwks, DURING).status is S.VALID


def test_unknown_kid_is_unknown_key():
    v = verify_jwt(issue(KEY), [OTHER_KEY.public_jwk()], DURING)

    assert v.status is S.UNKNOWN_KEY
    assert failed(v).name == "key"
    assert KEY.kid in failed(v).detail
    assert v.credential is None


def test_empty_key_set_is_unknown_key():
    assert verify_jwt(issue(), [], DURING).status is S.UNKNOWN_KEY


def test_missing_kid_is_unknown_key():
    _, payload, signature = issue().split(".")
    no_kid = b64({"alg": "EdDSA", "typ": "JWT"})

    v = verify_jwt(f"{no_kid}.{payload}.{signature}", [KEY.public_jwk()], DURING)

    assert v.status is S.UNKNOWN_KEY
    assert "no kid" in failed(v).detail


@pytest.mark.parametrize(
    "entry_changes",
    [{"kty": "EC"}, {"crv": "X25519"}, {"x": "short"}, {"use": "enc"}, {"alg": "ES256"}],
)
def test_a_matching_kid_that_is_not_an_ed25519_signing_key_is_unknown_key(entry_changes):
    entry = {**KEY.public_jwk(), **entry_changes}

    v = verify_jwt(issue(), [entry], DURING)

    assert v.status is S.UNKNOWN_KEY


def test_garbage_entries_in_the_key_set_do_not_hide_the_right_key():
    jwks: list[Any] = ["junk", {"kid": KEY.kid, "kty": "RSA"}, KEY.public_jwk()]

    assert verify_jwt(issue(), jwks, DURING).status is S.VALID


# --- signatures ---------------------------------------------------------------------


def test_tampered_payload_is_invalid_signature():
    header, payload, signature = issue().split(".")
    claims = unb64(payload)
    claims["vc"]["credentialSubject"]["achievement"]["name"] = "Brain Surgery"

    v = verify_jwt(f"{header}.{b64(claims)}.{signature}", [KEY.public_jwk()], DURING)

    assert v.status is S.INVALID_SIGNATURE
    assert failed(v).name == "signature"
    assert v.credential is None
    assert v.claims is None


def test_tampered_signature_is_invalid_signature():
    header, payload, signature = issue().split(".")
    flipped = bytearray(base64.urlsafe_b64decode(signature + "=="))
    flipped[0] ^= 1

    v = verify_jwt(f"{header}.{payload}.{b64(bytes(flipped))}", [KEY.public_jwk()], DURING)

    assert v.status is S.INVALID_SIGNATURE


def test_token_signed_by_another_key_claiming_our_kid_is_invalid_signature():
    forged_header = b64({"alg": "EdDSA", "kid": KEY.kid, "typ": "JWT"})
    payload = issue().split(".")[1]
    signature = OTHER_KEY.private_key.sign(f"{forged_header}.{payload}".encode())

    v = verify_jwt(f"{forged_header}.{payload}.{b64(signature)}", [KEY.public_jwk()], DURING)

    assert v.status is S.INVALID_SIGNATURE


def test_alg_none_is_refused():
    payload = issue().split(".")[1]
    token = f"{b64({'alg': 'none', 'kid': KEY.kid})}.{payload}."

    v = verify_jwt(token, [KEY.public_jwk()], DURING)

    assert v.status is S.INVALID_SIGNATURE
    assert failed(v).name == "format"
    assert "'none' is not accepted" in failed(v).detail
    assert not v.verified


def test_hs256_signed_with_the_public_key_is_refused():
    # Classic algorithm confusion: use the published key bytes as an HMAC secret.
    claims = valid_claims()
    secret = KEY.public_jwk()["x"]
    token = pyjwt.encode(claims, secret, algorithm="HS256", headers={"kid": KEY.kid})

    v = verify_jwt(token, [KEY.public_jwk()], DURING)

    assert v.status is S.INVALID_SIGNATURE
    assert "HS256" in failed(v).detail


def test_critical_header_extensions_are_refused():
    _, payload, signature = issue().split(".")
    header = b64({"alg": "EdDSA", "kid": KEY.kid, "crit": ["b64"], "b64": False})

    v = verify_jwt(f"{header}.{payload}.{signature}", [KEY.public_jwk()], DURING)

    assert v.status is S.MALFORMED


# --- validity window ----------------------------------------------------------------


def test_expired_credential_is_expired():
    v = verify_jwt(issue(), [KEY.public_jwk()], ISSUED + timedelta(days=31))

    assert v.status is S.EXPIRED
    assert failed(v).name == "validity"
    assert "2025-03-31T12:00:00Z" in failed(v).detail
    # The signature held, so the page may still show what was issued.
    assert v.credential is not None


def test_not_yet_valid_credential_is_not_yet_valid():
    v = verify_jwt(issue(), [KEY.public_jwk()], ISSUED - timedelta(hours=1))

    assert v.status is S.NOT_YET_VALID
    assert failed(v).name == "validity"


@pytest.mark.parametrize(
    ("now", "status"),
    [
        (ISSUED - timedelta(seconds=59), S.VALID),
        (ISSUED - timedelta(seconds=61), S.NOT_YET_VALID),
        (ISSUED + timedelta(days=30, seconds=59), S.VALID),
        (ISSUED + timedelta(days=30, seconds=60), S.EXPIRED),
    ],
)
def test_clock_skew_leeway_is_sixty_seconds(now, status):
    assert verify_jwt(issue(), [KEY.public_jwk()], now).status is status


def test_the_narrower_of_the_jwt_and_credential_windows_applies():
    claims = valid_claims()
    claims["exp"] = claims["nbf"] + 86400  # the JWT says one day, the credential 30

    v = verify_jwt(signed_claims(claims), [KEY.public_jwk()], ISSUED + timedelta(days=2))

    assert v.status is S.EXPIRED


# --- structure ----------------------------------------------------------------------


def _mutated(mutate: Any) -> str:
    claims = valid_claims()
    mutate(claims)
    return signed_claims(claims)


@pytest.mark.parametrize(
    ("mutate", "detail"),
    [
        (lambda c: c.pop("vc"), "vc claim"),
        (lambda c: c.update(vc="a string"), "vc claim"),
        (
            lambda c: c["vc"].update({"@context": ["https://www.w3.org/2018/credentials/v1"]}),
            "@context",
        ),
        (lambda c: c["vc"]["@context"].pop(), "Open Badges"),
        (lambda c: c["vc"].update(type=["VerifiableCredential"]), "OpenBadgeCredential"),
        (lambda c: c["vc"].update(issuer={"name": "x"}), "issuer"),
        (lambda c: c["vc"].pop("validFrom"), "validFrom"),
        (lambda c: c["vc"].update(validFrom="2025-03-01T12:00:00"), "validFrom"),
        (lambda c: c["vc"].update(validUntil="soon"), "validUntil"),
        (lambda c: c["vc"]["credentialSubject"].pop("achievement"), "achievement"),
        (lambda c: c.update(iss="https://evil.example/issuers/x"), "iss"),
        (lambda c: c.update(sub="urn:upskill:learner:someone-else"), "sub"),
        (lambda c: c.update(jti="urn:uuid:other"), "jti"),
        (lambda c: c.update(exp="tomorrow"), "exp"),
        (lambda c: c.update(nbf=10**20), "nbf"),
    ],
)
def test_signed_but_malformed_credentials_are_malformed(mutate, detail):
    v = verify_jwt(_mutated(mutate), [KEY.public_jwk()], DURING)

    assert v.status is S.MALFORMED
    assert failed(v).name == "structure"
    assert detail in failed(v).detail


def test_signed_payload_that_is_not_json_is_malformed():
    header = b64({"alg": "EdDSA", "kid": KEY.kid})
    payload = b64(b"\xff not json")
    signature = KEY.private_key.sign(f"{header}.{payload}".encode())

    v = verify_jwt(f"{header}.{payload}.{b64(signature)}", [KEY.public_jwk()], DURING)

    assert v.status is S.MALFORMED


def test_achievement_credential_type_alias_is_accepted():
    claims = valid_claims()
    claims["vc"]["type"] = ["VerifiableCredential", "AchievementCredential"]

    assert verify_jwt(signed_claims(claims), [KEY.public_jwk()], DURING).status is S.VALID


# --- revocation ---------------------------------------------------------------------


def _valid() -> Verification:
    v = verify_jwt(issue(), [KEY.public_jwk()], DURING)
    assert v.status is S.VALID
    return v


def test_not_revoked_stays_valid_with_a_passed_revocation_check():
    v = apply_revocation(_valid(), False)

    assert v.status is S.VALID
    assert v.checks[-1] == Check("revocation", True, "not revoked")


def test_revoked_is_revoked():
    v = apply_revocation(_valid(), True)

    assert v.status is S.REVOKED
    assert not v.verified
    assert v.checks[-1].name == "revocation"
    assert not v.checks[-1].passed


def test_unreadable_status_fails_closed():
    v = apply_revocation(_valid(), None)

    assert v.status is S.STATUS_UNAVAILABLE
    assert not v.verified
    assert not v.checks[-1].passed


def test_applying_revocation_twice_keeps_one_revocation_check():
    v = apply_revocation(apply_revocation(_valid(), None), False)

    assert [c.name for c in v.checks].count("revocation") == 1
    assert v.status is S.STATUS_UNAVAILABLE  # a later "not revoked" cannot undo fail-closed


def test_revocation_outranks_expiry():
    expired = verify_jwt(issue(), [KEY.public_jwk()], ISSUED + timedelta(days=60))

    assert apply_revocation(expired, True).status is S.REVOKED
    assert apply_revocation(expired, None).status is S.EXPIRED
    assert apply_revocation(expired, False).status is S.EXPIRED


def test_revocation_does_not_touch_an_unauthenticated_token():
    bad = verify_jwt(issue(), [OTHER_KEY.public_jwk()], DURING)

    assert apply_revocation(bad, True) == bad
    assert apply_revocation(bad, None) == bad


def test_apply_revocation_leaves_the_input_unchanged():
    v = _valid()
    before = list(v.checks)

    apply_revocation(v, True)

    assert v.checks == before
    assert v.status is S.VALID


# --- garbage in, MALFORMED out ------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "..",
        "a.b",
        "a.b.c.d",
        "not a jwt",
        "eyJ.eyJ.sig",
        f"{b64(b'[1, 2]')}.e30.c2ln",
        f"{b64({'kid': 'x'})}.e30.c2ln",
        f"{b64({'alg': 'EdDSA', 'kid': 'x'})}..c2ln",
        f"{b64({'alg': 'EdDSA', 'kid': 'x'})}.e30.",
        f"{b64({'alg': 'EdDSA', 'kid': 'x'})}.e30.c2l+",
        "x" * (MAX_TOKEN_LENGTH + 1),
        "[" * 10_000,
        f"{b64(b'[' * 5_000)}.e30.c2ln",
    ],
)
def test_garbage_is_malformed(token):
    v = verify_jwt(token, [KEY.public_jwk()], DURING)

    assert v.status is S.MALFORMED
    assert v.checks[-1].name == "format"
    assert v.credential is None


def test_oversized_token_is_refused_before_any_decoding():
    claims = valid_claims()
    claims["padding"] = "x" * MAX_TOKEN_LENGTH

    v = verify_jwt(signed_claims(claims), [KEY.public_jwk()], DURING)

    assert v.status is S.MALFORMED
    assert "longer than" in failed(v).detail


def test_non_string_input_is_malformed():
    v = verify_jwt(None, [KEY.public_jwk()], DURING)  # type: ignore[arg-type]

    assert v.status is S.MALFORMED


@given(st.text(max_size=300))
def test_random_strings_never_raise_and_are_malformed(token):
    v = verify_jwt(token, [KEY.public_jwk()], DURING)

    assert v.status is S.MALFORMED


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


@given(
    header=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "b64"]), _json_values),
    payload=st.dictionaries(st.sampled_from(["vc", "iss", "nbf", "exp", "sub"]), _json_values),
    signature=st.binary(max_size=80),
)
def test_structured_junk_never_raises_and_is_never_valid(header, payload, signature):
    header_b64 = base64.urlsafe_b64encode(json.dumps(header).encode()).decode().rstrip("=")
    token = f"{header_b64}.{b64(payload)}.{b64(signature)}"

    v = verify_jwt(token, [KEY.public_jwk()], DURING)

    assert v.status is not S.VALID
    assert v.status in set(S)


@given(claims=st.dictionaries(st.text(max_size=5), _json_values))
def test_correctly_signed_junk_claims_never_raise_and_are_malformed(claims):
    v = verify_jwt(signed_claims(claims), [KEY.public_jwk()], DURING)

    assert v.status is S.MALFORMED
