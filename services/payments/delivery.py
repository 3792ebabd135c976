"""Delivers the local provider's webhooks to the gateway, at least once, as Stripe does.

Rows are claimed with a short lease (FOR UPDATE SKIP LOCKED, then next_attempt_at pushed
past the HTTP timeout) so replicas share the work without holding a transaction open
across an HTTP call; a worker that dies mid-POST simply lets the lease run out. Failures
are retried with exponential back-off until the endpoint answers 2xx. Each attempt is
signed afresh, because the receiver rejects signatures older than five minutes. The loop
that wakes it (NOTIFY on insert, a fallback poll) is the shared one in
services/common/wakeup.py.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

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


def retry_delay(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: doubling from 1 s, capped at 5 min, with
    jitter so a recovering endpoint is not hit by every backlog row at once."""
    base = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    return base * random.uniform(0.8, 1.2)


class WebhookDeliveryWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        url: str,
        secret: str,
        *,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._pool = pool
        self._url = url
        self._secret = secret
        self._http = http
        self._client: httpx.AsyncClient | None = http
        self.worker = WakeAndDrain(
            "webhook delivery",
            dsn,
            CHANNEL,
            self._drain,
            fallback_poll_seconds=FALLBACK_POLL_SECONDS,
            error_pause_seconds=ERROR_PAUSE_SECONDS,
        )

    def wake(self) -> None:
        self.worker.wake()

    async def run(self) -> None:
        self._client = self._http or httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS)
        log.info("webhook delivery to %s started", self._url)
        try:
            await self.worker.run()
        finally:
            if self._http is None:
                await self._client.aclose()

    async def _drain(self) -> float:
        assert self._client is not None
        if await self.deliver_due(self._client) == BATCH:
            return 0.0  # more rows are due
        return await self._seconds_until_next_due()

    async def _seconds_until_next_due(self) -> float:
        async with self._pool.acquire() as conn:
            due: datetime | None = await conn.fetchval(
                "SELECT min(next_attempt_at) FROM local_webhook_deliveries WHERE delivered_at IS NULL"
            )
        if due is None:
            return FALLBACK_POLL_SECONDS
        seconds = (due - datetime.now(UTC)).total_seconds()
        return min(FALLBACK_POLL_SECONDS, max(0.01, seconds))

    async def deliver_due(self, http: httpx.AsyncClient) -> int:
        """Attempt every due delivery (up to BATCH); returns how many were claimed."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                """UPDATE local_webhook_deliveries
                      SET next_attempt_at = now() + make_interval(secs => $2)
                    WHERE id IN (SELECT id FROM local_webhook_deliveries
                                  WHERE delivered_at IS NULL AND next_attempt_at <= now()
                                  ORDER BY next_attempt_at, id
                                  LIMIT $1 FOR UPDATE SKIP LOCKED)
                RETURNING id, event_id, event_type, payload, attempts, traceparent, tracestate""",
                BATCH,
                LEASE_SECONDS,
            )
        await asyncio.gather(*(self._attempt(http, row) for row in rows))
        return len(rows)

    async def _attempt(self, http: httpx.AsyncClient, row: Any) -> None:
        status: int | None = None
        try:
            response = await http.post(
                self._url,
                content=row["payload"].encode("utf-8"),
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Stripe-Signature": signature_header(row["payload"], self._secret),
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                    # Stripe sends no trace context; ours does, so one purchase is one trace.
                    **{k: row[k] for k in ("traceparent", "tracestate") if row[k]},
                },
            )
            status = response.status_code
            error = "" if response.is_success else f"HTTP {status}: {response.text[:500]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        attempts = row["attempts"] + 1
        async with self._pool.acquire() as conn:
            if not error:
                await conn.execute(
                    """UPDATE local_webhook_deliveries
                          SET delivered_at = now(), attempts = $2, last_status = $3, last_error = ''
                        WHERE id = $1""",
                    row["id"],
                    attempts,
                    status,
                )
                log.info("webhook %s (%s) delivered", row["event_id"], row["event_type"])
                return
            delay = retry_delay(attempts)
            await conn.execute(
                """UPDATE local_webhook_deliveries
                      SET attempts = $2, last_status = $3, last_error = $4,
                          next_attempt_at = now() + make_interval(secs => $5)
                    WHERE id = $1""",
                row["id"],
                attempts,
                status,
                error,
                delay,
            )
        log.warning(
            "webhook %s (%s) to %s failed (attempt %d, next in %.1fs): %s",
            row["event_id"],
            row["event_type"],
            self._url,
            attempts,
            delay,
            error,
        )
