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


async def commit_claimed_charge(
    conn: asyncpg.Connection,
    payment: Payment,
    entry: LedgerEntry,
    claim: repository.WebhookClaim,
    session_id: str,
    gateway: str,
) -> bool:
    """A checkout's success decided on an unlocked read: the claim of its webhook event,
    the payment's save, its events and its charge in one statement, run on its own (its
    implicit transaction commits all or nothing: repository.claimed_charge). False when it
    wrote nothing (the payment was no longer PENDING with that session and gateway, events
    wait for its success, or the event was claimed already): the caller decides again under
    the lock."""
    rows = await unit_of_work.commit_then(
        conn,
        payment,
        statement=lambda p: repository.save(p, claimed=True),
        then=repository.claimed_charge(entry, claim, session_id, gateway),
        message_of=_message_of,
        source=SOURCE,
        subject=payment.id,
        standalone=True,
    )
    return rows is not None
