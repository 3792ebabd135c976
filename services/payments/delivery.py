"""Delivers the local provider's webhooks to the gateway, at least once, as Stripe does.

Rows are claimed with a short lease (FOR UPDATE SKIP LOCKED, then next_attempt_at pushed
past the HTTP timeout) so replicas share the work without holding a transaction open
across an HTTP call; a worker that dies mid-POST simply lets the lease run out. Failures
are retried with exponential back-off until the endpoint answers 2xx. Each attempt is
signed afresh, because the receiver rejects signatures older than five minutes. The loop
that wakes it (this process's own commits in process, other writers' NOTIFY, a fallback
poll) is the shared one in services/common/wakeup.py.

A checkout paid in this process skips the claim (the fast path of services/common/commits.py,
as the outbox relay's): its statement queues the delivery row already leased to this
process (`lease_seconds`) and, once that statement has committed, hands the row to
`committed`, which POSTs it at once, as a claimed row. No other replica claims it while the
lease holds; should this process die before the POST ends, the lease lapses and the row is
claimed as any other (within LEASE_SECONDS).

Its statements run on the relay's pool (db.create_relay_pool), with synchronous_commit
off: their commits do not wait for the WAL flush, and are lost only if PostgreSQL itself
crashes before it. Each says why that is harmless: the worst is a webhook POSTed again,
which the receiver drops by its event id, as it drops Stripe's own re-sends
(services/payments/webhooks.py). The webhook's processing is the receiver's, on the
service's pool, synchronous; the delivery rows are queued there too.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg

from services.common.wakeup import WakeAndDrain
from services.payments.stripe_events import signature_header

log = logging.getLogger(__name__)

CHANNEL = "payments_webhook_delivery"
BATCH = 10
HTTP_TIMEOUT_SECONDS = 10.0
# A claim outlives one attempt (attempts of a batch run concurrently), so a live worker
# keeps its rows; a dead worker's rows are retried when it lapses. Should a slow worker
# overrun it anyway, the event is sent twice, which the receiver's dedupe makes harmless.
LEASE_SECONDS = HTTP_TIMEOUT_SECONDS + 5
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 300.0
FALLBACK_POLL_SECONDS = 5.0
ERROR_PAUSE_SECONDS = 1.0
# POSTs under way at once (each also holds a pool connection for a moment when it ends).
MAX_IN_FLIGHT = 32

# Leases up to $1 due rows (SKIP LOCKED: replicas claim disjoint ones) and tells, in the same
# round trip, when the earliest other undelivered row is due: one row per claimed delivery,
# each with next_due, or a single row of NULLs but next_due when none was due. The SELECT
# sees the rows as they were when the statement began, so the claimed ones are left out by id.
# Lost in a crash: the rows are due again and POSTed again (a duplicate the receiver drops).
# `lease` (the new next_attempt_at) identifies this claim: an attempt that outlived it (a slow
# POST, a wait for a connection) finds the row claimed again, and must not reschedule it.
CLAIM_SQL = """
    WITH claimed AS (
        UPDATE local_webhook_deliveries
           SET next_attempt_at = now() + make_interval(secs => $2)
         WHERE id IN (SELECT id FROM local_webhook_deliveries
                       WHERE delivered_at IS NULL AND next_attempt_at <= now()
                       ORDER BY next_attempt_at, id
                       LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING id, event_id, event_type, payload, attempts, traceparent, tracestate,
                  next_attempt_at AS lease),
    due AS (
        SELECT min(next_attempt_at) AS next_due FROM local_webhook_deliveries
         WHERE delivered_at IS NULL AND id NOT IN (SELECT id FROM claimed))
    SELECT claimed.*, due.next_due FROM due LEFT JOIN claimed ON true"""


def retry_delay(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: doubling from 1 s, capped at 5 min, with
    jitter so a recovering endpoint is not hit by every backlog row at once."""
    base = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    return base * random.uniform(0.8, 1.2)


class WebhookDeliveryWorker:
    """`pool` is db.create_relay_pool's in the service (synchronous_commit off: each
    statement here is safe to lose in a crash, see above)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        url: str,
        secret: str,
        *,
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        self._pool = pool
        self._url = url
        self._secret = secret
        self._http = http
        self._client: aiohttp.ClientSession | None = http
        # The POSTs under way (each records its own outcome).
        self._in_flight: set[asyncio.Task[None]] = set()
        self._running = False
        self.worker = WakeAndDrain(
            "webhook delivery",
            dsn,
            CHANNEL,
            self._drain,
            fallback_poll_seconds=FALLBACK_POLL_SECONDS,
            error_pause_seconds=ERROR_PAUSE_SECONDS,
        )

    async def run(self) -> None:
        # aiohttp, not httpx: its C HTTP parser made a delivery a third of the CPU (httpx's
        # POST was a fifth of the payments process under load; benchmarks/README.md).
        self._client = self._http or aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_SECONDS), trust_env=False
        )
        log.info("webhook delivery to %s started", self._url)
        self._running = True
        try:
            await self.worker.run()
        finally:
            self._running = False
            # Stopping: a POST cut short keeps its lease, and is retried when it lapses.
            for task in list(self._in_flight):
                task.cancel()
            await asyncio.gather(*self._in_flight, return_exceptions=True)
            if self._http is None:
                await self._client.close()

    async def _drain(self) -> float:
        """Start the POSTs of every due delivery (up to the free slots) and return at once:
        a delivery never waits for the slowest POST of the batch before it (nor the next
        wake-up for it). Each POST records its outcome when it ends; a failure wakes the
        loop, so that it sleeps until the retry's time and no longer."""
        if len(self._in_flight) >= MAX_IN_FLIGHT:
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
        limit = min(BATCH, MAX_IN_FLIGHT - len(self._in_flight))
        rows, next_due = await self._claim(limit)
        for row in rows:
            self._start(row)
        if len(rows) == limit:
            return 0.0  # more rows may be due
        return _seconds_until(next_due)

    def _start(self, row: Any) -> None:
        assert self._client is not None
        self._start_task(self._attempt(self._client, row))

    # The fast path (services/common/commits.py, AfterCommit): this process's own rows.

    def lease_seconds(self) -> float | None:
        """LEASE_SECONDS while the worker runs with a POST slot free: the row is queued leased
        to this process, and sent by it once committed. None: queued due now, for a claim.
        The slots bound the POSTs loosely here: the pays between this answer and their
        commit may each add one."""
        if not self._running or len(self._in_flight) >= MAX_IN_FLIGHT:
            return None
        return float(LEASE_SECONDS)

    def committed(self, items: list[Any]) -> None:
        """Rows queued with the lease have committed (the columns CLAIM_SQL returns, `lease`
        their next_attempt_at): POST them now, as claimed rows. A worker that stopped
        meanwhile leaves them to the lease: they are claimed when it lapses."""
        if self._running:
            for row in items:
                self._start(row)

    def unsure(self, items: list[Any]) -> None:
        """Whether rows queued with the lease committed is not known: make them due now (if
        they exist and the lease is still theirs) and let the loop claim them."""
        if self._running:
            self._start_task(self._release(items))

    async def _release(self, items: list[Any]) -> None:
        # Lost in a crash: the lease lapses, and the row is claimed then.
        async with self._pool.acquire() as conn:
            await conn.execute(
                """UPDATE local_webhook_deliveries d SET next_attempt_at = now()
                     FROM unnest($1::bigint[], $2::timestamptz[]) AS f(id, lease)
                    WHERE d.id = f.id AND d.delivered_at IS NULL AND d.next_attempt_at = f.lease""",
                [row["id"] for row in items],
                [row["lease"] for row in items],
            )
        self.worker.wake()

    def _start_task(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _claim(self, limit: int) -> tuple[list[asyncpg.Record], datetime | None]:
        """Lease up to `limit` due rows and, in the same round trip, learn when the earliest
        other undelivered row is due (None: there is none)."""
        async with self._pool.acquire() as conn:
            found = await conn.fetch(CLAIM_SQL, limit, LEASE_SECONDS)
        rows = [row for row in found if row["id"] is not None]
        return rows, found[0]["next_due"] if found else None

    async def _seconds_until_next_due(self) -> float:
        # It writes nothing: no commit to lose.
        async with self._pool.acquire() as conn:
            due: datetime | None = await conn.fetchval(
                "SELECT min(next_attempt_at) FROM local_webhook_deliveries WHERE delivered_at IS NULL"
            )
        return _seconds_until(due)

    async def deliver_due(self, http: aiohttp.ClientSession) -> int:
        """Attempt every due delivery (up to BATCH) and wait for them; how many were claimed."""
        rows, _ = await self._claim(BATCH)
        await asyncio.gather(*(self._attempt(http, row) for row in rows))
        return len(rows)

    async def _attempt(self, http: aiohttp.ClientSession, row: Any) -> None:
        status: int | None = None
        try:
            async with http.post(
                self._url,
                data=row["payload"].encode("utf-8"),
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Stripe-Signature": signature_header(row["payload"], self._secret),
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                    # Stripe sends no trace context; ours does, so one purchase is one trace.
                    **{k: row[k] for k in ("traceparent", "tracestate") if row[k]},
                },
                allow_redirects=False,  # Stripe does not follow redirects either
            ) as response:
                status = response.status
                body = await response.read()
            error = (
                ""
                if 200 <= status < 300
                else f"HTTP {status}: {body[:500].decode('utf-8', 'replace')}"
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc or f'no answer in {HTTP_TIMEOUT_SECONDS:g} s'}"
        attempts = row["attempts"] + 1
        # Lost in a crash, either outcome is harmless: a lost delivered mark sends the webhook
        # again, which the receiver drops by its event id; a lost failure leaves the attempt
        # uncounted and the row due at its claim's lease, when it is tried again.
        # A 2xx marks the row delivered even when a newer claim holds it (the event did reach
        # the receiver), but never twice. A failure is recorded only while this attempt's
        # claim still holds the row: a stale one would reschedule a newer attempt's row about
        # a second away, which is POSTed again after it succeeds, or overwrite a delivered
        # row's status.
        async with self._pool.acquire() as conn:
            if not error:
                await conn.execute(
                    """UPDATE local_webhook_deliveries
                          SET delivered_at = now(), attempts = $2, last_status = $3, last_error = ''
                        WHERE id = $1 AND delivered_at IS NULL""",
                    row["id"],
                    attempts,
                    status,
                )
                # DEBUG: the row keeps delivered_at and the status, and the receiver (this
                # service, in local mode) logs the event's outcome at INFO; a second INFO line
                # per purchase said nothing new (failures are WARNINGs below).
                log.debug("webhook %s (%s) delivered", row["event_id"], row["event_type"])
                return
            delay = retry_delay(attempts)
            recorded = await conn.execute(
                """UPDATE local_webhook_deliveries
                      SET attempts = $2, last_status = $3, last_error = $4,
                          next_attempt_at = now() + make_interval(secs => $5)
                    WHERE id = $1 AND delivered_at IS NULL AND next_attempt_at = $6""",
                row["id"],
                attempts,
                status,
                error,
                delay,
                row["lease"],
            )
        if recorded == "UPDATE 0":
            log.warning(
                "webhook %s (%s) to %s failed after its claim lapsed (a newer attempt holds "
                "it, or it was delivered): %s",
                row["event_id"],
                row["event_type"],
                self._url,
                error,
            )
            return
        self.worker.wake()  # the loop may be sleeping past this retry's time
        log.warning(
            "webhook %s (%s) to %s failed (attempt %d, next in %.1fs): %s",
            row["event_id"],
            row["event_type"],
            self._url,
            attempts,
            delay,
            error,
        )


def _seconds_until(due: datetime | None) -> float:
    if due is None:
        return FALLBACK_POLL_SECONDS
    seconds = (due - datetime.now(UTC)).total_seconds()
    return min(FALLBACK_POLL_SECONDS, max(0.01, seconds))
