import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.credentials.keys import (
    IssuerKey,
    check_signing_policy,
    jwk_algorithm,
    public_jose_key,
)

# RFC 8037 Appendix A.1 / A.3: an Ed25519 key and its RFC 7638 thumbprint.
RFC8037_JWK = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_kid_matches_the_rfc_8037_thumbprint_vector():
    key = IssuerKey.from_setting(json.dumps(RFC8037_JWK))

    assert key.kid == RFC8037_THUMBPRINT


# RFC 7638: the required members only, in lexicographic order.
_THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
def test_kid_is_the_rfc_7638_thumbprint_of_the_public_key(alg):
    key = IssuerKey.generate(alg)
    jwk = key.public_jwk()
    members = {m: jwk[m] for m in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()

    assert key.kid == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert key.alg == alg
    assert jwk_algorithm(jwk) == alg


def test_the_default_key_signs_es256_on_p256():
    key = IssuerKey.generate()

    assert key.alg == "ES256"
    assert key.public_jwk()["kty"] == "EC"
    assert key.public_jwk()["crv"] == "P-256"
    assert "d" not in key.public_jwk()


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
def test_every_key_type_round_trips_through_pem_and_jwk(alg):
    key = IssuerKey.generate(alg)
    private_jwk = {**key.jose_key().as_dict(private=True), "kid": "ignored"}

    assert IssuerKey.from_setting(key.private_pem()).kid == key.kid
    assert IssuerKey.from_setting(json.dumps(private_jwk)).kid == key.kid


def test_several_keys_load_from_concatenated_pems_and_from_a_jwk_set():
    old, new = IssuerKey.generate(), IssuerKey.generate("RS256")
    as_jwk_set = {"keys": [k.jose_key().as_dict(private=True) for k in (old, new)]}

    from_pems = IssuerKey.all_from_setting(old.private_pem() + new.private_pem())
    from_set = IssuerKey.all_from_setting(json.dumps(as_jwk_set))

    assert [k.kid for k in from_pems] == [old.kid, new.kid]
    assert [k.kid for k in from_set] == [old.kid, new.kid]


def test_the_same_key_twice_is_refused():
    key = IssuerKey.generate()

    with pytest.raises(ValueError, match="twice"):
        IssuerKey.all_from_setting(key.private_pem() * 2)


def test_from_setting_wants_exactly_one_key():
    pems = IssuerKey.generate().private_pem() + IssuerKey.generate().private_pem()

    with pytest.raises(ValueError, match="exactly one"):
        IssuerKey.from_setting(pems)


def test_eddsa_signs_only_by_explicit_choice():
    ed25519 = IssuerKey.generate("EdDSA")

    with pytest.raises(ValueError, match="CREDENTIALS_SIGNING_ALG=EdDSA"):
        check_signing_policy([ed25519], "")
    check_signing_policy([ed25519], "EdDSA")  # chosen: accepted
    check_signing_policy([IssuerKey.generate(), IssuerKey.generate("RS256")], "")


@pytest.mark.parametrize(("alg", "setting"), [("ES256", "RS256"), ("EdDSA", "ES256")])
def test_a_key_of_another_type_than_the_chosen_algorithm_is_refused(alg, setting):
    with pytest.raises(ValueError, match=f"CREDENTIALS_SIGNING_ALG={setting}"):
        check_signing_policy([IssuerKey.generate(alg)], setting)


def test_an_unknown_chosen_algorithm_is_refused():
    with pytest.raises(ValueError, match="one of"):
        check_signing_policy([IssuerKey.generate()], "HS256")


def test_public_jwk_has_the_published_members_and_no_private_part():
    key = IssuerKey.from_setting(json.dumps(RFC8037_JWK))

    assert key.public_jwk() == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": RFC8037_JWK["x"],
        "kid": RFC8037_THUMBPRINT,
        "alg": "EdDSA",
        "use": "sig",
    }


def test_generated_keys_differ():
    assert IssuerKey.generate().kid != IssuerKey.generate().kid


def test_pem_round_trip_keeps_the_key():
    key = IssuerKey.generate("EdDSA")
    pem = key.private_pem()

    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert IssuerKey.from_setting(pem).kid == key.kid


def test_pem_with_escaped_newlines_from_an_env_file_loads():
    key = IssuerKey.generate()
    one_line = key.private_pem().strip().replace("\n", "\\n")

    assert IssuerKey.from_setting(one_line).kid == key.kid


def test_jwk_without_optional_members_loads_and_surrounding_whitespace_is_ignored():
    text = "\n  " + json.dumps(RFC8037_JWK) + "\n"

    assert IssuerKey.from_setting(text).kid == RFC8037_THUMBPRINT


def test_repr_shows_the_kid_but_never_key_material():
    key = IssuerKey.from_setting(json.dumps(RFC8037_JWK))

    assert RFC8037_THUMBPRINT in repr(key)
    assert RFC8037_JWK["d"] not in repr(key)
    assert "PRIVATE" not in repr(key)


def _pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _encrypted_pem() -> str:
    return (
        IssuerKey.generate()
        .private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
        .decode()
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("not-a-key-at-all", "PKCS#8 PEM"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "PEM"),
        ("{not json", "does not parse"),
        ("[]", "PKCS#8 PEM"),
        ("{}", "kty"),
        (json.dumps({"kty": "RSA", "n": "x", "e": "AQAB"}), "private part"),
        (json.dumps({**RFC8037_JWK, "crv": "Ed448"}), "crv"),
        (json.dumps({k: v for k, v in RFC8037_JWK.items() if k != "d"}), "private part"),
        (json.dumps({k: v for k, v in RFC8037_JWK.items() if k != "x"}), "public part"),
        (json.dumps({**RFC8037_JWK, "d": "AAAA"}), "not a valid"),
        (json.dumps({**RFC8037_JWK, "x": IssuerKey.generate("EdDSA").public_jwk()["x"]}), "match"),
        (json.dumps({"keys": []}), "non-empty"),
        (json.dumps({"kty": "EC", "crv": "P-384", "d": "AA", "x": "AA", "y": "AA"}), "kty"),
    ],
)
def test_unusable_settings_raise_value_error(value, message):
    with pytest.raises(ValueError, match=message):
        IssuerKey.from_setting(value)


@pytest.mark.parametrize(
    ("pem", "message"),
    [
        (_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "2048"),
        (_pem(ec.generate_private_key(ec.SECP384R1())), "P-256"),
    ],
    ids=["rsa-1024", "p384"],
)
def test_pem_of_a_weak_or_other_key_type_is_refused(pem, message):
    with pytest.raises(ValueError, match=message):
        IssuerKey.from_setting(pem)


def test_public_jwk_has_the_published_members_and_no_private_part_for_ec():
    key = IssuerKey.generate()

    assert set(key.public_jwk()) == {"kty", "crv", "x", "y", "kid", "alg", "use"}


def test_encrypted_pem_is_refused():
    with pytest.raises(ValueError, match="unencrypted"):
        IssuerKey.from_setting(_encrypted_pem())


def test_error_message_never_echoes_the_setting():
    secret = "sk-" + "s3cr3t" * 8

    with pytest.raises(ValueError, match="CREDENTIALS_SIGNING_KEY") as caught:
        IssuerKey.from_setting(secret)

    assert "s3cr3t" not in str(caught.value)


def test_bad_jwk_error_does_not_echo_the_private_part():
    bad = {**RFC8037_JWK, "x": IssuerKey.generate("EdDSA").public_jwk()["x"]}

    with pytest.raises(ValueError, match="does not match") as caught:
        IssuerKey.from_setting(json.dumps(bad))

    assert RFC8037_JWK["d"] not in str(caught.value)


def test_public_jose_key_ignores_a_private_part_in_a_jwks_entry():
    # A JWKS entry must never become a signing key, even if someone published "d".
    imported = public_jose_key(RFC8037_JWK)

    assert not imported.is_private


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "EC", "crv": "P-256", "x": "a", "y": "b"},
        {"kty": "EC", "crv": "P-384", "x": "a", "y": "b"},
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "OKP", "crv": "X25519", "x": RFC8037_JWK["x"]},
        {"kty": "OKP", "crv": "Ed25519"},
        {"kty": "OKP", "crv": "Ed25519", "x": "too-short"},
    ],
)
def test_public_jose_key_refuses_anything_but_an_issuer_public_key(jwk):
    with pytest.raises(ValueError, match=r"public key|public member"):
        public_jose_key(jwk)
