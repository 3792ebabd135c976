"""Outbox relay: publishes committed outbox rows to JetStream, in order, at least once.

Woken by LISTEN/NOTIFY the moment a row commits (no fixed poll on the hot path), with a
slow poll as a fallback for a missed notification. Rows are claimed with FOR UPDATE
SKIP LOCKED so replicas share the work, and Nats-Msg-Id = event id makes a re-send
after a crash a no-op at the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg
from nats.js import JetStreamContext
from opentelemetry import trace

from services.common import metrics
from services.common.events import Envelope
from services.common.telemetry import context_from, current_traceparent, tracer

log = logging.getLogger(__name__)

BATCH = 100
FALLBACK_POLL_SECONDS = 5.0
RETRY_SECONDS = 1.0


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, js: JetStreamContext, dsn: str) -> None:
        self._pool = pool
        self._js = js
        self._dsn = dsn
        self._wake = asyncio.Event()
        self._tracer = tracer(__name__)

    async def run(self) -> None:
        listener = await self._listen()
        try:
            while True:
                try:
                    published = await self.drain_once()
                except Exception as exc:  # NATS or PostgreSQL down: keep the rows, retry
                    log.warning("outbox relay: publish failed, retrying: %s", exc)
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                if published == BATCH:
                    continue  # more rows are waiting
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), FALLBACK_POLL_SECONDS)
                if listener is None or listener.is_closed():
                    listener = await self._listen()
        finally:
            if listener is not None and not listener.is_closed():
                await listener.close()

    async def _listen(self) -> asyncpg.Connection | None:
        try:
            conn = await asyncpg.connect(self._dsn)
            await conn.add_listener("outbox", lambda *_: self._wake.set())
            return conn
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("outbox relay: cannot LISTEN (falling back to polling): %s", exc)
            return None

    async def drain_once(self) -> int:
        """Publish up to BATCH unpublished rows; returns how many were published."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT seq, id, subject, type, source, ce_subject, payload, traceparent,
                          tracestate, created_at
                     FROM outbox WHERE published_at IS NULL
                    ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED""",
                BATCH,
            )
            for row in rows:
                await self._publish(row)
                await self._mark_published(conn, row["seq"])
        return len(rows)

    async def _publish(self, row: Any) -> None:
        envelope = Envelope(
            id=str(row["id"]),
            type=row["type"],
            source=row["source"],
            subject=row["ce_subject"],
            time=row["created_at"].isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            traceparent=row["traceparent"],
            tracestate=row["tracestate"],
        )
        parent = context_from(envelope.trace_headers)
        with self._tracer.start_as_current_span(
            f"publish {row['subject']}", context=parent, kind=trace.SpanKind.PRODUCER
        ) as span:
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.destination.name", row["subject"])
            span.set_attribute("messaging.message.id", envelope.id)
            # The consumer's span should be a child of this publish span, not of the request.
            headers = envelope.headers() | current_traceparent()
            ack = await self._js.publish(row["subject"], bytes(row["payload"]), headers=headers)
            if ack.duplicate:
                log.info("outbox relay: %s was already published (deduplicated)", envelope.id)
        metrics.events_published.add(1, {"subject": row["subject"]})
        lag = (datetime.now(UTC) - row["created_at"]).total_seconds()
        metrics.outbox_lag.record(max(lag, 0.0), {"subject": row["subject"]})

    async def _mark_published(self, conn: asyncpg.Connection, seq: int) -> None:
        await conn.execute("UPDATE outbox SET published_at = now() WHERE seq = $1", seq)
