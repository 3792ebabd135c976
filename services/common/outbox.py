"""Write an event to the outbox in the caller's transaction (never publish directly)."""

from __future__ import annotations

import asyncpg
from google.protobuf.message import Message

from services.common.events import new_envelope, subject_for
from services.common.telemetry import current_traceparent


async def enqueue(
    conn: asyncpg.Connection, message: Message, *, source: str, subject: str = ""
) -> str:
    """Stage `message` for publishing; it is sent only if the surrounding transaction commits.

    The current trace context is stored with the row, so the relay continues this trace.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("outbox.enqueue must run inside the state change's transaction")
    envelope = new_envelope(message, source=source, subject=subject)
    trace = current_traceparent()
    await conn.execute(
        """INSERT INTO outbox (id, subject, type, source, ce_subject, payload, traceparent, tracestate)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        envelope.id,
        subject_for(message),
        envelope.type,
        envelope.source,
        envelope.subject,
        message.SerializeToString(),
        trace.get("traceparent", ""),
        trace.get("tracestate", ""),
    )
    return envelope.id
