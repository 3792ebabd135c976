"""Public profiles: the address a learner picks (/u/{handle}), whether it is on, and which of
their own credentials it shows. Anyone may read a public profile; each credential on it is
verified when it is read, with the same checks as VerifyCredential, so a revoked or expired
credential shows as such instead of disappearing.

A private profile and an unknown handle are the same NOT_FOUND: nobody learns whether a
handle exists while its profile is off.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.common.errors import (
    AlreadyExistsError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
)
from services.common.handles import HANDLE, HANDLE_RULE, MAX_HANDLE, MIN_HANDLE
from services.credentials import profiles, repository
from services.credentials.badges import credential_from_claims, parse_timestamp
from services.credentials.domain import CredentialRecord

MAX_SHOWN = 50
# Words a handle may not be: our own pages and roles, so /u/admin or /u/support never
# looks like the marketplace speaking.
RESERVED_HANDLES = frozenset(
    {
        "about", "account", "admin", "administrator", "api", "app", "billing", "checkout",
        "credential", "credentials", "dashboard", "docs", "employer", "employers", "help",
        "home", "issuer", "issuers", "learner", "learning", "login", "logout", "me",
        "moderator", "new", "null", "official", "pathway", "pathways", "payments", "privacy",
        "profile", "profiles", "program", "programs", "provider", "providers", "root",
        "security", "service", "settings", "signin", "signout", "signup", "staff", "static",
        "status", "studio", "support", "system", "team", "terms", "undefined", "upskill",
        "user", "users", "verify", "www",
    }
)  # fmt: skip
NOT_PUBLIC = "no public profile at this address"


def clean_handle(value: str) -> str:
    """The handle as stored (lowercase), or InvalidArgumentError naming the broken rule.
    Only ASCII is lowercased: str.lower would fold look-alikes (the Kelvin sign) into
    letters, letting two different inputs claim one handle."""
    if value == "":
        return ""
    if not value.isascii():
        raise _bad_handle("only the letters a-z, digits and hyphens")
    handle = value.lower()
    if not MIN_HANDLE <= len(handle) <= MAX_HANDLE:
        raise _bad_handle(f"{MIN_HANDLE} to {MAX_HANDLE} characters")
    if not HANDLE.match(handle):
        raise _bad_handle(HANDLE_RULE)
    if handle in RESERVED_HANDLES:
        raise _bad_handle("this word is reserved; choose another")
    return handle


def _bad_handle(message: str) -> InvalidArgumentError:
    return InvalidArgumentError("invalid handle", [FieldViolation("handle", message)])


@dataclass(frozen=True)
class Settings:
    handle: str
    public: bool
    credential_ids: list[str]


async def shown_ids(conn: asyncpg.Connection, learner_id: str) -> list[str]:
    rows = await conn.fetch(
        """SELECT credential_id FROM public_profile_credentials
           WHERE learner_id = $1 ORDER BY position""",
        learner_id,
    )
    return [str(r["credential_id"]) for r in rows]


async def settings(conn: asyncpg.Connection, learner_id: str) -> Settings:
    row = await conn.fetchrow(
        "SELECT handle, public FROM learner_profiles WHERE learner_id = $1", learner_id
    )
    if row is None:
        return Settings("", False, [])
    return Settings(row["handle"] or "", row["public"], await shown_ids(conn, learner_id))


async def save(
    conn: asyncpg.Connection,
    learner_id: str,
    *,
    handle: str,
    public: bool,
    credential_ids: list[str],
) -> Settings:
    """Replace the learner's public profile in the caller's transaction. ``handle`` is
    already clean. Refuses a public profile without a handle, a credential that is not the
    learner's, and a handle someone else holds (ALREADY_EXISTS)."""
    if public and not handle:
        raise InvalidArgumentError(
            "a public profile needs a handle",
            [FieldViolation("handle", "choose a handle to make your profile public")],
        )
    chosen = list(dict.fromkeys(credential_ids))
    owned = {
        str(r["id"])
        for r in await conn.fetch(
            "SELECT id FROM credentials WHERE id = ANY($1::uuid[]) AND learner_id = $2",
            chosen,
            learner_id,
        )
    }
    foreign = [
        FieldViolation(f"credential_ids[{i}]", "not one of your credentials")
        for i, cid in enumerate(chosen)
        if cid not in owned
    ]
    if foreign:
        raise InvalidArgumentError("a profile shows only its learner's credentials", foreign)
    try:
        async with conn.transaction():  # a savepoint: the caller's transaction survives
            await conn.execute(
                """INSERT INTO learner_profiles (learner_id, handle, public, updated_at)
                   VALUES ($1, $2, $3, now())
                   ON CONFLICT (learner_id) DO UPDATE
                       SET handle = EXCLUDED.handle, public = EXCLUDED.public,
                           updated_at = EXCLUDED.updated_at""",
                learner_id,
                handle or None,
                public,
            )
    except asyncpg.UniqueViolationError:
        raise AlreadyExistsError(
            f"the handle {handle!r} is taken",
            [FieldViolation("handle", "this handle is taken; choose another")],
        ) from None
    await conn.execute("DELETE FROM public_profile_credentials WHERE learner_id = $1", learner_id)
    await conn.executemany(
        """INSERT INTO public_profile_credentials (learner_id, credential_id, position)
           VALUES ($1, $2, $3)""",
        [(learner_id, cid, position) for position, cid in enumerate(chosen)],
    )
    return Settings(handle, public, chosen)


@dataclass(frozen=True)
class PublicProfile:
    handle: str
    display_name: str
    credentials: list[CredentialRecord]


async def find_public(conn: asyncpg.Connection, handle: str) -> PublicProfile:
    """The public profile at ``handle`` (any case), or NOT_FOUND when there is none or it
    is off: the same answer, so a private profile's handle does not leak."""
    wanted = handle.lower() if handle.isascii() else ""
    row = await conn.fetchrow(
        "SELECT learner_id, handle FROM learner_profiles WHERE lower(handle) = $1 AND public",
        wanted,
    )
    if row is None:
        raise NotFoundError(NOT_PUBLIC)
    learner_id = row["learner_id"]
    profile = await profiles.get(conn, learner_id)
    records = await repository.get_many(conn, await shown_ids(conn, learner_id))
    return PublicProfile(row["handle"], profile.shown_name, records)


@dataclass(frozen=True)
class Facts:
    skills: list[str]
    issuer_name: str
    valid_until: datetime | None


def achievement_facts(jwt: str) -> Facts:
    """Skills, issuer name and validUntil from a credential's own signed payload, read from
    our database (we signed it): for display and grouping, never for the verdict."""
    try:
        part = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return Facts([], "", None)
    if not isinstance(claims, dict):
        return Facts([], "", None)
    vc: dict[str, Any] = credential_from_claims(claims)
    subject = vc.get("credentialSubject")
    achievement = (subject.get("achievement") if isinstance(subject, dict) else None) or {}
    alignments = achievement.get("alignment") if isinstance(achievement, dict) else None
    skills = [
        str(a["targetName"])
        for a in alignments or []
        if isinstance(a, dict) and a.get("targetName")
    ]
    issuer = vc.get("issuer")
    try:
        valid_until = parse_timestamp(vc["validUntil"]) if vc.get("validUntil") else None
    except ValueError:
        valid_until = None
    return Facts(
        list(dict.fromkeys(skills)),
        str(issuer.get("name", "")) if isinstance(issuer, dict) else "",
        valid_until,
    )
