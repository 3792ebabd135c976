"""Payments persistence: payments, the payouts ledger, the webhook inbox and anomalies.

Saving a payment also stages the events it raised in the outbox, on the same connection,
so state and events commit (or roll back) together.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
from google.protobuf.message import Message
from upskill.payments.v1 import events_pb2
from upskill.type.v1 import money_pb2

from services.common.errors import NotFoundError
from services.common.outbox import enqueue
from services.common.protos import timestamp
from services.payments.domain import (
    DomainEvent,
    LedgerEntry,
    Money,
    Payment,
    PaymentStatus,
    PaymentSucceededEvent,
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


def event_message(event: DomainEvent) -> Message:
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
    return events_pb2.PaymentFailed(
        payment_id=event.payment_id,
        enrollment_id=event.enrollment_id,
        reason=event.reason,
        occur_time=timestamp(event.occurred_at),
    )
