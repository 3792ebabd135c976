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

from services.payments import repository, unit_of_work
from services.payments.domain import PaymentStatus
from services.payments.gateways import (
    SESSION_COMPLETE,
    CheckoutGateway,
    GatewayError,
    GatewayUnavailableError,
)
from services.payments.leases import BATCH, LEASE_SECONDS, retry_delay, work_leased
from services.payments.repository import Closure

log = logging.getLogger(__name__)


class CheckoutCloser:
    def __init__(self, pool: asyncpg.Pool, gateway: CheckoutGateway) -> None:
        self._pool = pool
        self._gateway = gateway

    async def close_due(self, limit: int = BATCH) -> int:
        """One pass: close the checkouts of up to `limit` closed enrollments."""
        return await work_leased(
            self._pool,
            lambda conn: repository.claim_due_closures(conn, limit, LEASE_SECONDS),
            self._close,
            lambda conn, closure, error, delay: repository.retry_closure(
                conn, closure.enrollment_id, error, delay
            ),
            lambda closure: f"closing the checkout of enrollment {closure.enrollment_id}",
        )

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
                await unit_of_work.commit(conn, locked)
            await repository.settle_closure(conn, closure.enrollment_id)
        log.info("closed the checkout of enrollment %s (%s)", closure.enrollment_id, closure.reason)
