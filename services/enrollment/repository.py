"""Enrollment persistence."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.common.errors import (
    AlreadyExistsError,
    ResourceExhaustedError,
)
from services.common.paging import Listing, Page
from services.common.sql import OwnerScope, fetch_by_id, fetch_visible
from services.enrollment.domain import Enrollment, Price, Status
from services.enrollment.seats import SEAT_HOLDING


def _enrollment(row: Any) -> Enrollment:
    return Enrollment(
        id=str(row["id"]),
        learner_id=row["learner_id"],
        learner_email=row["learner_email"],
        program_id=str(row["program_id"]),
        provider_id=str(row["provider_id"]),
        price=Price(row["price_minor"], row["currency"]),
        status=Status(row["status"]),
        payment_id=str(row["payment_id"] or ""),
        checkout_url=row["checkout_url"],
        credential_id=str(row["credential_id"] or ""),
        grade=row["grade"],
        evidence_url=row["evidence_url"],
        idempotency_key=row["idempotency_key"],
        snapshot=bytes(row["snapshot"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def get(
    conn: asyncpg.Connection, enrollment_id: str, *, for_update: bool = False
) -> Enrollment:
    return _enrollment(
        await fetch_by_id(
            conn, "enrollments", enrollment_id, what="enrollment", for_update=for_update
        )
    )


async def find_by_key(conn: asyncpg.Connection, learner_id: str, key: str) -> Enrollment | None:
    row = await conn.fetchrow(
        "SELECT * FROM enrollments WHERE learner_id = $1 AND idempotency_key = $2",
        learner_id,
        key,
    )
    return _enrollment(row) if row else None


async def find_live(
    conn: asyncpg.Connection, learner_id: str, program_id: str
) -> Enrollment | None:
    row = await conn.fetchrow(
        """SELECT * FROM enrollments WHERE learner_id = $1 AND program_id = $2
           AND status = ANY($3::text[])""",
        learner_id,
        program_id,
        [s.value for s in SEAT_HOLDING],
    )
    return _enrollment(row) if row else None


async def reserve_seat(conn: asyncpg.Connection, program_id: str, capacity: int | None) -> None:
    """Serialise enrollments per program and refuse one past capacity (call in a transaction)."""
    await conn.execute(
        "INSERT INTO program_seats (program_id) VALUES ($1) ON CONFLICT DO NOTHING", program_id
    )
    await conn.execute("SELECT 1 FROM program_seats WHERE program_id = $1 FOR UPDATE", program_id)
    if capacity is None:
        return
    taken = await conn.fetchval(
        "SELECT count(*) FROM enrollments WHERE program_id = $1 AND status = ANY($2::text[])",
        program_id,
        [s.value for s in SEAT_HOLDING],
    )
    if taken >= capacity:
        raise ResourceExhaustedError(f"program {program_id} is sold out ({capacity} seats)")


async def add(conn: asyncpg.Connection, e: Enrollment) -> None:
    try:
        await conn.execute(
            """INSERT INTO enrollments (id, learner_id, learner_email, program_id, provider_id,
                   snapshot, price_minor, currency, status, idempotency_key, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
            e.id,
            e.learner_id,
            e.learner_email,
            e.program_id,
            e.provider_id,
            e.snapshot,
            e.price.amount_minor,
            e.price.currency,
            e.status.value,
            e.idempotency_key,
            e.created_at,
            e.updated_at,
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "enrollments_one_live":
            raise AlreadyExistsError(
                f"learner already has an enrollment in program {e.program_id}"
            ) from None
        raise


async def save(conn: asyncpg.Connection, e: Enrollment) -> None:
    await conn.execute(
        """UPDATE enrollments SET status = $2, payment_id = $3, checkout_url = $4,
               credential_id = $5, grade = $6, evidence_url = $7, updated_at = $8
           WHERE id = $1""",
        e.id,
        e.status.value,
        e.payment_id or None,
        e.checkout_url,
        e.credential_id or None,
        e.grade,
        e.evidence_url,
        e.updated_at,
    )


LISTING = Listing("enrollments", table="enrollments")


async def list_for(conn: asyncpg.Connection, scope: OwnerScope, page: Page) -> list[Enrollment]:
    return [
        _enrollment(r) for r in await fetch_visible(conn, "SELECT * FROM enrollments", scope, page)
    ]
