"""Credentials persistence: issued credentials, issuer keys, status-list indexes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.common.errors import NotFoundError
from services.common.paging import Listing, Page
from services.common.sql import OwnerScope, Where, fetch_page
from services.credentials.status_list import MIN_BITS


@dataclass
class CredentialRecord:
    id: str
    enrollment_id: str
    program_id: str
    provider_id: str
    learner_id: str
    achievement_name: str
    status: str
    jwt: str
    kid: str
    status_list_id: str
    status_index: int
    issued_at: datetime
    revoked_at: datetime | None = None
    revocation_reason: str = ""


def _record(row: Any) -> CredentialRecord:
    return CredentialRecord(
        id=str(row["id"]),
        enrollment_id=str(row["enrollment_id"]),
        program_id=str(row["program_id"]),
        provider_id=str(row["provider_id"]),
        learner_id=row["learner_id"],
        achievement_name=row["achievement_name"],
        status=row["status"],
        jwt=row["jwt"],
        kid=row["kid"],
        status_list_id=row["status_list_id"],
        status_index=row["status_index"],
        issued_at=row["issued_at"],
        revoked_at=row["revoked_at"],
        revocation_reason=row["revocation_reason"],
    )


async def register_key(conn: asyncpg.Connection, kid: str, public_jwk: dict[str, str]) -> None:
    await conn.execute(
        "INSERT INTO issuer_keys (kid, public_jwk) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        kid,
        json.dumps(public_jwk),
    )


async def public_keys(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT public_jwk FROM issuer_keys ORDER BY created_at")
    return [json.loads(r["public_jwk"]) for r in rows]


async def exists_for_enrollment(conn: asyncpg.Connection, enrollment_id: str) -> bool:
    found = await conn.fetchval(
        "SELECT true FROM credentials WHERE enrollment_id = $1", enrollment_id
    )
    return bool(found)


async def withdraw_enrollment(conn: asyncpg.Connection, enrollment_id: str, reason: str) -> None:
    await conn.execute(
        """INSERT INTO withdrawn_enrollments (enrollment_id, reason) VALUES ($1, $2)
           ON CONFLICT (enrollment_id) DO NOTHING""",
        enrollment_id,
        reason,
    )


async def is_withdrawn(conn: asyncpg.Connection, enrollment_id: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM withdrawn_enrollments WHERE enrollment_id = $1", enrollment_id
        )
    )


async def find_for_enrollment(
    conn: asyncpg.Connection, enrollment_id: str, *, for_update: bool = False
) -> CredentialRecord | None:
    row = await conn.fetchrow(
        f"SELECT * FROM credentials WHERE enrollment_id = $1 {'FOR UPDATE' if for_update else ''}",
        enrollment_id,
    )
    return _record(row) if row else None


async def allocate_status_index(conn: asyncpg.Connection) -> tuple[str, int]:
    """The next free (list id, index); opens a new list when the current one is full."""
    for _ in range(3):
        row = await conn.fetchrow(
            """UPDATE status_lists SET next_index = next_index + 1
               WHERE id = (SELECT id FROM status_lists WHERE next_index < size
                           ORDER BY created_at DESC, id DESC LIMIT 1 FOR UPDATE)
               RETURNING id, next_index - 1 AS idx"""
        )
        if row is not None:
            return row["id"], row["idx"]
        count = await conn.fetchval("SELECT count(*) FROM status_lists")
        await conn.execute(
            "INSERT INTO status_lists (id, size) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            f"revocation-{count + 1}",
            MIN_BITS,
        )
    raise RuntimeError("could not allocate a status-list index")


async def add(conn: asyncpg.Connection, c: CredentialRecord) -> bool:
    """Insert; False when the enrollment already has its credential (redelivery)."""
    inserted = await conn.fetchval(
        """INSERT INTO credentials (id, enrollment_id, program_id, provider_id, learner_id,
               achievement_name, status, jwt, kid, status_list_id, status_index, issued_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (enrollment_id) DO NOTHING RETURNING true""",
        c.id,
        c.enrollment_id,
        c.program_id,
        c.provider_id,
        c.learner_id,
        c.achievement_name,
        c.status,
        c.jwt,
        c.kid,
        c.status_list_id,
        c.status_index,
        c.issued_at,
    )
    return bool(inserted)


async def get(
    conn: asyncpg.Connection, credential_id: str, *, for_update: bool = False
) -> CredentialRecord:
    row = await conn.fetchrow(
        f"SELECT * FROM credentials WHERE id = $1 {'FOR UPDATE' if for_update else ''}",
        credential_id,
    )
    if row is None:
        raise NotFoundError(f"credential {credential_id} not found")
    return _record(row)


async def revoke(conn: asyncpg.Connection, c: CredentialRecord) -> None:
    await conn.execute(
        """UPDATE credentials SET status = 'REVOKED', revoked_at = $2, revocation_reason = $3
           WHERE id = $1""",
        c.id,
        c.revoked_at,
        c.revocation_reason,
    )


async def revoked_indexes(conn: asyncpg.Connection, list_id: str) -> tuple[int, list[int]] | None:
    """(list size, revoked indexes), or None when the list does not exist."""
    size = await conn.fetchval("SELECT size FROM status_lists WHERE id = $1", list_id)
    if size is None:
        return None
    rows = await conn.fetch(
        "SELECT status_index FROM credentials WHERE status_list_id = $1 AND status = 'REVOKED'",
        list_id,
    )
    return size, [r["status_index"] for r in rows]


async def is_revoked(conn: asyncpg.Connection, list_id: str, index: int) -> bool | None:
    """Whether the bit is set; None when this service holds no such list."""
    listed = await conn.fetchval("SELECT size > $2 FROM status_lists WHERE id = $1", list_id, index)
    if not listed:
        return None
    revoked = await conn.fetchval(
        """SELECT true FROM credentials
           WHERE status_list_id = $1 AND status_index = $2 AND status = 'REVOKED'""",
        list_id,
        index,
    )
    return bool(revoked)


LISTING = Listing("credentials", table="credentials", time="issued_at")


async def list_for(
    conn: asyncpg.Connection, scope: OwnerScope, page: Page
) -> list[CredentialRecord]:
    where = Where().visible_to(scope)
    return [_record(r) for r in await fetch_page(conn, "SELECT * FROM credentials", where, page)]
