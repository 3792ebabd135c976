import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.credentials.keys import IssuerKey, public_jose_key

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


def test_kid_is_the_rfc_7638_thumbprint_of_the_public_key():
    key = IssuerKey.generate()
    jwk = key.public_jwk()
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":")
    )
    digest = hashlib.sha256(canonical.encode()).digest()

    assert key.kid == base64.urlsafe_b64encode(digest).decode().rstrip("=")


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
    key = IssuerKey.generate()
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
        ("[]", "OKP JWK"),
        ("{}", "kty"),
        (json.dumps({"kty": "RSA", "n": "x", "e": "AQAB"}), "kty"),
        (json.dumps({**RFC8037_JWK, "crv": "Ed448"}), "crv"),
        (json.dumps({k: v for k, v in RFC8037_JWK.items() if k != "d"}), "private part"),
        (json.dumps({k: v for k, v in RFC8037_JWK.items() if k != "x"}), "public part"),
        (json.dumps({**RFC8037_JWK, "d": "AAAA"}), "not a valid"),
        (json.dumps({**RFC8037_JWK, "x": IssuerKey.generate().public_jwk()["x"]}), "match"),
    ],
)
def test_unusable_settings_raise_value_error(value, message):
    with pytest.raises(ValueError, match=message):
        IssuerKey.from_setting(value)


@pytest.mark.parametrize(
    "pem",
    [
        _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        _pem(ec.generate_private_key(ec.SECP256R1())),
    ],
    ids=["rsa", "p256"],
)
def test_pem_of_another_key_type_is_refused(pem):
    with pytest.raises(ValueError, match="Ed25519"):
        IssuerKey.from_setting(pem)


def test_encrypted_pem_is_refused():
    with pytest.raises(ValueError, match="unencrypted"):
        IssuerKey.from_setting(_encrypted_pem())


def test_error_message_never_echoes_the_setting():
    secret = "sk-" + "s3cr3t" * 8

    with pytest.raises(ValueError, match="CREDENTIALS_SIGNING_KEY") as caught:
        IssuerKey.from_setting(secret)

    assert "s3cr3t" not in str(caught.value)


def test_bad_jwk_error_does_not_echo_the_private_part():
    bad = {**RFC8037_JWK, "x": IssuerKey.generate().public_jwk()["x"]}

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
        {"kty": "OKP", "crv": "X25519", "x": RFC8037_JWK["x"]},
        {"kty": "OKP", "crv": "Ed25519"},
        {"kty": "OKP", "crv": "Ed25519", "x": "too-short"},
    ],
)
def test_public_jose_key_refuses_anything_but_an_ed25519_public_key(jwk):
    with pytest.raises(ValueError, match="Ed25519"):
        public_jose_key(jwk)
