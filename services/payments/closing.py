"""Closing the checkout of an enrollment that closed (cancelled, or expired).

The payments consumer records the closed enrollment (services/payments/consumers.py); this
worker then expires its gateway session, so the checkout can no longer be paid, and closes
the payment. It leases rows instead of holding a transaction across the gateway call. If
the learner paid first, the gateway reports the session complete: that payment succeeds as
any other, the enrollment rejects it (services/enrollment/seats.py) and the Refunder
returns the money. Nothing here decides who may pay; it only stops a dead checkout.
"""

from __future__ import annotations

import logging

import asyncpg

from services.payments import repository
from services.payments.domain import PaymentStatus
from services.payments.gateways import (
    SESSION_COMPLETE,
    CheckoutGateway,
    GatewayError,
    GatewayUnavailableError,
)
from services.payments.repository import Closure

log = logging.getLogger(__name__)

BATCH = 20
# Longer than a gateway call with stripe-python's retries: a live worker keeps its rows.
LEASE_SECONDS = 90.0
MAX_RETRY_SECONDS = 300.0


def retry_delay(attempts: int) -> float:
    return min(MAX_RETRY_SECONDS, 2.0 ** max(0, attempts))


class CheckoutCloser:
    def __init__(self, pool: asyncpg.Pool, gateway: CheckoutGateway) -> None:
        self._pool = pool
        self._gateway = gateway

    async def close_due(self, limit: int = BATCH) -> int:
        """One pass: close the checkouts of up to `limit` closed enrollments."""
        async with self._pool.acquire() as conn:
            closures = await repository.claim_due_closures(conn, limit, LEASE_SECONDS)
        for closure in closures:
            try:
                await self._close(closure)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                raise  # the sweeper waits for the database; the lease brings the row back
            except Exception as exc:
                log.exception("closing the checkout of enrollment %s failed", closure.enrollment_id)
                async with self._pool.acquire() as conn:
                    await repository.retry_closure(
                        conn, closure.enrollment_id, repr(exc), retry_delay(closure.attempts)
                    )
        return len(closures)

    async def _close(self, closure: Closure) -> None:
        async with self._pool.acquire() as conn:
            payment = await repository.find_by_enrollment(conn, closure.enrollment_id)
        if payment is None or payment.status is not PaymentStatus.PENDING:
            # No checkout was opened (CreateCheckout now refuses one), or it is paid or
            # closed already: nothing is payable.
            async with self._pool.acquire() as conn:
                await repository.settle_closure(conn, closure.enrollment_id)
            return
        if payment.has_session:
            try:
                outcome = await self._gateway.expire_session(payment.checkout_session_id)
            except (GatewayUnavailableError, GatewayError) as exc:
                log.warning(
                    "checkout %s of closed enrollment %s not expired yet (attempt %d): %s",
                    payment.checkout_session_id,
                    closure.enrollment_id,
                    closure.attempts,
                    exc,
                )
                async with self._pool.acquire() as conn:
                    await repository.retry_closure(
                        conn, closure.enrollment_id, str(exc), retry_delay(closure.attempts)
                    )
                return
            if outcome == SESSION_COMPLETE:
                log.warning(
                    "checkout %s of closed enrollment %s was paid before it could be closed; "
                    "the enrollment will reject that payment and it will be refunded",
                    payment.checkout_session_id,
                    closure.enrollment_id,
                )
                async with self._pool.acquire() as conn:
                    await repository.settle_closure(conn, closure.enrollment_id)
                return
        async with self._pool.acquire() as conn, conn.transaction():
            locked = await repository.get(conn, payment.id, for_update=True)
            if locked.status is PaymentStatus.PENDING:
                locked.close_unpaid(PaymentStatus.EXPIRED, closure.reason)
                await repository.save(conn, locked)
            await repository.settle_closure(conn, closure.enrollment_id)
        log.info("closed the checkout of enrollment %s (%s)", closure.enrollment_id, closure.reason)
