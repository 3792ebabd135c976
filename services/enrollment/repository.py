"""Enrollment persistence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.common.consumer import Inbox
from services.common.errors import (
    AlreadyExistsError,
    ResourceExhaustedError,
)
from services.common.outbox import Then
from services.common.paging import Listing, Page
from services.common.sql import OwnerScope, Statement, Where, fetch_by_id, fetch_page, is_uuid
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


# The program's seat lock, and when `counted` the seats taken, as kept on the program's
# seat row (migrations 0310, 0600 and 0700 say how and why; uncounted, it forgets a kept
# number): $1 the program, $2 counted.
_LOCK_AND_COUNT = "lock_and_count_seats($1::uuid, $2::boolean)"


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
    taken = await conn.fetchval(f"SELECT {_LOCK_AND_COUNT}", program_id, capacity is not None)
    if capacity is not None and taken + count > capacity:
        raise sold_out(program_id, capacity, taken)


async def taken_seats(conn: asyncpg.Connection, program_ids: list[str]) -> dict[str, int]:
    """Seats taken per program: the number reserve_seat compares with the capacity (kept on
    the program's seat row, migration 0600), or counted the same way (count_seats) for a
    program whose number is not kept (no counted check yet). Unlocked: what is committed."""
    rows = await conn.fetch(
        """SELECT p.id AS program_id, coalesce(s.taken, count_seats(p.id)) AS taken
             FROM unnest($1::uuid[]) AS p (id)
             LEFT JOIN program_seats s ON s.program_id = p.id""",
        program_ids,
    )
    return {str(r["program_id"]): r["taken"] for r in rows if r["taken"]}


def one_live(exc: asyncpg.UniqueViolationError, program_id: str) -> Exception:
    if exc.constraint_name == "enrollments_one_live":
        return AlreadyExistsError(f"learner already has an enrollment in program {program_id}")
    return exc


@dataclass(frozen=True)
class PackSeat:
    """A sponsored enrollment's seat: its pack and the invitation it was redeemed with."""

    seat_pack_id: str
    seat_invitation_id: str


async def add(conn: asyncpg.Connection, e: Enrollment, seat: PackSeat | None = None) -> None:
    """Insert an enrollment that takes no seat of its program through reserve_seat: a
    sponsored one, inserted on its pack's `seat` (so the seat count never sees it as one of
    the program's own seats, and its insert does not touch the program's seat row)."""
    try:
        await conn.execute(
            """INSERT INTO enrollments (id, learner_id, learner_email, program_id, provider_id,
                   snapshot, price_minor, currency, status, idempotency_key, created_at,
                   updated_at, seat_pack_id, seat_invitation_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)""",
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
            seat.seat_pack_id if seat else None,
            seat.seat_invitation_id if seat else None,
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
            SELECT $4::uuid, $5::text, $6::text, $1::uuid, $7::uuid, $8::bytea, $9::bigint,
                   $10::char(3), $11::text, $12::text, $13::timestamptz, $14::timestamptz
              FROM taken WHERE $3::bigint IS NULL OR taken.n + 1 <= $3::bigint
            RETURNING true""",
        (
            e.program_id,
            capacity is not None,
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


# The columns save() writes, in the order of its parameters $2, $3, ...
_SAVED = ("status", "payment_id", "checkout_url", "credential_id", "grade", "evidence_url")
_SAVED_AT = "updated_at"


def save(e: Enrollment, *, consumed: bool = False) -> Statement:
    """The UPDATE that writes an enrollment's new state (a row back: it did). The unit of
    work runs it with the outbox rows of the enrollment's events, as one statement.
    `consumed`: only if the CTE `inbox` (consumed_as_read) has a row."""
    only = " AND EXISTS (SELECT FROM inbox)" if consumed else ""
    columns = ", ".join(f"{c} = ${i}" for i, c in enumerate((*_SAVED, _SAVED_AT), start=2))
    return Statement(
        f"""UPDATE enrollments SET {columns}
           WHERE id = $1{only}
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


async def peek_consumed(
    conn: asyncpg.Connection, inbox: Inbox, enrollment_id: str
) -> tuple[bool, Enrollment | None]:
    """Whether the delivery `inbox` was handled before (its inbox row committed), and the
    enrollment with id `enrollment_id` (None: none), unlocked, in one round trip: what a
    consumed event is decided on before consumed_as_read writes it, under its own check."""
    row = await conn.fetchrow(
        f"""SELECT {Inbox.seen_sql(1)} AS seen, e.*
              FROM (SELECT 1) one
              LEFT JOIN enrollments e ON e.id = $3::uuid""",
        *inbox.key,
        enrollment_id if is_uuid(enrollment_id) else None,
    )
    assert row is not None
    return bool(row["seen"]), (_enrollment(row) if row["id"] is not None else None)


def consumed_as_read(as_read: Enrollment, inbox: Inbox) -> Then:
    """What a consumed event's save (save(..., consumed=True)) needs first when it was
    decided on an unlocked read (peek_consumed): `as_read`, the enrollment as it was read,
    before the event changed it. Locks the row only if it still holds, in every column the
    save writes, what was read (so the save overwrites nothing it did not decide on, and
    the decision's inputs, status and payment, are unchanged); then the inbox row, only
    for a row so locked; the save and its outbox rows only if the inbox row inserted.

    So the statement, run on its own, writes all of that or nothing: nothing when the
    enrollment changed after the read (its lock waited for, the newest row checked), or
    when the event was handled, or is being handled, by another delivery (the inbox's
    primary key decides; a concurrent insert is waited for). The caller decides again
    under the lock then. The lock comes before the inbox row, as payments' claim does; a
    concurrent delivery of the same event on the locked path takes them the other way
    round, and PostgreSQL's deadlock detector ends one of the two, which is retried."""
    current = save(as_read).args
    guard = " AND ".join(
        f"{c} IS NOT DISTINCT FROM ${i}" for i, c in enumerate((*_SAVED, _SAVED_AT), start=2)
    )
    inbox_at = len(current) + 1
    return Then(
        first=f"""ready AS MATERIALIZED (
                 SELECT id FROM enrollments WHERE id = $1::uuid AND {guard} FOR UPDATE),
             inbox AS ({Inbox.insert_sql(inbox_at, source="ready")})""",
        ctes="",
        select="SELECT true AS written",
        args=(*current, *inbox.row),
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
