"""Save a payment and stage its events in the outbox, in the caller's transaction."""

from __future__ import annotations

from typing import Any

import asyncpg
from google.protobuf.message import Message

from services.common import unit_of_work
from services.payments import repository
from services.payments.domain import Payment
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
