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


# Operators: rows the relay gave up on (services/common/relay.py), and sending them again.
PARKED_SQL = """
    SELECT seq, id::text AS id, subject, type, attempts, last_error, created_at, parked_at
      FROM outbox WHERE parked_at IS NOT NULL ORDER BY seq"""

# attempts starts again from 0, so the row gets the relay's full retry budget; last_error
# stays until a new attempt overwrites it.
UNPARK_SQL = """
    UPDATE outbox SET parked_at = NULL, attempts = 0, claimed_until = NULL
     WHERE parked_at IS NOT NULL AND ($1::bigint IS NULL OR seq = $1)
    RETURNING seq"""


async def parked(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(await conn.fetch(PARKED_SQL))


async def unpark(conn: asyncpg.Connection, seq: int | None) -> list[int]:
    """Hand parked rows (one, or all with seq=None) back to the relay; their seqs.

    A re-send is safe: the stream deduplicates by event id within its duplicate window,
    and consumers by their inbox after it."""
    async with conn.transaction():
        rows = await conn.fetch(UNPARK_SQL, seq)
        if rows:
            await conn.execute("SELECT pg_notify('outbox', '')")  # wake a running relay
    return sorted(r["seq"] for r in rows)
