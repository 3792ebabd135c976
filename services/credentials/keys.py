"""Issuer signing keys (Ed25519) and the JWS algorithm registry shared by signer and verifier.

Keys rotate: a credential carries the ``kid`` of the key that signed it, and verifiers look
that ``kid`` up in a JWKS holding every key that signs or once signed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from joserfc.errors import JoseError
from joserfc.jwa import EdDSAAlgorithm
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry

ALG = "EdDSA"
CURVE = "Ed25519"


class _Ed25519Only(EdDSAAlgorithm):
    # RFC 9864 deprecates "EdDSA" because the name alone does not say which curve; the
    # Open Badges / VC-JOSE ecosystem still expects "EdDSA", so we keep the name and remove
    # the ambiguity by refusing every curve but Ed25519 (joserfc would also accept Ed448).
    security_warning = ""  # falsy: joserfc only warns when this is set

    def sign(self, msg: bytes, key: OKPKey) -> bytes:
        if key.curve_name != CURVE:
            raise ValueError("EdDSA here means Ed25519 only")
        return super().sign(msg, key)

    def verify(self, msg: bytes, sig: bytes, key: OKPKey) -> bool:
        return key.curve_name == CURVE and super().verify(msg, sig, key)


class _CredentialJWSRegistry(JWSRegistry):
    # Our own algorithm table, so a token can never select "none", HS256 or anything but
    # Ed25519, whatever joserfc's default registry allows.
    algorithms = {ALG: _Ed25519Only()}
    recommended = [ALG]


JWS_REGISTRY: JWSRegistry = _CredentialJWSRegistry(algorithms=[ALG])


@dataclass(frozen=True)
class IssuerKey:
    """One Ed25519 issuer signing key. ``repr`` never shows key material."""

    private_key: Ed25519PrivateKey

    def __repr__(self) -> str:
        return f"IssuerKey(kid={self.kid!r})"

    @classmethod
    def generate(cls) -> IssuerKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_setting(cls, value: str) -> IssuerKey:
        """Load CREDENTIALS_SIGNING_KEY: a PKCS#8 PEM private key or a private OKP JWK (JSON).

        Error messages describe the shape of the problem, never the value.
        """
        text = value.strip()
        if not text:
            raise ValueError("CREDENTIALS_SIGNING_KEY is empty")
        if text.startswith("-----BEGIN"):
            if "\n" not in text:
                # Env files and CI secrets often carry a PEM on one line with literal "\n".
                text = text.replace("\\n", "\n")
            return cls(_load_pem(text))
        if text.startswith("{"):
            return cls(_load_jwk(text))
        raise ValueError(
            "CREDENTIALS_SIGNING_KEY must be a PKCS#8 PEM Ed25519 private key "
            "or a private OKP JWK as JSON"
        )

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def kid(self) -> str:
        """RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key."""
        return self._okp(private=False).thumbprint()

    def public_jwk(self) -> dict[str, str]:
        jwk = self._okp(private=False).as_dict(private=False)
        return {
            "kty": "OKP",
            "crv": CURVE,
            "x": str(jwk["x"]),
            "kid": self.kid,
            "alg": ALG,
            "use": "sig",
        }

    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        ).decode("ascii")

    def jose_key(self) -> OKPKey:
        """The joserfc key used for signing."""
        return self._okp(private=True)

    def _okp(self, *, private: bool) -> OKPKey:
        if private:
            return OKPKey.import_key(self.private_key)
        return OKPKey.import_key(self.public_key)


def public_jose_key(jwk: dict[str, Any]) -> OKPKey:
    """Import one public JWK from a JWKS; ValueError unless it is an Ed25519 public key."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != CURVE or not isinstance(jwk.get("x"), str):
        raise ValueError("JWK is not an Ed25519 OKP public key")
    try:
        # Only the public members: a JWKS entry must never turn into a signing key.
        return OKPKey.import_key({"kty": "OKP", "crv": CURVE, "x": jwk["x"]})
    except (JoseError, ValueError, TypeError) as exc:
        raise ValueError("JWK x is not a valid Ed25519 public key") from exc


def _load_pem(text: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(text.encode("utf-8"), password=None)
    except (ValueError, TypeError) as exc:
        # TypeError: the PEM is encrypted; an unattended service has no passphrase.
        raise ValueError(
            "CREDENTIALS_SIGNING_KEY is not a readable unencrypted PKCS#8 PEM private key"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("CREDENTIALS_SIGNING_KEY PEM must hold an Ed25519 key")
    return key


def _load_jwk(text: str) -> Ed25519PrivateKey:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError("CREDENTIALS_SIGNING_KEY looks like JSON but does not parse") from exc
    if not isinstance(data, dict) or data.get("kty") != "OKP" or data.get("crv") != CURVE:
        raise ValueError('CREDENTIALS_SIGNING_KEY JWK must have kty "OKP" and crv "Ed25519"')
    if not isinstance(data.get("d"), str):
        raise ValueError("CREDENTIALS_SIGNING_KEY JWK has no private part (d)")
    if not isinstance(data.get("x"), str):
        raise ValueError("CREDENTIALS_SIGNING_KEY JWK has no public part (x)")
    invalid = "CREDENTIALS_SIGNING_KEY JWK is not a valid Ed25519 key"
    try:
        okp = OKPKey.import_key({"kty": "OKP", "crv": CURVE, "x": data["x"], "d": data["d"]})
    except (JoseError, ValueError, TypeError) as exc:
        raise ValueError(invalid) from exc
    private_key = okp.private_key
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ValueError(invalid)
    derived_x = OKPKey.import_key(private_key.public_key()).as_dict()["x"]
    # A JWK whose x does not belong to d would publish a public key that verifies nothing.
    if derived_x != data["x"]:
        raise ValueError("CREDENTIALS_SIGNING_KEY JWK x does not match its private part d")
    return private_key
