"""Issuer signing keys and the JWS algorithm registry shared by signer and verifier.

The algorithm follows the key type: an EC P-256 key signs ES256 (the default: every Open
Badges 3.0 verifier accepts it, and the 1EdTech validator accepts only ES256 and RS256), an
RSA key of at least 2048 bits signs RS256, and an Ed25519 key signs EdDSA, which an operator
must choose explicitly (``CREDENTIALS_SIGNING_ALG=EdDSA``) because it limits interoperability.

Keys rotate: a credential names the key that signed it, and the issuer publishes every key
that signs or once signed (until an operator withdraws a compromised one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc.errors import JoseError
from joserfc.jwa import EdDSAAlgorithm
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

ES256 = "ES256"
RS256 = "RS256"
EDDSA = "EdDSA"
ALGORITHMS = (ES256, RS256, EDDSA)
DEFAULT_ALG = ES256
CURVE_P256 = "P-256"
CURVE_ED25519 = "Ed25519"
MIN_RSA_BITS = 2048
SETTING = "CREDENTIALS_SIGNING_KEY"
ALG_SETTING = "CREDENTIALS_SIGNING_ALG"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | Ed25519PrivateKey
JoseKey = ECKey | RSAKey | OKPKey

_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.DOTALL)


class _Ed25519Only(EdDSAAlgorithm):
    # RFC 9864 deprecates "EdDSA" because the name alone does not say which curve; the
    # Open Badges / VC-JOSE ecosystem still expects "EdDSA", so we keep the name and remove
    # the ambiguity by refusing every curve but Ed25519 (joserfc would also accept Ed448).
    security_warning = ""  # falsy: joserfc only warns when this is set

    def sign(self, msg: bytes, key: OKPKey) -> bytes:
        if key.curve_name != CURVE_ED25519:
            raise ValueError("EdDSA here means Ed25519 only")
        return super().sign(msg, key)

    def verify(self, msg: bytes, sig: bytes, key: OKPKey) -> bool:
        return key.curve_name == CURVE_ED25519 and super().verify(msg, sig, key)


class _CredentialJWSRegistry(JWSRegistry):
    # Our own algorithm table, so a token can never select "none", HS256 or anything but
    # the three issuer algorithms, whatever joserfc's default registry allows.
    algorithms = {
        ES256: JWSRegistry.algorithms[ES256],
        RS256: JWSRegistry.algorithms[RS256],
        EDDSA: _Ed25519Only(),
    }
    recommended = [ES256, RS256, EDDSA]


JWS_REGISTRY: JWSRegistry = _CredentialJWSRegistry(algorithms=list(ALGORITHMS))


def algorithm_of(key: PrivateKey) -> str:
    """The JWS alg a private key signs with; ValueError for key types we do not issue with."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"{SETTING} EC key must be on curve P-256 (ES256)")
        return ES256
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise ValueError(f"{SETTING} RSA key must have at least {MIN_RSA_BITS} bits")
        return RS256
    if isinstance(key, Ed25519PrivateKey):
        return EDDSA
    raise ValueError(f"{SETTING} must be an EC P-256 (ES256), RSA (RS256) or Ed25519 key")


@dataclass(frozen=True)
class IssuerKey:
    """One issuer signing key. ``kid`` is its RFC 7638 thumbprint (the key's name in our
    database; the JOSE header carries it inside an absolute URL). ``repr`` shows no key
    material."""

    private_key: PrivateKey

    def __post_init__(self) -> None:
        algorithm_of(self.private_key)  # refuse unusable keys at construction

    def __repr__(self) -> str:
        return f"IssuerKey(alg={self.alg!r}, kid={self.kid!r})"

    @classmethod
    def generate(cls, alg: str = DEFAULT_ALG) -> IssuerKey:
        if alg == ES256:
            return cls(ec.generate_private_key(ec.SECP256R1()))
        if alg == RS256:
            return cls(rsa.generate_private_key(public_exponent=65537, key_size=3072))
        if alg == EDDSA:
            return cls(Ed25519PrivateKey.generate())
        raise ValueError(f"unknown signing algorithm {alg[:20]!r}; use one of {ALGORITHMS}")

    @classmethod
    def from_setting(cls, value: str) -> IssuerKey:
        """Exactly one key from a CREDENTIALS_SIGNING_KEY-style value."""
        keys = cls.all_from_setting(value)
        if len(keys) != 1:
            raise ValueError(f"{SETTING} must hold exactly one key here, found {len(keys)}")
        return keys[0]

    @classmethod
    def all_from_setting(cls, value: str) -> list[IssuerKey]:
        """Load CREDENTIALS_SIGNING_KEY: one or more PKCS#8 PEM private keys (concatenated),
        one private JWK, or a JWK Set of private keys. Several keys let a scheduled rotation
        (``upskill keys schedule``) switch signers at a moment without a restart.

        Error messages describe the shape of the problem, never the value.
        """
        text = value.strip()
        if not text:
            raise ValueError(f"{SETTING} is empty")
        if text.startswith("-----BEGIN"):
            if "\n" not in text:
                # Env files and CI secrets often carry a PEM on one line with literal "\n".
                text = text.replace("\\n", "\n")
            blocks = _PEM_BLOCK.findall(text)
            if not blocks:
                raise ValueError(f"{SETTING} is not a readable unencrypted PKCS#8 PEM private key")
            keys = [cls(_load_pem(block)) for block in blocks]
        elif text.startswith("{"):
            keys = [cls(_load_jwk(jwk)) for jwk in _jwk_list(text)]
        else:
            raise ValueError(
                f"{SETTING} must be a PKCS#8 PEM private key (EC P-256, RSA or Ed25519), "
                "a private JWK, or a JWK Set, as text"
            )
        if len({k.kid for k in keys}) != len(keys):
            raise ValueError(f"{SETTING} lists the same key twice")
        return keys

    @cached_property
    def alg(self) -> str:
        return algorithm_of(self.private_key)

    # The key never changes, so neither do its name and joserfc forms: computed once (a
    # thumbprint and two key imports per credential were a fifth of an issuance's CPU).
    @cached_property
    def kid(self) -> str:
        """RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key."""
        return self.jose_public_key().thumbprint()

    def public_jwk(self) -> dict[str, str]:
        jwk = {k: str(v) for k, v in self.jose_public_key().as_dict(private=False).items()}
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        ).decode("ascii")

    def jose_key(self) -> JoseKey:
        """The joserfc key used for signing."""
        return self._jose_key

    def jose_public_key(self) -> JoseKey:
        return self._jose_public_key

    @cached_property
    def _jose_key(self) -> JoseKey:
        return _import(self.private_key)

    @cached_property
    def _jose_public_key(self) -> JoseKey:
        return _import(self.private_key.public_key())


def _import(key: Any) -> JoseKey:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return ECKey.import_key(key)
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return RSAKey.import_key(key)
    return OKPKey.import_key(key)


def check_signing_policy(keys: Sequence[IssuerKey], chosen_alg: str) -> None:
    """Refuse a configuration that would sign with an algorithm nobody chose.

    Without CREDENTIALS_SIGNING_ALG, keys must be ES256 or RS256 ones (what every OB 3.0
    verifier accepts); with it, every key must be of that algorithm. An Ed25519 key left
    from an older release therefore fails start-up with the way out in the message.
    """
    if chosen_alg and chosen_alg not in ALGORITHMS:
        raise ValueError(f"{ALG_SETTING} must be one of {', '.join(ALGORITHMS)}")
    for key in keys:
        if chosen_alg and key.alg != chosen_alg:
            raise ValueError(f"{SETTING} holds a {key.alg} key but {ALG_SETTING}={chosen_alg}")
        if not chosen_alg and key.alg == EDDSA:
            raise ValueError(
                f"{SETTING} is an Ed25519 (EdDSA) key, which the 1EdTech validator and many "
                "Open Badges 3.0 verifiers refuse: generate an ES256 key with `upskill keygen` "
                f"(older keys stay published), or set {ALG_SETTING}=EdDSA to keep it"
            )


_PUBLIC_MEMBERS = {
    "EC": ("kty", "crv", "x", "y"),
    "RSA": ("kty", "n", "e"),
    "OKP": ("kty", "crv", "x"),
}
_ALG_FOR_KEY = {("EC", CURVE_P256): ES256, ("RSA", None): RS256, ("OKP", CURVE_ED25519): EDDSA}


def jwk_algorithm(jwk: Mapping[str, Any]) -> str | None:
    """The one algorithm a public JWK may verify, from its key type (not from its claims)."""
    kty = jwk.get("kty")
    return _ALG_FOR_KEY.get((kty, None if kty == "RSA" else jwk.get("crv")))  # type: ignore[arg-type]


def public_jose_key(jwk: Mapping[str, Any]) -> JoseKey:
    """Import one public JWK from a JWKS; ValueError unless it is an issuer public key."""
    alg = jwk_algorithm(jwk)
    if alg is None:
        raise ValueError("JWK is not an EC P-256, RSA or Ed25519 public key")
    members = _PUBLIC_MEMBERS[str(jwk["kty"])]
    if not all(isinstance(jwk.get(m), str) for m in members):
        raise ValueError("JWK lacks a public member")
    # Only the public members: a JWKS entry must never turn into a signing key.
    public = {m: jwk[m] for m in members}
    try:
        key: JoseKey
        if alg == ES256:
            key = ECKey.import_key(public)
        elif alg == RS256:
            key = RSAKey.import_key(public)
            if key.raw_value.key_size < MIN_RSA_BITS:
                raise ValueError("RSA key is too short")
        else:
            key = OKPKey.import_key(public)
    except (JoseError, ValueError, TypeError) as exc:
        raise ValueError("JWK is not a valid public key") from exc
    return key


def _load_pem(text: str) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(text.encode("utf-8"), password=None)
    except (ValueError, TypeError) as exc:
        # TypeError: the PEM is encrypted; an unattended service has no passphrase.
        raise ValueError(f"{SETTING} is not a readable unencrypted PKCS#8 PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | Ed25519PrivateKey):
        raise ValueError(f"{SETTING} PEM must hold an EC P-256, RSA or Ed25519 key")
    algorithm_of(key)
    return key


def _jwk_list(text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{SETTING} looks like JSON but does not parse") from exc
    if isinstance(data, dict) and "keys" in data:
        keys = data["keys"]
        if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
            raise ValueError(f"{SETTING} JWK Set must have a non-empty list of keys")
        return keys
    if not isinstance(data, dict):
        raise ValueError(f"{SETTING} JSON must be a private JWK or a JWK Set")
    return [data]


def _load_jwk(data: dict[str, Any]) -> PrivateKey:
    kty, crv = data.get("kty"), data.get("crv")
    if (kty, crv) not in (("EC", CURVE_P256), ("OKP", CURVE_ED25519)) and kty != "RSA":
        raise ValueError(
            f'{SETTING} JWK must have kty "EC" with crv "P-256", kty "RSA", '
            'or kty "OKP" with crv "Ed25519"'
        )
    if not isinstance(data.get("d"), str):
        raise ValueError(f"{SETTING} JWK has no private part (d)")
    members = _PUBLIC_MEMBERS[str(kty)]
    if not all(isinstance(data.get(m), str) for m in members):
        raise ValueError(f"{SETTING} JWK has no public part ({', '.join(members[1:])})")
    invalid = f"{SETTING} JWK is not a valid {kty} private key"
    private_members = {k: v for k, v in data.items() if k not in ("kid", "alg", "use", "key_ops")}
    try:
        imported: JoseKey
        if kty == "EC":
            imported = ECKey.import_key(private_members)
        elif kty == "RSA":
            imported = RSAKey.import_key(private_members)
        else:
            imported = OKPKey.import_key(private_members)
        private_key = imported.private_key
    except (JoseError, ValueError, TypeError) as exc:
        raise ValueError(invalid) from exc
    if not isinstance(
        private_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | Ed25519PrivateKey
    ):
        raise ValueError(invalid)
    derived = _import(private_key.public_key()).as_dict(private=False)
    # A JWK whose public part does not belong to d would publish a key that verifies nothing.
    if any(derived[m] != data[m] for m in members):
        raise ValueError(f"{SETTING} JWK public part does not match its private part d")
    algorithm_of(private_key)
    return private_key
