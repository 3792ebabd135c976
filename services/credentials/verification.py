"""Offline verification of an Open Badges 3.0 VC-JWT against the issuer's keys.

Two shapes verify: the OB 3.0 / VCDM 2.0 one (the payload is the credential, ``kid`` is the
absolute URL of the key, ES256/RS256/EdDSA), and the VCDM 1.1-style one we issued before
(the credential under a ``vc`` claim, EdDSA, ``kid`` the bare key thumbprint), so credentials
already in learners' hands keep verifying.

Each step is recorded as a named check and the first failing step decides the status, so
the verification page can show how far a credential got. Revocation is a separate step
(``apply_revocation``) because reading the status list is I/O and this module is pure.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError

from services.credentials.badges import (
    OB_CONTEXT,
    VC_CONTEXT,
    credential_from_claims,
    credential_issuer_id,
    key_url,
)
from services.credentials.badges import parse_timestamp as _parse_timestamp
from services.credentials.keys import (
    ALGORITHMS,
    JWS_REGISTRY,
    JoseKey,
    jwk_algorithm,
    public_jose_key,
)

log = logging.getLogger(__name__)

# Same bound as VerifyCredentialRequest.credential, so pure callers get the same answer.
MAX_TOKEN_LENGTH = 65_536
CLOCK_SKEW = timedelta(seconds=60)

_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_OB_CONTEXT_PREFIX = OB_CONTEXT.rsplit("-", 1)[0]  # any 3.0.x context
_OB_TYPES = frozenset({"OpenBadgeCredential", "AchievementCredential"})


class VerificationStatus(StrEnum):
    VALID = "VALID"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    UNKNOWN_KEY = "UNKNOWN_KEY"
    MALFORMED = "MALFORMED"
    STATUS_UNAVAILABLE = "STATUS_UNAVAILABLE"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class Verification:
    """The verdict. ``credential`` and ``claims`` are set only once the signature verified,
    so nothing an attacker wrote is ever shown as if an issuer had said it."""

    status: VerificationStatus
    checks: list[Check]
    credential: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None

    @property
    def verified(self) -> bool:
        return self.status is VerificationStatus.VALID


class _Failed(Exception):
    """Ends verification at the current step."""

    def __init__(self, status: VerificationStatus, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class _Run:
    """Collects checks while the steps run."""

    def __init__(self) -> None:
        self.checks: list[Check] = []
        self.credential: dict[str, Any] | None = None
        self.claims: dict[str, Any] | None = None

    def passed(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, True, detail))

    def result(self, status: VerificationStatus) -> Verification:
        return Verification(status, list(self.checks), self.credential, self.claims)


def verify_jwt(
    token: str,
    jwks: Sequence[Mapping[str, Any]],
    now: datetime,
    *,
    base_url: str = "",
    withdrawn: Sequence[str] = (),
) -> Verification:
    """Verify signature, structure and validity window; never raises on bad input.

    ``jwks`` are the issuer's published public keys, each with its thumbprint as ``kid``;
    a header ``kid`` names one either as ``key_url(base_url, thumbprint)`` or (tokens from
    before that) as the bare thumbprint. ``withdrawn`` are thumbprints of keys the issuer
    withdrew: what they signed is UNKNOWN_KEY, with a detail that says so.

    A VALID result still needs ``apply_revocation`` before anyone is told "valid".
    A naive ``now`` is taken as UTC.
    """
    run = _Run()
    step = "format"
    try:
        header = _check_format(token)
        alg = header["alg"]
        run.passed(step, f"compact JWS signed with {alg}")
        step = "key"
        kid, key = _find_key(header, jwks, base_url, withdrawn)
        run.passed(step, f"kid {kid} is in the issuer key set")
        step = "signature"
        payload = _check_signature(token, key, alg)
        run.passed(step, f"{alg} signature matches the issuer key")
        step = "structure"
        run.claims = _parse_claims(payload)
        run.credential = _check_structure(run.claims)
        run.passed(step, "OpenBadgeCredential with issuer, subject and achievement")
        step = "validity"
        run.passed(step, _check_validity(run.claims, run.credential, now))
    except _Failed as failure:
        run.checks.append(Check(step, False, failure.detail))
        return run.result(failure.status)
    except Exception as exc:  # the contract is "never raise on bad input"
        # A bug of ours or an input shape nobody foresaw: the caller gets a stable
        # sentence, the log gets the exception (with the trace id).
        log.warning("verification step %s failed unexpectedly", step, exc_info=exc)
        run.checks.append(Check(step, False, "could not be checked"))
        return run.result(VerificationStatus.MALFORMED)
    return run.result(VerificationStatus.VALID)


def apply_revocation(v: Verification, revoked: bool | None) -> Verification:
    """Add the revocation check. ``revoked`` is None when the status list could not be read.

    Fails closed: an unreadable status never leaves a VALID verdict. Revocation outranks an
    expired or not-yet-valid window (it is the issuer's later, explicit word); a token whose
    signature never verified is left alone, its revocation status means nothing.
    """
    if v.credential is None or v.status in _UNAUTHENTICATED:
        return v
    checks = [check for check in v.checks if check.name != "revocation"]
    status = v.status
    if revoked is None:
        checks.append(Check("revocation", False, "status list could not be read"))
        if status is VerificationStatus.VALID:
            status = VerificationStatus.STATUS_UNAVAILABLE
    elif revoked:
        checks.append(Check("revocation", False, "revoked by the issuer"))
        status = VerificationStatus.REVOKED
    else:
        checks.append(Check("revocation", True, "not revoked"))
    return replace(v, status=status, checks=checks)


_UNAUTHENTICATED = frozenset(
    {
        VerificationStatus.MALFORMED,
        VerificationStatus.INVALID_SIGNATURE,
        VerificationStatus.UNKNOWN_KEY,
    }
)


def _check_format(token: object) -> dict[str, Any]:
    malformed = VerificationStatus.MALFORMED
    if not isinstance(token, str):
        raise _Failed(malformed, "credential must be a string")
    if len(token) > MAX_TOKEN_LENGTH:
        raise _Failed(malformed, f"credential is longer than {MAX_TOKEN_LENGTH} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise _Failed(malformed, "not a compact JWS (expected three dot-separated parts)")
    header = _b64_json(parts[0], "header")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise _Failed(malformed, "JWS header has no alg")
    if alg not in ALGORITHMS:
        # Well-formed, but "none", HS256 and friends cannot carry an issuer's signature:
        # it is the signature that is unacceptable, whatever the rest says.
        raise _Failed(
            VerificationStatus.INVALID_SIGNATURE,
            f"alg {alg[:20]!r} is not accepted; issuer credentials are signed with "
            + ", ".join(ALGORITHMS),
        )
    if "crit" in header:
        raise _Failed(malformed, "JWS critical header extensions are not supported")
    for part, name in ((parts[1], "payload"), (parts[2], "signature")):
        if not _SEGMENT.fullmatch(part):
            raise _Failed(malformed, f"JWS {name} is missing or not base64url")
    return header


def _b64_json(segment: str, name: str) -> dict[str, Any]:
    malformed = VerificationStatus.MALFORMED
    if not _SEGMENT.fullmatch(segment):
        raise _Failed(malformed, f"JWS {name} is missing or not base64url")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise _Failed(malformed, f"JWS {name} is not base64url-encoded JSON") from None
    if not isinstance(value, dict):
        raise _Failed(malformed, f"JWS {name} is not a JSON object")
    return value


def _find_key(
    header: Mapping[str, Any],
    jwks: Sequence[Mapping[str, Any]],
    base_url: str,
    withdrawn: Sequence[str],
) -> tuple[str, JoseKey]:
    unknown = VerificationStatus.UNKNOWN_KEY
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _Failed(unknown, "JWS header names no kid")
    shown = kid[:120]
    thumbprint = _thumbprint_of(kid, base_url)
    if thumbprint is None:
        raise _Failed(unknown, f"kid {shown} is not one of this issuer's key URLs")
    if thumbprint in withdrawn:
        raise _Failed(
            unknown,
            f"kid {shown} names a key the issuer withdrew; what it signed is not verifiable",
        )
    matches = [jwk for jwk in jwks if isinstance(jwk, Mapping) and jwk.get("kid") == thumbprint]
    if not matches:
        raise _Failed(unknown, f"kid {shown} is not in the issuer key set")
    alg = header["alg"]
    for jwk in matches:
        if jwk.get("use", "sig") != "sig":
            continue
        if jwk_algorithm(jwk) != alg or jwk.get("alg", alg) != alg:
            continue  # the header cannot pick how a key is used: an EC key verifies ES256 only
        try:
            return kid, public_jose_key(jwk)
        except ValueError:
            continue
    raise _Failed(unknown, f"kid {shown} is in the key set but is not a usable {alg} signing key")


def _thumbprint_of(kid: str, base_url: str) -> str | None:
    """The thumbprint a header kid names: our key URL, or (older tokens) the bare thumbprint."""
    if _SEGMENT.fullmatch(kid):
        return kid
    if base_url:
        prefix = key_url(base_url, "")
        rest = kid.removeprefix(prefix)
        if rest != kid and _SEGMENT.fullmatch(rest):
            return rest
    return None


def _check_signature(token: str, key: JoseKey, alg: str) -> bytes:
    try:
        obj = jws.deserialize_compact(token, key, algorithms=[alg], registry=JWS_REGISTRY)
    except BadSignatureError:
        raise _Failed(
            VerificationStatus.INVALID_SIGNATURE, "signature does not match the issuer key"
        ) from None
    except JoseError as exc:
        log.info("JWS rejected by joserfc: %s", exc.error)
        raise _Failed(VerificationStatus.MALFORMED, "JWS could not be decoded") from None
    return obj.payload


def _parse_claims(payload: bytes) -> dict[str, Any]:
    try:
        claims = json.loads(payload)
    except (ValueError, RecursionError):
        raise _Failed(VerificationStatus.MALFORMED, "JWT payload is not JSON") from None
    if not isinstance(claims, dict):
        raise _Failed(VerificationStatus.MALFORMED, "JWT payload is not a JSON object")
    return claims


def _check_structure(claims: Mapping[str, Any]) -> dict[str, Any]:
    def fail(detail: str) -> _Failed:
        return _Failed(VerificationStatus.MALFORMED, detail)

    vc = credential_from_claims(claims)
    contexts = vc.get("@context")
    if not isinstance(contexts, list) or not contexts or contexts[0] != VC_CONTEXT:
        raise fail(f"@context must start with {VC_CONTEXT}")
    if not any(isinstance(c, str) and c.startswith(_OB_CONTEXT_PREFIX) for c in contexts):
        raise fail("@context lacks the Open Badges 3.0 context")
    types = vc.get("type")
    if (
        not isinstance(types, list)
        or "VerifiableCredential" not in types
        or not _OB_TYPES.intersection(t for t in types if isinstance(t, str))
    ):
        raise fail("type must include VerifiableCredential and OpenBadgeCredential")
    issuer = credential_issuer_id(vc)
    if issuer is None:
        raise fail("issuer has no id")
    for name in ("validFrom", "validUntil"):
        if name in vc or name == "validFrom":
            try:
                _parse_timestamp(vc.get(name))
            except ValueError:
                raise fail(f"{name} is not a date-time with a time zone") from None
    subject = vc.get("credentialSubject")
    if not isinstance(subject, dict) or not isinstance(subject.get("achievement"), dict):
        raise fail("credentialSubject has no achievement")
    # The JWT claims must agree with the credential they wrap, or a viewer reading one
    # and a verifier checking the other would disagree about what was issued.
    if claims.get("iss") != issuer:
        raise fail("JWT iss differs from the credential issuer")
    if "nbf" not in claims:
        raise fail("JWT has no nbf claim")
    if "sub" in claims and claims["sub"] != subject.get("id"):
        raise fail("JWT sub differs from the credential subject")
    if "jti" in claims and claims["jti"] != vc.get("id"):
        raise fail("JWT jti differs from the credential id")
    for name in ("nbf", "exp", "iat"):
        if name in claims and _from_epoch(claims[name]) is None:
            raise fail(f"JWT {name} is not a time in seconds since the epoch")
    return vc


def _from_epoch(value: object) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _epoch(value: object) -> datetime:
    parsed = _from_epoch(value)
    if parsed is None:  # _check_structure already refused these
        raise _Failed(VerificationStatus.MALFORMED, "JWT time claim is out of range")
    return parsed


def _check_validity(claims: Mapping[str, Any], vc: Mapping[str, Any], now: datetime) -> str:
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    # Both the JWT and the credential state a window; honour the narrower of the two.
    starts = [_parse_timestamp(vc["validFrom"])]
    if "nbf" in claims:
        starts.append(_epoch(claims["nbf"]))
    ends = [_parse_timestamp(vc["validUntil"])] if "validUntil" in vc else []
    if "exp" in claims:
        ends.append(_epoch(claims["exp"]))
    start = max(starts)
    if now + CLOCK_SKEW < start:
        raise _Failed(VerificationStatus.NOT_YET_VALID, f"valid from {_iso(start)}")
    if ends:
        end = min(ends)
        if now - CLOCK_SKEW >= end:
            raise _Failed(VerificationStatus.EXPIRED, f"expired at {_iso(end)}")
        return f"valid from {_iso(start)} until {_iso(end)}"
    return f"valid from {_iso(start)}, no expiry"


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
