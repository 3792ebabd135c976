import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jws

from services.credentials.badges import Issuance, build_credential, key_url, sign_credential
from services.credentials.keys import JWS_REGISTRY, IssuerKey
from services.credentials.verification import (
    MAX_TOKEN_LENGTH,
    Check,
    Verification,
    VerificationStatus,
    apply_revocation,
    verify_jwt,
)
from tests import issuances

S = VerificationStatus
BASE = "https://upskill.example"
ISSUED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
DURING = ISSUED + timedelta(days=10)
ALL_STEPS = ["format", "key", "signature", "structure", "validity"]

# Module-level so hypothesis examples reuse them instead of generating keys per example.
KEY = IssuerKey.generate()
OTHER_KEY = IssuerKey.generate()
RSA_KEY = IssuerKey.generate("RS256")
ED_KEY = IssuerKey.generate("EdDSA")


def make_issuance(**changes: Any) -> Issuance:
    """The shared sample, valid for 30 days from ISSUED (the validity window tests)."""
    return issuances.make_issuance(**{"issued_at": ISSUED, "valid_for_days": 30, **changes})


def issue(key: IssuerKey = KEY, **changes: Any) -> str:
    return sign_credential(build_credential(make_issuance(**changes)), key, BASE)


def verify(token: str, jwks: Any, now: datetime, **options: Any) -> Verification:
    return verify_jwt(token, jwks, now, base_url=BASE, **options)


def sign_raw(header: dict[str, Any], payload: bytes, key: IssuerKey) -> str:
    return jws.serialize_compact(
        header, payload, key.jose_key(), algorithms=[header["alg"]], registry=JWS_REGISTRY
    )


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(segment: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def signed_claims(claims: dict[str, Any], key: IssuerKey = KEY) -> str:
    """A correctly signed token around arbitrary claims, to test the checks after the
    signature."""
    header = {"alg": key.alg, "kid": key_url(BASE, key.kid), "typ": "JWT"}
    return sign_raw(header, json.dumps(claims).encode(), key)


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
    token = sign_credential(credential, KEY, BASE)

    v = verify(token, [KEY.public_jwk()], DURING)

    assert v.status is S.VALID
    assert v.verified
    assert [c.name for c in v.checks] == ALL_STEPS
    assert all(c.passed for c in v.checks)
    assert v.credential == credential
    assert v.claims is not None
    assert v.claims["jti"] == credential["id"]


def test_credential_without_expiry_verifies_far_in_the_future():
    token = issue(valid_for_days=None)

    v = verify(token, [KEY.public_jwk()], ISSUED + timedelta(days=3650))

    assert v.status is S.VALID
    assert "no expiry" in v.checks[-1].detail


def test_naive_now_is_taken_as_utc():
    v = verify(issue(), [KEY.public_jwk()], DURING.replace(tzinfo=None))

    assert v.status is S.VALID


# --- the two token shapes and the three algorithms ----------------------------------


@pytest.mark.parametrize("key", [KEY, RSA_KEY, ED_KEY], ids=["ES256", "RS256", "EdDSA"])
def test_each_issuer_algorithm_verifies(key):
    v = verify(issue(key), [key.public_jwk()], DURING)

    assert v.status is S.VALID
    assert f"{key.alg} signature" in v.checks[2].detail


def test_a_token_from_before_the_flat_format_still_verifies():
    # What we issued before OB 3.0's VCDM 2.0 JWT shape: the credential under "vc",
    # EdDSA, and the bare thumbprint as kid. Built by hand: no code issues it any more.
    credential = build_credential(make_issuance())
    claims = {
        "vc": credential,
        "iss": credential["issuer"]["id"],
        "sub": credential["credentialSubject"]["id"],
        "jti": credential["id"],
        "nbf": int(ISSUED.timestamp()),
        "iat": int(ISSUED.timestamp()),
        "exp": int((ISSUED + timedelta(days=30)).timestamp()),
    }
    token = sign_raw(
        {"alg": "EdDSA", "kid": ED_KEY.kid, "typ": "JWT"}, json.dumps(claims).encode(), ED_KEY
    )

    v = verify(token, [ED_KEY.public_jwk(), KEY.public_jwk()], DURING)

    assert v.status is S.VALID
    assert v.credential == credential


def test_a_kid_url_on_another_host_is_unknown_key():
    header = {"alg": "ES256", "kid": key_url("https://evil.example", KEY.kid), "typ": "JWT"}
    token = sign_raw(header, json.dumps(valid_claims()).encode(), KEY)

    v = verify(token, [KEY.public_jwk()], DURING)

    assert v.status is S.UNKNOWN_KEY
    assert "key URLs" in failed(v).detail


def test_what_a_withdrawn_key_signed_is_unknown_key_even_if_a_key_set_still_lists_it():
    v = verify(issue(), [KEY.public_jwk()], DURING, withdrawn=[KEY.kid])

    assert v.status is S.UNKNOWN_KEY
    assert "withdrew" in failed(v).detail
    assert v.credential is None


def test_the_header_cannot_turn_an_ec_key_into_an_rsa_one():
    header = {"alg": "RS256", "kid": key_url(BASE, KEY.kid), "typ": "JWT"}
    token = sign_raw(header, json.dumps(valid_claims()).encode(), RSA_KEY)

    v = verify(token, [KEY.public_jwk(), RSA_KEY.public_jwk()], DURING)

    assert v.status is S.UNKNOWN_KEY
    assert not v.verified


# --- keys and rotation --------------------------------------------------------------


def test_credential_signed_with_an_old_key_verifies_after_rotation():
    old_token = issue(KEY)
    new_token = issue(OTHER_KEY)
    jwks = [OTHER_KEY.public_jwk(), KEY.public_jwk()]

    assert verify(old_token, jwks, DURING).status is S.VALID
    assert verify(new_token, jwks, DURING).status is S.VALID


def test_unknown_kid_is_unknown_key():
    v = verify(issue(KEY), [OTHER_KEY.public_jwk()], DURING)

    assert v.status is S.UNKNOWN_KEY
    assert failed(v).name == "key"
    assert KEY.kid in failed(v).detail
    assert v.credential is None


def test_empty_key_set_is_unknown_key():
    assert verify(issue(), [], DURING).status is S.UNKNOWN_KEY


def test_missing_kid_is_unknown_key():
    _, payload, signature = issue().split(".")
    no_kid = b64({"alg": KEY.alg, "typ": "JWT"})

    v = verify(f"{no_kid}.{payload}.{signature}", [KEY.public_jwk()], DURING)

    assert v.status is S.UNKNOWN_KEY
    assert "no kid" in failed(v).detail


@pytest.mark.parametrize(
    "entry_changes",
    [{"kty": "OKP"}, {"crv": "P-384"}, {"x": "short"}, {"use": "enc"}, {"alg": "RS256"}],
)
def test_a_matching_kid_that_is_not_a_usable_signing_key_is_unknown_key(entry_changes):
    entry = {**KEY.public_jwk(), **entry_changes}

    v = verify(issue(), [entry], DURING)

    assert v.status is S.UNKNOWN_KEY


def test_garbage_entries_in_the_key_set_do_not_hide_the_right_key():
    jwks: list[Any] = ["junk", {"kid": KEY.kid, "kty": "RSA"}, KEY.public_jwk()]

    assert verify(issue(), jwks, DURING).status is S.VALID


# --- signatures ---------------------------------------------------------------------


def test_tampered_payload_is_invalid_signature():
    header, payload, signature = issue().split(".")
    claims = unb64(payload)
    claims["credentialSubject"]["achievement"]["name"] = "Brain Surgery"

    v = verify(f"{header}.{b64(claims)}.{signature}", [KEY.public_jwk()], DURING)

    assert v.status is S.INVALID_SIGNATURE
    assert failed(v).name == "signature"
    assert v.credential is None
    assert v.claims is None


def test_tampered_signature_is_invalid_signature():
    header, payload, signature = issue().split(".")
    flipped = bytearray(base64.urlsafe_b64decode(signature + "=="))
    flipped[0] ^= 1

    v = verify(f"{header}.{payload}.{b64(bytes(flipped))}", [KEY.public_jwk()], DURING)

    assert v.status is S.INVALID_SIGNATURE


def test_token_signed_by_another_key_claiming_our_kid_is_invalid_signature():
    header = {"alg": "ES256", "kid": key_url(BASE, KEY.kid), "typ": "JWT"}
    forged = sign_raw(header, json.dumps(valid_claims()).encode(), OTHER_KEY)

    v = verify(forged, [KEY.public_jwk()], DURING)

    assert v.status is S.INVALID_SIGNATURE


def test_alg_none_is_refused():
    payload = issue().split(".")[1]
    token = f"{b64({'alg': 'none', 'kid': KEY.kid})}.{payload}."

    v = verify(token, [KEY.public_jwk()], DURING)

    assert v.status is S.INVALID_SIGNATURE
    assert failed(v).name == "format"
    assert "'none' is not accepted" in failed(v).detail
    assert not v.verified


def test_hs256_signed_with_the_public_key_is_refused():
    # Classic algorithm confusion: use the published key bytes as an HMAC secret.
    claims = valid_claims()
    secret = KEY.public_jwk()["x"]
    token = pyjwt.encode(claims, secret, algorithm="HS256", headers={"kid": KEY.kid})

    v = verify(token, [KEY.public_jwk()], DURING)

    assert v.status is S.INVALID_SIGNATURE
    assert "HS256" in failed(v).detail


def test_critical_header_extensions_are_refused():
    _, payload, signature = issue().split(".")
    header = b64({"alg": KEY.alg, "kid": KEY.kid, "crit": ["b64"], "b64": False})

    v = verify(f"{header}.{payload}.{signature}", [KEY.public_jwk()], DURING)

    assert v.status is S.MALFORMED


# --- validity window ----------------------------------------------------------------


def test_expired_credential_is_expired():
    v = verify(issue(), [KEY.public_jwk()], ISSUED + timedelta(days=31))

    assert v.status is S.EXPIRED
    assert failed(v).name == "validity"
    assert "2025-03-31T12:00:00Z" in failed(v).detail
    # The signature held, so the page may still show what was issued.
    assert v.credential is not None


def test_not_yet_valid_credential_is_not_yet_valid():
    v = verify(issue(), [KEY.public_jwk()], ISSUED - timedelta(hours=1))

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
    assert verify(issue(), [KEY.public_jwk()], now).status is status


def test_the_narrower_of_the_jwt_and_credential_windows_applies():
    claims = valid_claims()
    claims["exp"] = claims["nbf"] + 86400  # the JWT says one day, the credential 30

    v = verify(signed_claims(claims), [KEY.public_jwk()], ISSUED + timedelta(days=2))

    assert v.status is S.EXPIRED


# --- structure ----------------------------------------------------------------------


def _mutated(mutate: Any) -> str:
    claims = valid_claims()
    mutate(claims)
    return signed_claims(claims)


@pytest.mark.parametrize(
    ("mutate", "detail"),
    [
        (lambda c: c.pop("nbf"), "nbf"),
        (lambda c: c.pop("iss"), "iss"),
        (
            lambda c: c.update({"@context": ["https://www.w3.org/2018/credentials/v1"]}),
            "@context",
        ),
        (lambda c: c["@context"].pop(), "Open Badges"),
        (lambda c: c.update(type=["VerifiableCredential"]), "OpenBadgeCredential"),
        (lambda c: c.update(issuer={"name": "x"}), "issuer"),
        (lambda c: c.pop("validFrom"), "validFrom"),
        (lambda c: c.update(validFrom="2025-03-01T12:00:00"), "validFrom"),
        (lambda c: c.update(validUntil="soon"), "validUntil"),
        (lambda c: c["credentialSubject"].pop("achievement"), "achievement"),
        (lambda c: c.update(iss="https://evil.example/issuers/x"), "iss"),
        (lambda c: c.update(sub="urn:upskill:learner:someone-else"), "sub"),
        (lambda c: c.update(jti="urn:uuid:other"), "jti"),
        (lambda c: c.update(exp="tomorrow"), "exp"),
        (lambda c: c.update(nbf=10**20), "nbf"),
    ],
)
def test_signed_but_malformed_credentials_are_malformed(mutate, detail):
    v = verify(_mutated(mutate), [KEY.public_jwk()], DURING)

    assert v.status is S.MALFORMED
    assert failed(v).name == "structure"
    assert detail in failed(v).detail


def test_signed_payload_that_is_not_json_is_malformed():
    token = sign_raw({"alg": KEY.alg, "kid": KEY.kid}, b"\xff not json", KEY)

    v = verify(token, [KEY.public_jwk()], DURING)

    assert v.status is S.MALFORMED


def test_achievement_credential_type_alias_is_accepted():
    claims = valid_claims()
    claims["type"] = ["VerifiableCredential", "AchievementCredential"]

    assert verify(signed_claims(claims), [KEY.public_jwk()], DURING).status is S.VALID


# --- revocation ---------------------------------------------------------------------


def _valid() -> Verification:
    v = verify(issue(), [KEY.public_jwk()], DURING)
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
    expired = verify(issue(), [KEY.public_jwk()], ISSUED + timedelta(days=60))

    assert apply_revocation(expired, True).status is S.REVOKED
    assert apply_revocation(expired, None).status is S.EXPIRED
    assert apply_revocation(expired, False).status is S.EXPIRED


def test_revocation_does_not_touch_an_unauthenticated_token():
    bad = verify(issue(), [OTHER_KEY.public_jwk()], DURING)

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
    v = verify(token, [KEY.public_jwk()], DURING)

    assert v.status is S.MALFORMED
    assert v.checks[-1].name == "format"
    assert v.credential is None


def test_oversized_token_is_refused_before_any_decoding():
    claims = valid_claims()
    claims["padding"] = "x" * MAX_TOKEN_LENGTH

    v = verify(signed_claims(claims), [KEY.public_jwk()], DURING)

    assert v.status is S.MALFORMED
    assert "longer than" in failed(v).detail


def test_non_string_input_is_malformed():
    v = verify_jwt(None, [KEY.public_jwk()], DURING)  # type: ignore[arg-type]

    assert v.status is S.MALFORMED


@given(st.text(max_size=300))
def test_random_strings_never_raise_and_are_malformed(token):
    v = verify(token, [KEY.public_jwk()], DURING)

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

    v = verify(token, [KEY.public_jwk()], DURING)

    assert v.status is not S.VALID
    assert v.status in set(S)


@given(claims=st.dictionaries(st.text(max_size=5), _json_values))
def test_correctly_signed_junk_claims_never_raise_and_are_malformed(claims):
    v = verify(signed_claims(claims), [KEY.public_jwk()], DURING)

    assert v.status is S.MALFORMED
