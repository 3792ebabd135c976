"""Enrollment persistence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.common.errors import (
    AlreadyExistsError,
    ResourceExhaustedError,
)
from services.common.paging import Listing, Page
from services.common.sql import OwnerScope, Statement, Where, fetch_by_id, fetch_page
from services.enrollment.domain import Enrollment, Price, Status
from services.enrollment.seats import PACK_SEAT_HOLDING, SEAT_HOLDING


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


# For the employers' team view (services/enrollment/employers.py), which reads enrollments too.
enrollment_from_row = _enrollment


async def get(
    conn: asyncpg.Connection, enrollment_id: str, *, for_update: bool = False
) -> Enrollment:
    return _enrollment(
        await fetch_by_id(
            conn, "enrollments", enrollment_id, what="enrollment", for_update=for_update
        )
    )


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


async def find_keyed_and_live(
    conn: asyncpg.Connection, learner_id: str, key: str, program_id: str
) -> tuple[Enrollment | None, Enrollment | None]:
    """find_by_key (when `key` is not empty) and find_live, in one statement: the
    learner's enrollment under this idempotency key, and their live one in the program
    (the same enrollment, or either of them None)."""
    rows = await conn.fetch(
        """SELECT *, idempotency_key <> '' AND idempotency_key = $2 AS keyed,
                  program_id = $3 AND status = ANY($4::text[]) AS live
             FROM enrollments
            WHERE learner_id = $1
              AND ((idempotency_key <> '' AND idempotency_key = $2)
                   OR (program_id = $3 AND status = ANY($4::text[])))""",
        learner_id,
        key,
        program_id,
        [s.value for s in SEAT_HOLDING],
    )
    keyed = next((_enrollment(r) for r in rows if r["keyed"]), None)
    live = next((_enrollment(r) for r in rows if r["live"]), None)
    return keyed, live


# The program's seat lock, and when `counted` the seats taken, read after the lock was
# granted (migration 0310 says how and why): $1 the program, $2 counted, $3 the seat-holding
# states of enrollments, $4 those of seat packs.
_LOCK_AND_COUNT = "lock_and_count_seats($1::uuid, $2::boolean, $3::text[], $4::text[])"


def _seat_states() -> tuple[list[str], list[str]]:
    return [s.value for s in SEAT_HOLDING], list(PACK_SEAT_HOLDING)


def sold_out(program_id: str, capacity: int, taken: int) -> ResourceExhaustedError:
    left = max(capacity - taken, 0)
    return ResourceExhaustedError(
        f"program {program_id} is sold out ({capacity} seats)"
        if left == 0
        else f"program {program_id} has only {left} seats left"
    )


async def reserve_seat(
    conn: asyncpg.Connection, program_id: str, capacity: int | None, *, count: int = 1
) -> None:
    """Take the program's seat lock until commit (call in a transaction) and refuse `count`
    seats past `capacity`; without a capacity the lock is shared and nothing is counted."""
    taken = await conn.fetchval(
        f"SELECT {_LOCK_AND_COUNT}", program_id, capacity is not None, *_seat_states()
    )
    if capacity is not None and taken + count > capacity:
        raise sold_out(program_id, capacity, taken)


async def taken_seats(conn: asyncpg.Connection, program_ids: list[str]) -> dict[str, int]:
    """Seats held per program (the count reserve_seat compares with the capacity)."""
    rows = await conn.fetch(
        """SELECT program_id, count(*) AS taken FROM enrollments
           WHERE program_id = ANY($1::uuid[]) AND status = ANY($2::text[])
           GROUP BY program_id""",
        program_ids,
        [s.value for s in SEAT_HOLDING],
    )
    return {str(r["program_id"]): r["taken"] for r in rows}


def one_live(exc: asyncpg.UniqueViolationError, program_id: str) -> Exception:
    if exc.constraint_name == "enrollments_one_live":
        return AlreadyExistsError(f"learner already has an enrollment in program {program_id}")
    return exc


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
        raise one_live(exc, e.program_id) from None


def add_in_seat(e: Enrollment, capacity: int | None) -> Statement:
    """A bought enrollment's insert, after its program's seat lock and, with a `capacity`,
    only if a seat is left: one statement, which the unit of work runs with the outbox rows
    of the enrollment's events. It returns no row (writes nothing) when the program is full;
    a second live enrollment of the learner in the program violates enrollments_one_live."""
    return Statement(
        f"""WITH taken AS (SELECT {_LOCK_AND_COUNT} AS n)
            INSERT INTO enrollments (id, learner_id, learner_email, program_id, provider_id,
                snapshot, price_minor, currency, status, idempotency_key, created_at,
                updated_at)
            SELECT $6::uuid, $7::text, $8::text, $1::uuid, $9::uuid, $10::bytea, $11::bigint,
                   $12::char(3), $13::text, $14::text, $15::timestamptz, $16::timestamptz
              FROM taken WHERE $5::bigint IS NULL OR taken.n + 1 <= $5::bigint
            RETURNING true""",
        (
            e.program_id,
            capacity is not None,
            *_seat_states(),
            capacity,
            e.id,
            e.learner_id,
            e.learner_email,
            e.provider_id,
            e.snapshot,
            e.price.amount_minor,
            e.price.currency,
            e.status.value,
            e.idempotency_key,
            e.created_at,
            e.updated_at,
        ),
    )


def save(e: Enrollment) -> Statement:
    """The UPDATE that writes an enrollment's new state (a row back: it did). The unit of
    work runs it with the outbox rows of the enrollment's events, as one statement."""
    return Statement(
        """UPDATE enrollments SET status = $2, payment_id = $3, checkout_url = $4,
               credential_id = $5, grade = $6, evidence_url = $7, updated_at = $8
           WHERE id = $1
           RETURNING true""",
        (
            e.id,
            e.status.value,
            e.payment_id or None,
            e.checkout_url,
            e.credential_id or None,
            e.grade,
            e.evidence_url,
            e.updated_at,
        ),
    )


async def attach_checkout(
    conn: asyncpg.Connection, enrollment_id: str, payment_id: str, checkout_url: str
) -> Enrollment | None:
    """Attach a checkout to the enrollment if it is still PENDING_PAYMENT without one (and
    without another payment), in one statement: the UPDATE locks the row and re-checks
    the condition on what the previous holder committed, as a locked read, the domain's
    check (Enrollment.attach_checkout) and a write did in a transaction of four round
    trips. None when it no longer qualifies; attach_checkout raises no event."""
    row = await conn.fetchrow(
        """UPDATE enrollments SET payment_id = $2, checkout_url = $3, updated_at = $4
            WHERE id = $1 AND status = $5 AND checkout_url = ''
              AND (payment_id IS NULL OR payment_id = $2)
        RETURNING *""",
        enrollment_id,
        payment_id,
        checkout_url,
        datetime.now(UTC),
        Status.PENDING_PAYMENT.value,
    )
    return _enrollment(row) if row is not None else None


def attach_credential(enrollment_id: str, credential_id: str, *, when: str) -> Statement:
    """Record the enrollment's credential, whatever its state (no rule guards it, and it
    raises no event), in one statement, only if `when` (SQL) holds; a row back: it did (no
    row: no enrollment has that id, or `when` was false). The consumer runs it with the
    event's inbox row (services/common/consumer.py, OneStatement)."""
    return Statement(
        f"""UPDATE enrollments SET credential_id = $2, updated_at = $3
             WHERE id = $1 AND {when}
         RETURNING true""",
        (enrollment_id, credential_id or None, datetime.now(UTC)),
    )


LISTING = Listing("enrollments", table="enrollments")


@dataclass(frozen=True)
class EnrollmentFilter:
    """A listing's scope (whose enrollments) and its optional state filter; a page
    token is bound to both."""

    scope: OwnerScope
    status: str = ""


async def list_for(
    conn: asyncpg.Connection, scope: OwnerScope, page: Page, *, status: str = ""
) -> list[Enrollment]:
    where = Where().visible_to(scope)
    if status:
        where.add("status = {}", status)
    return [
        _enrollment(r) for r in await fetch_page(conn, "SELECT * FROM enrollments", where, page)
    ]
