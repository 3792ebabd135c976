"""Payments persistence: payments, the payouts ledger, the webhook inbox and anomalies.

Saving a payment also stages the events it raised in the outbox, on the same connection,
so state and events commit (or roll back) together.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from google.protobuf.message import Message
from upskill.payments.v1 import events_pb2
from upskill.type.v1 import money_pb2

from services.common.errors import NotFoundError
from services.common.outbox import enqueue
from services.common.paging import Listing, Page
from services.common.protos import timestamp
from services.common.sql import Where, fetch_page
from services.payments.domain import (
    DomainEvent,
    LedgerEntry,
    Money,
    Payment,
    PaymentFailedEvent,
    PaymentRefundedEvent,
    PaymentStatus,
    PaymentSucceededEvent,
    Refund,
    RefundStatus,
)

SOURCE = "upskill.payments"

_COLUMNS = """id, enrollment_id, learner_id, learner_email, provider_id, amount_minor, currency,
    description, status, gateway, checkout_session_id, checkout_url, success_url, cancel_url,
    gateway_payment_id, failure_reason, expires_at, created_at, updated_at"""


def _payment(row: Any) -> Payment:
    return Payment(
        id=str(row["id"]),
        enrollment_id=str(row["enrollment_id"]),
        learner_id=row["learner_id"],
        learner_email=row["learner_email"],
        provider_id=str(row["provider_id"]),
        amount=Money(row["amount_minor"], row["currency"]),
        description=row["description"],
        gateway=row["gateway"],
        status=PaymentStatus(row["status"]),
        checkout_session_id=row["checkout_session_id"] or "",
        checkout_url=row["checkout_url"],
        success_url=row["success_url"],
        cancel_url=row["cancel_url"],
        gateway_payment_id=row["gateway_payment_id"],
        failure_reason=row["failure_reason"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def add_or_get(conn: asyncpg.Connection, payment: Payment) -> Payment:
    """Insert `payment`, or return the one that already exists for its enrollment.

    ON CONFLICT (not check-then-insert) so two concurrent retries end with one row.
    """
    row = await conn.fetchrow(
        f"""INSERT INTO payments (id, enrollment_id, learner_id, learner_email, provider_id,
                amount_minor, currency, description, status, gateway, success_url, cancel_url,
                expires_at, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
            ON CONFLICT (enrollment_id) DO NOTHING
            RETURNING {_COLUMNS}""",
        payment.id,
        payment.enrollment_id,
        payment.learner_id,
        payment.learner_email,
        payment.provider_id,
        payment.amount.amount_minor,
        payment.amount.currency,
        payment.description,
        payment.status.value,
        payment.gateway,
        payment.success_url,
        payment.cancel_url,
        payment.expires_at,
        payment.created_at,
    )
    if row is None:
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM payments WHERE enrollment_id = $1", payment.enrollment_id
        )
    assert row is not None
    return _payment(row)


async def attach_session(
    conn: asyncpg.Connection, payment_id: str, gateway: str, session_id: str, url: str
) -> Payment:
    """Record the gateway's checkout session on the payment: first writer wins, and only
    while the payment is still PENDING (one the expiry sweep closed meanwhile keeps no URL
    that a learner could still pay)."""
    row = await conn.fetchrow(
        f"""UPDATE payments
               SET checkout_session_id = $3, checkout_url = $4, gateway = $2, updated_at = now()
             WHERE id = $1 AND checkout_session_id IS NULL AND status = 'PENDING'
            RETURNING {_COLUMNS}""",
        payment_id,
        gateway,
        session_id,
        url,
    )
    if row is None:  # a concurrent retry attached the same session first, or it closed
        return await get(conn, payment_id)
    return _payment(row)


async def get(conn: asyncpg.Connection, payment_id: str, *, for_update: bool = False) -> Payment:
    found = await find(conn, payment_id, for_update=for_update)
    if found is None:
        raise NotFoundError(f"payment {payment_id} not found")
    return found


async def find(
    conn: asyncpg.Connection, payment_id: str, *, for_update: bool = False
) -> Payment | None:
    if not _is_uuid(payment_id):
        return None
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM payments WHERE id = $1{lock}", payment_id)
    return _payment(row) if row else None


async def find_by_session(
    conn: asyncpg.Connection, session_id: str, *, for_update: bool = False
) -> Payment | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM payments WHERE checkout_session_id = $1{lock}", session_id
    )
    return _payment(row) if row else None


async def lock_unopened_past_expiry(conn: asyncpg.Connection, limit: int) -> list[Payment]:
    """PENDING payments whose checkout was never opened and whose time is up, locked."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM payments
             WHERE status = 'PENDING' AND checkout_session_id IS NULL AND expires_at <= now()
             ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED""",
        limit,
    )
    return [_payment(row) for row in rows]


async def save(conn: asyncpg.Connection, payment: Payment) -> None:
    """Write the payment's new state and stage the events it raised, in the caller's
    transaction."""
    await conn.execute(
        """UPDATE payments
              SET status = $2, checkout_session_id = NULLIF($3, ''), gateway_payment_id = $4,
                  failure_reason = $5, updated_at = $6
            WHERE id = $1""",
        payment.id,
        payment.status.value,
        payment.checkout_session_id,
        payment.gateway_payment_id,
        payment.failure_reason,
        payment.updated_at,
    )
    for event in payment.collect_events():
        await enqueue(conn, event_message(event), source=SOURCE, subject=payment.id)


async def add_ledger_entry(conn: asyncpg.Connection, entry: LedgerEntry) -> None:
    await conn.execute(
        """INSERT INTO payout_ledger (payment_id, provider_id, kind, currency, gross_amount_minor,
               platform_fee_minor, provider_net_minor, fee_bps)
           VALUES ($1, $2, 'charge', $3, $4, $5, $6, $7)""",
        entry.payment_id,
        entry.provider_id,
        entry.currency,
        entry.gross_minor,
        entry.fee_minor,
        entry.net_minor,
        entry.fee_bps,
    )


async def record_webhook_event(
    conn: asyncpg.Connection, event_id: str, event_type: str, payload: dict[str, Any]
) -> bool:
    """Claim a gateway event id for this transaction; False when it was handled before.

    The primary key decides, so two concurrent deliveries of one event apply it once: the
    second insert waits for the first transaction and then finds the row.
    """
    inserted = await conn.fetchval(
        """INSERT INTO webhook_events (event_id, event_type, outcome, payload)
           VALUES ($1, $2, 'received', $3::jsonb)
           ON CONFLICT (event_id) DO NOTHING
           RETURNING true""",
        event_id,
        event_type,
        json.dumps(payload),
    )
    return bool(inserted)


async def set_webhook_outcome(
    conn: asyncpg.Connection, event_id: str, outcome: str, payment_id: str | None
) -> None:
    await conn.execute(
        "UPDATE webhook_events SET outcome = $2, payment_id = $3 WHERE event_id = $1",
        event_id,
        outcome,
        payment_id,
    )


async def add_anomaly(
    conn: asyncpg.Connection, *, payment_id: str | None, event_id: str, kind: str, detail: str
) -> None:
    await conn.execute(
        """INSERT INTO payment_anomalies (payment_id, event_id, kind, detail)
           VALUES ($1, $2, $3, $4)""",
        payment_id,
        event_id,
        kind,
        detail,
    )


async def find_by_enrollment(
    conn: asyncpg.Connection, enrollment_id: str, *, for_update: bool = False
) -> Payment | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM payments WHERE enrollment_id = $1{lock}", enrollment_id
    )
    return _payment(row) if row else None


# ------------------------------------------------------------------ closed enrollments


@dataclass(frozen=True)
class Closure:
    enrollment_id: str
    reason: str
    attempts: int


async def record_closed_enrollment(
    conn: asyncpg.Connection, enrollment_id: str, reason: str
) -> bool:
    """Remember that the enrollment closed; False when it was known already."""
    inserted = await conn.fetchval(
        """INSERT INTO closed_enrollments (enrollment_id, reason) VALUES ($1, $2)
           ON CONFLICT (enrollment_id) DO NOTHING RETURNING true""",
        enrollment_id,
        reason,
    )
    return bool(inserted)


async def is_enrollment_closed(conn: asyncpg.Connection, enrollment_id: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM closed_enrollments WHERE enrollment_id = $1", enrollment_id
        )
    )


async def claim_due_closures(
    conn: asyncpg.Connection, limit: int, lease_seconds: float
) -> list[Closure]:
    """Closed enrollments whose checkout may still be open, leased to this worker (no
    transaction is held while the gateway is called; a dead worker's lease runs out)."""
    rows = await conn.fetch(
        """UPDATE closed_enrollments
              SET attempts = attempts + 1,
                  next_attempt_at = now() + make_interval(secs => $2)
            WHERE enrollment_id IN (
                SELECT enrollment_id FROM closed_enrollments
                 WHERE settled_at IS NULL AND next_attempt_at <= now()
                 ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING enrollment_id, reason, attempts""",
        limit,
        lease_seconds,
    )
    return [Closure(str(r["enrollment_id"]), r["reason"], r["attempts"]) for r in rows]


async def settle_closure(conn: asyncpg.Connection, enrollment_id: str) -> None:
    await conn.execute(
        "UPDATE closed_enrollments SET settled_at = now(), last_error = '' WHERE enrollment_id = $1",
        enrollment_id,
    )


async def retry_closure(
    conn: asyncpg.Connection, enrollment_id: str, error: str, delay_seconds: float
) -> None:
    await conn.execute(
        """UPDATE closed_enrollments
              SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3)
            WHERE enrollment_id = $1""",
        enrollment_id,
        error[:2000],
        delay_seconds,
    )


# ------------------------------------------------------------------ refunds

_REFUND_COLUMNS = """r.id, r.payment_id, r.idempotency_key, r.amount_minor, r.currency, r.reason,
    r.full_refund, r.status, r.gateway, r.gateway_refund_id, r.attempts, r.last_error,
    r.created_at, r.completed_at, p.enrollment_id, p.learner_id, p.provider_id"""


def _refund(row: Any) -> Refund:
    return Refund(
        id=str(row["id"]),
        payment_id=str(row["payment_id"]),
        idempotency_key=row["idempotency_key"],
        amount=Money(row["amount_minor"], row["currency"]),
        reason=row["reason"],
        full_refund=row["full_refund"],
        gateway=row["gateway"],
        status=RefundStatus(row["status"]),
        gateway_refund_id=row["gateway_refund_id"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        completed_at=row["completed_at"],
        enrollment_id=str(row["enrollment_id"]),
        learner_id=row["learner_id"],
        provider_id=str(row["provider_id"]),
    )


async def add_refund(conn: asyncpg.Connection, refund: Refund) -> bool:
    """Record a refund to make; False when one with its idempotency key exists already."""
    inserted = await conn.fetchval(
        """INSERT INTO refunds (id, payment_id, idempotency_key, amount_minor, currency, reason,
               full_refund, status, gateway, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (idempotency_key) DO NOTHING RETURNING true""",
        refund.id,
        refund.payment_id,
        refund.idempotency_key,
        refund.amount.amount_minor,
        refund.amount.currency,
        refund.reason,
        refund.full_refund,
        refund.status.value,
        refund.gateway,
        refund.created_at,
    )
    return bool(inserted)


async def claim_due_refunds(
    conn: asyncpg.Connection, limit: int, lease_seconds: float
) -> list[Refund]:
    """PENDING refunds that are due, leased to this worker (see claim_due_closures)."""
    rows = await conn.fetch(
        f"""WITH claimed AS (
                UPDATE refunds
                   SET attempts = attempts + 1,
                       next_attempt_at = now() + make_interval(secs => $2)
                 WHERE id IN (
                     SELECT id FROM refunds
                      WHERE status = 'PENDING' AND next_attempt_at <= now()
                      ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                RETURNING *)
            SELECT {_REFUND_COLUMNS} FROM claimed r JOIN payments p ON p.id = r.payment_id""",
        limit,
        lease_seconds,
    )
    return [_refund(r) for r in rows]


async def get_refund(
    conn: asyncpg.Connection, refund_id: str, *, for_update: bool = False
) -> Refund:
    lock = " FOR UPDATE OF r" if for_update else ""
    row = await conn.fetchrow(
        f"""SELECT {_REFUND_COLUMNS} FROM refunds r JOIN payments p ON p.id = r.payment_id
             WHERE r.id = $1{lock}""",
        refund_id,
    )
    if row is None:
        raise NotFoundError(f"refund {refund_id} not found")
    return _refund(row)


async def save_refund(conn: asyncpg.Connection, refund: Refund) -> None:
    await conn.execute(
        """UPDATE refunds SET status = $2, gateway_refund_id = $3, last_error = $4,
               completed_at = $5
           WHERE id = $1""",
        refund.id,
        refund.status.value,
        refund.gateway_refund_id,
        refund.last_error[:2000],
        refund.completed_at,
    )


async def retry_refund(
    conn: asyncpg.Connection, refund_id: str, error: str, delay_seconds: float
) -> None:
    await conn.execute(
        """UPDATE refunds SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3)
            WHERE id = $1 AND status = 'PENDING'""",
        refund_id,
        error[:2000],
        delay_seconds,
    )


async def add_refund_ledger_line(conn: asyncpg.Connection, refund: Refund) -> None:
    """Book a full refund as the exact reverse of the payment's charge line (the platform
    gives its fee back too)."""
    if not refund.full_refund:
        raise ValueError("only full refunds are booked today")
    await conn.execute(
        """INSERT INTO payout_ledger (payment_id, provider_id, kind, currency, gross_amount_minor,
               platform_fee_minor, provider_net_minor, fee_bps, refund_id)
           SELECT payment_id, provider_id, 'refund', currency, -gross_amount_minor,
                  -platform_fee_minor, -provider_net_minor, fee_bps, $2
             FROM payout_ledger WHERE payment_id = $1 AND kind = 'charge'""",
        refund.payment_id,
        refund.id,
    )


REFUNDS = Listing("refunds", table="r")


@dataclass(frozen=True)
class RefundFilter:
    """The filters of the operators' refund listing (also what its page tokens bind to)."""

    enrollment_id: str = ""


async def list_refunds(conn: asyncpg.Connection, filters: RefundFilter, page: Page) -> list[Refund]:
    """Newest first, one page of the shared keyset listing."""
    where = Where()
    if filters.enrollment_id:
        where.add("p.enrollment_id = {}::uuid", filters.enrollment_id)
    rows = await fetch_page(
        conn,
        f"SELECT {_REFUND_COLUMNS} FROM refunds r JOIN payments p ON p.id = r.payment_id",
        where,
        page,
    )
    return [_refund(r) for r in rows]


def event_message(event: DomainEvent) -> Message:
    if isinstance(event, PaymentRefundedEvent):
        return events_pb2.PaymentRefunded(
            payment_id=event.payment_id,
            enrollment_id=event.enrollment_id,
            learner_id=event.learner_id,
            provider_id=event.provider_id,
            refund_id=event.refund_id,
            gateway_refund_id=event.gateway_refund_id,
            amount=money_pb2.Money(
                amount_minor=event.amount.amount_minor, currency=event.amount.currency
            ),
            reason=event.reason,
            full_refund=event.full_refund,
            gateway=event.gateway,
            occur_time=timestamp(event.occurred_at),
        )
    if isinstance(event, PaymentSucceededEvent):
        return events_pb2.PaymentSucceeded(
            payment_id=event.payment_id,
            enrollment_id=event.enrollment_id,
            learner_id=event.learner_id,
            amount=money_pb2.Money(
                amount_minor=event.amount.amount_minor, currency=event.amount.currency
            ),
            gateway=event.gateway,
            gateway_payment_id=event.gateway_payment_id,
            occur_time=timestamp(event.occurred_at),
        )
    assert isinstance(event, PaymentFailedEvent)
    return events_pb2.PaymentFailed(
        payment_id=event.payment_id,
        enrollment_id=event.enrollment_id,
        reason=event.reason,
        occur_time=timestamp(event.occurred_at),
    )
