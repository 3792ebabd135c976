"""Save a payment and stage its events in the outbox, in the caller's transaction."""

from __future__ import annotations

from typing import Any

import asyncpg
from google.protobuf.message import Message

from services.common import unit_of_work
from services.payments import repository
from services.payments.domain import LedgerEntry, Payment
from services.payments.messages import event_message

SOURCE = "upskill.payments"


def _message_of(_: Payment, event: Any) -> Message:
    return event_message(event)


async def commit(conn: asyncpg.Connection, payment: Payment) -> None:
    """Save the payment and stage its events, in one statement (repository.save)."""
    saved = await unit_of_work.commit(
        conn,
        payment,
        statement=repository.save,
        message_of=_message_of,
        source=SOURCE,
        subject=payment.id,
    )
    if not saved:  # the caller read the payment in this transaction: it cannot be gone
        raise RuntimeError(f"payment {payment.id} was not saved: no such row")


async def commit_charge(
    conn: asyncpg.Connection,
    payment: Payment,
    entry: LedgerEntry,
    outcome: repository.WebhookOutcome,
) -> list[dict[str, Any]]:
    """commit, and with it repository.charge_booking's writes and read, in one statement:
    the payment's success, its events, its charge in the ledger and the outcome of the
    webhook that succeeded it; the events deferred until it succeeded."""
    rows = await unit_of_work.commit_then(
        conn,
        payment,
        statement=repository.save,
        then=repository.charge_booking(entry, outcome),
        message_of=_message_of,
        source=SOURCE,
        subject=payment.id,
    )
    if rows is None:  # the caller read the payment in this transaction: it cannot be gone
        raise RuntimeError(f"payment {payment.id} was not saved: no such row")
    return repository.deferred_payloads(rows)
