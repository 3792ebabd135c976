"""Open Badges 3.0 credentials: build the OpenBadgeCredential and sign it as a VC-JWT.

The credential is a W3C Verifiable Credential (Data Model 2.0); the proof is the OB 3.0
"JSON Web Token Proof Format" as VC-JOSE-COSE defines it for VCDM 2.0: the JWT payload IS the
credential (no ``vc`` claim), with the registered claims ``iss``, ``sub``, ``jti``, ``nbf``
and ``exp`` repeating its issuer, subject, id and validity window. The JOSE header names the
key by an absolute URL (``kid``) that resolves to that one public JWK.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from joserfc import jws

from services.common.open_badges import OB_CONTEXT, learner_uri
from services.credentials.keys import JWS_REGISTRY, IssuerKey

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
CREDENTIAL_TYPES = ("VerifiableCredential", "OpenBadgeCredential")
# OB 3.0 JOSE header: "typ: If present, MUST be set to JWT" (and no other headers). The
# status list is not an OpenBadgeCredential, so it follows VC-JOSE-COSE ("SHOULD be vc+jwt").
BADGE_JWT_TYP = "JWT"
VC_JWT_TYP = "vc+jwt"
# A skill is a competency; 1EdTech's AlignmentTargetType has no "skill" value.
SKILL_TARGET_TYPE = "ceasn:Competency"
# Public skill frameworks whose concept URIs a provider may give as a skill, so that an
# employer's system can match the alignment without knowing our catalog.
SKILL_FRAMEWORKS = (
    ("http://data.europa.eu/esco/", "ESCO"),
    ("https://data.europa.eu/esco/", "ESCO"),
    ("https://www.onetonline.org/", "O*NET"),
    ("https://www.onetcenter.org/", "O*NET"),
    ("https://services.onetcenter.org/", "O*NET"),
)


@dataclass(frozen=True, kw_only=True)
class Issuance:
    """Everything needed to issue one credential; keyword-only so fields cannot be swapped."""

    credential_id: str
    learner_id: str
    learner_email: str | None
    provider_id: str
    provider_name: str
    program_id: str
    achievement_name: str
    achievement_description: str
    criteria: str
    issued_at: datetime
    valid_for_days: int | None
    status_list_url: str
    status_index: int
    base_url: str
    skills: Sequence[str] = field(default_factory=tuple)
    learner_name: str | None = None


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with a Z and whole seconds, the form JWT's integer times can match."""
    utc = to_utc(value)
    if utc.year < 1000:  # strftime writes such a year without leading zeros, isoformat with
        return utc.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    # The same text as strftime's, in half its time: "+00:00" (UTC's offset) becomes Z.
    return utc.isoformat(timespec="seconds")[:-6] + "Z"


def parse_timestamp(value: object) -> datetime:
    """Parse an XSD dateTime with an explicit offset; ValueError for anything else."""
    if not isinstance(value, str):
        raise ValueError("timestamp must be a string")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        # A credential without an offset means different instants in different places.
        raise ValueError("timestamp must carry a time zone offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # e.g. year 1 with a positive offset
        raise ValueError("timestamp is out of range") from exc


def to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC)


# The URL path segments of a credential (provider, program, skill, key ids) repeat from one
# issuance to the next: each is percent-encoded once (urllib's quote was a tenth of building
# a credential). Bounded, as the values come from events.
@lru_cache(maxsize=4096)
def _segment(value: str) -> str:
    return quote(value, safe="")


def badge_image_url(base_url: str, program_id: str) -> str:
    """The achievement's image (an SVG served by the gateway's badge route)."""
    return f"{base_url.rstrip('/')}/programs/{_segment(program_id)}/badge.svg"


def issuer_id(base_url: str, provider_id: str) -> str:
    return f"{base_url.rstrip('/')}/issuers/{_segment(provider_id)}"


def hash_identity(value: str, salt: str) -> str:
    """OB 3.0 IdentityObject.identityHash: ``sha256$`` + hex digest of value + salt."""
    return "sha256$" + hashlib.sha256((value + salt).encode("utf-8")).hexdigest()


def normalize_email(email: str) -> str:
    # Hash a canonical form so a learner proving "Alice@Example.com" still matches.
    return email.strip().lower()


def identity_matches(identifier: Mapping[str, Any], email: str) -> bool:
    """Whether a hashed emailAddress IdentityObject belongs to ``email``."""
    salt = identifier.get("salt", "")
    expected = identifier.get("identityHash")
    if identifier.get("identityType") != "emailAddress" or not isinstance(salt, str):
        return False
    return isinstance(expected, str) and secrets.compare_digest(
        expected, hash_identity(normalize_email(email), salt)
    )


def build_credential(issuance: Issuance, *, salt: str | None = None) -> dict[str, Any]:
    """The unsigned OpenBadgeCredential for one issuance.

    ``salt`` is random unless given (tests); a per-credential salt stops anyone matching
    hashes across credentials or against a dictionary of known addresses.
    """
    _check(issuance)
    base_url = issuance.base_url.rstrip("/")
    issued_at = to_utc(issuance.issued_at).replace(microsecond=0)

    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": f"urn:uuid:{issuance.credential_id}",
        "type": list(CREDENTIAL_TYPES),
        "issuer": {
            "id": issuer_id(base_url, issuance.provider_id),
            "type": ["Profile"],
            "name": issuance.provider_name,
        },
        "name": issuance.achievement_name,
        "validFrom": format_timestamp(issued_at),
    }
    if issuance.valid_for_days is not None:
        valid_until = issued_at + timedelta(days=issuance.valid_for_days)
        credential["validUntil"] = format_timestamp(valid_until)
    credential["credentialSubject"] = _subject(issuance, base_url, salt)
    credential["credentialStatus"] = _status(issuance)
    return credential


def _check(issuance: Issuance) -> None:
    if issuance.valid_for_days is not None and issuance.valid_for_days <= 0:
        raise ValueError("valid_for_days must be positive or None")
    if issuance.status_index < 0:
        raise ValueError("status_index must not be negative")


def _status(issuance: Issuance) -> dict[str, Any]:
    return {
        "id": f"{issuance.status_list_url}#{issuance.status_index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": str(issuance.status_index),
        "statusListCredential": issuance.status_list_url,
    }


def _subject(issuance: Issuance, base_url: str, salt: str | None) -> dict[str, Any]:
    identifiers = _identifiers(issuance, salt)
    subject: dict[str, Any] = {
        "id": learner_uri(issuance.learner_id),
        "type": ["AchievementSubject"],
    }
    if identifiers:
        subject["identifier"] = identifiers
    subject["achievement"] = {
        "id": f"{base_url}/programs/{_segment(issuance.program_id)}#achievement",
        "type": ["Achievement"],
        "name": issuance.achievement_name,
        "description": issuance.achievement_description,
        "criteria": {"narrative": issuance.criteria},
        # The badge picture wallets and profiles show: an SVG the gateway draws.
        "image": {
            "id": badge_image_url(base_url, issuance.program_id),
            "type": "Image",
            "caption": issuance.achievement_name,
        },
        "alignment": [_alignment(base_url, skill) for skill in _unique_skills(issuance.skills)],
    }
    return subject


def _identifiers(issuance: Issuance, salt: str | None) -> list[dict[str, Any]]:
    identifiers: list[dict[str, Any]] = []
    if issuance.learner_email:
        salt = secrets.token_hex(16) if salt is None else salt
        identifiers.append(
            {
                "type": "IdentityObject",
                "identityHash": hash_identity(normalize_email(issuance.learner_email), salt),
                "identityType": "emailAddress",
                "hashed": True,
                "salt": salt,
            }
        )
    if issuance.learner_name:
        # AchievementSubject has no "name"; OB 3.0 carries a display name as an
        # unhashed IdentityObject of type "name", which the learner chose to show.
        identifiers.append(
            {
                "type": "IdentityObject",
                "identityHash": issuance.learner_name,
                "identityType": "name",
                "hashed": False,
            }
        )
    return identifiers


def _unique_skills(skills: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for skill in skills:
        name = skill.strip()
        if name:
            seen.setdefault(name, None)
    return list(seen)


def _alignment(base_url: str, skill: str) -> dict[str, Any]:
    framework = skill_framework(skill)
    if framework is not None:
        # The catalog keeps a skill as one string: a provider who wants a public framework
        # gives the concept's URI itself, which then is both the target and its name.
        return {
            "type": ["Alignment"],
            "targetName": skill,
            "targetUrl": skill,
            "targetFramework": framework,
            "targetType": SKILL_TARGET_TYPE,
        }
    return {
        "type": ["Alignment"],
        "targetName": skill,
        "targetUrl": f"{base_url}/skills/{_segment(skill)}",
        "targetType": SKILL_TARGET_TYPE,
    }


# What str.isspace() calls whitespace (re's Unicode \s is the same set).
_WHITESPACE = re.compile(r"\s")


def skill_framework(skill: str) -> str | None:
    """The public framework (ESCO, O*NET) whose concept URI ``skill`` is, if it is one."""
    for prefix, name in SKILL_FRAMEWORKS:
        if skill.startswith(prefix) and len(skill) > len(prefix):
            # Most skills are names, which match no prefix: only a candidate URI is scanned.
            return None if _WHITESPACE.search(skill) else name
    return None


def credential_issuer_id(credential: Mapping[str, Any]) -> str | None:
    """The issuer's id: VCDM allows the issuer as an object with an id or as a bare URL."""
    issuer = credential.get("issuer")
    if isinstance(issuer, str):
        return issuer
    if isinstance(issuer, Mapping) and isinstance(issuer.get("id"), str):
        return str(issuer["id"])
    return None


def jwt_claims(credential: Mapping[str, Any]) -> dict[str, Any]:
    """The VC-JWT claims set: the credential itself plus the registered claims mapped from it."""
    iss = credential_issuer_id(credential)
    if iss is None:
        raise ValueError("credential has no issuer id")
    clash = sorted(REGISTERED_CLAIMS.intersection(credential))
    if clash:
        raise ValueError(f"credential already has JWT claim names {clash}")
    valid_from = parse_timestamp(credential.get("validFrom"))
    claims: dict[str, Any] = dict(credential)
    claims["iss"] = iss
    subject = credential.get("credentialSubject")
    if isinstance(subject, Mapping) and isinstance(subject.get("id"), str):
        claims["sub"] = subject["id"]
    if isinstance(credential.get("id"), str):
        claims["jti"] = credential["id"]
    claims["nbf"] = int(valid_from.timestamp())
    if "validUntil" in credential:
        claims["exp"] = int(parse_timestamp(credential["validUntil"]).timestamp())
    return claims


REGISTERED_CLAIMS = frozenset({"iss", "sub", "jti", "nbf", "exp", "iat", "vc", "vp"})


def credential_from_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The credential a VC-JWT's claims carry: the 1.1-era ``vc`` claim of tokens we issued
    before the flat format, else the payload without the JWT registered claims."""
    legacy = claims.get("vc")
    if isinstance(legacy, dict):
        return legacy
    return {k: v for k, v in claims.items() if k not in REGISTERED_CLAIMS}


def key_url(base_url: str, kid: str) -> str:
    """The absolute URL that names a key in a JOSE header and resolves to its public JWK."""
    return f"{base_url.rstrip('/')}/keys/{_segment(kid)}"


@lru_cache(maxsize=64)
def _jose_header(key: IssuerKey, base_url: str, typ: str) -> dict[str, str]:
    """A key's JOSE header, made once per key, base URL and typ (typ first, where joserfc's
    jwt.encode put it). Shared: sign_payload hands joserfc a copy."""
    return {"typ": typ, "alg": key.alg, "kid": key_url(base_url, key.kid)}


# A JWT's claims as JSON, as joserfc's jwt.encode writes them (its convert_claims): one
# encoder for every call, not one made per json.dumps.
_CLAIMS_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def claims_json(claims: Mapping[str, Any]) -> bytes:
    """A JWT's payload: its claims as compact UTF-8 JSON."""
    return _CLAIMS_JSON.encode(claims).encode("utf-8")


def sign_credential(
    credential: Mapping[str, Any], key: IssuerKey, base_url: str, *, typ: str = BADGE_JWT_TYP
) -> str:
    """Sign a VC (badge or status list) as a compact VC-JWT with an issuer key."""
    return sign_payload(claims_json(jwt_claims(credential)), key, base_url, typ=typ)


def sign_payload(payload: bytes, key: IssuerKey, base_url: str, *, typ: str = BADGE_JWT_TYP) -> str:
    """A JWT's payload (claims_json) signed as a compact JWS with an issuer key: what
    joserfc's jwt.encode makes of the claims, without turning them into JSON again."""
    return jws.serialize_compact(
        dict(_jose_header(key, base_url, typ)),
        payload,
        key.jose_key(),
        algorithms=[key.alg],
        registry=JWS_REGISTRY,
    )


# The JWT payload of a program's credential (issue_payload), made from the JSON that its
# credentials share and the values of each, instead of building the credential and its
# claims as dicts and dumping them (a third of an issuance's Python). The template is
# build_credential's and jwt_claims' own output for the program, with a slot where each
# credential's own values go; so there is one definition of the credential, and
# tests/unit/test_badges.py compares the two ways byte for byte.
# A slot is a JSON string naming it, behind a random per-process token that no
# credential's text can know; should a program's text ever contain it, its credentials
# are built the slow way.
_SLOT_TOKEN = secrets.token_hex(16)
_SLOT = re.compile(f'"{_SLOT_TOKEN}:([a-zA-Z]+)"')
# Any moment will do (whole seconds); the template keeps none of it.
_PROTOTYPE_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def _slot(name: str) -> str:
    return f"{_SLOT_TOKEN}:{name}"


@dataclass(frozen=True)
class _PayloadTemplate:
    fragments: tuple[str, ...]  # the JSON around the slots: one more than slots
    slots: tuple[str, ...]  # the name of each slot, in order


# 256 programs: an entry holds the program's texts twice (the key and the template's JSON),
# up to about 64 kB for the longest texts the catalog accepts (4,000 characters each of
# description and criteria), so the cache stays within 16 MB of the service's memory.
@lru_cache(maxsize=256)
def _payload_template(
    base_url: str,
    provider_id: str,
    provider_name: str,
    program_id: str,
    achievement_name: str,
    achievement_description: str,
    criteria: str,
    skills: tuple[str, ...],
    valid_for_days: int | None,
    identified: bool,
) -> _PayloadTemplate | None:
    """The claims of the credentials of one program, with slots for what differs between
    them; None when a slot cannot be told from the program's own text."""
    prototype = Issuance(
        credential_id="",
        learner_id="",
        learner_email="@" if identified else None,
        provider_id=provider_id,
        provider_name=provider_name,
        program_id=program_id,
        achievement_name=achievement_name,
        achievement_description=achievement_description,
        criteria=criteria,
        issued_at=_PROTOTYPE_TIME,
        valid_for_days=valid_for_days,
        status_list_url="",
        status_index=0,
        base_url=base_url,
        skills=skills,
    )
    claims = jwt_claims(build_credential(prototype, salt=""))
    subject = claims["credentialSubject"]
    places: list[tuple[dict[str, Any], str, str]] = [
        (claims, "id", "id"),
        (claims, "validFrom", "validFrom"),
        (subject, "id", "subject"),
        (claims["credentialStatus"], "id", "statusId"),
        (claims["credentialStatus"], "statusListIndex", "statusIndex"),
        (claims["credentialStatus"], "statusListCredential", "statusList"),
        (claims, "sub", "subject"),
        (claims, "jti", "id"),
        (claims, "nbf", "nbf"),
    ]
    if valid_for_days is not None:
        places += [(claims, "validUntil", "validUntil"), (claims, "exp", "exp")]
    if identified:
        places.append((subject, "identifier", "identifier"))
    for where, key, slot in places:
        if key not in where:
            return None
        where[key] = _slot(slot)
    parts = _SLOT.split(_CLAIMS_JSON.encode(claims))
    slots = tuple(parts[1::2])
    if sorted(slots) != sorted(slot for _, _, slot in places):
        return None
    return _PayloadTemplate(fragments=tuple(parts[0::2]), slots=slots)


def issue_payload(issuance: Issuance, *, salt: str | None = None) -> tuple[bytes, datetime | None]:
    """The JWT payload of the credential of `issuance` (what claims_json(jwt_claims(
    build_credential(issuance, salt=salt))) makes, byte for byte), and its validUntil."""
    _check(issuance)
    issued_at = to_utc(issuance.issued_at).replace(microsecond=0)
    days = issuance.valid_for_days
    valid_until = None if days is None else issued_at + timedelta(days=days)
    identifiers = _identifiers(issuance, salt)
    template = _payload_template(
        issuance.base_url.rstrip("/"),
        issuance.provider_id,
        issuance.provider_name,
        issuance.program_id,
        issuance.achievement_name,
        issuance.achievement_description,
        issuance.criteria,
        tuple(issuance.skills),
        days,
        bool(identifiers),
    )
    if template is None:
        credential = build_credential(issuance, salt=salt)
        return claims_json(jwt_claims(credential)), valid_until
    credential_id = f"urn:uuid:{issuance.credential_id}"
    subject_id = learner_uri(issuance.learner_id)
    encode = _CLAIMS_JSON.encode
    values = {
        "id": encode(credential_id),
        "validFrom": encode(format_timestamp(issued_at)),
        "nbf": str(int(issued_at.timestamp())),
        "subject": encode(subject_id),
        "identifier": encode(identifiers),
        "statusId": encode(f"{issuance.status_list_url}#{issuance.status_index}"),
        "statusIndex": f'"{issuance.status_index}"',
        "statusList": encode(issuance.status_list_url),
    }
    if valid_until is not None:
        values["validUntil"] = encode(format_timestamp(valid_until))
        values["exp"] = str(int(valid_until.timestamp()))
    out = [template.fragments[0]]
    for slot, fragment in zip(template.slots, template.fragments[1:], strict=True):
        out.append(values[slot])
        out.append(fragment)
    return "".join(out).encode("utf-8"), valid_until
