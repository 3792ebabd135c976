"""Returning money: makes the refunds recorded in the `refunds` table at the gateway, then
books them (payment REFUNDED, a reversing ledger line, PaymentRefunded) in one transaction.

Today every refund here is automatic: a payment its enrollment rejected because it could no
longer take it (services/enrollment/seats.py decides; services/payments/consumers.py
records the refund). Rows are leased, so no transaction is open across the gateway call;
the refund's id is the gateway's Idempotency-Key, so a retry (ours, stripe-python's, or
another replica's after a lease ran out) never refunds twice.
"""

from __future__ import annotations

import logging

import asyncpg

from services.common import metrics
from services.payments import repository
from services.payments.domain import Refund, RefundStatus
from services.payments.gateways import (
    CheckoutGateway,
    GatewayError,
    GatewayUnavailableError,
    RefundRequest,
)

log = logging.getLogger(__name__)

BATCH = 20
LEASE_SECONDS = 90.0
MAX_RETRY_SECONDS = 300.0


def retry_delay(attempts: int) -> float:
    return min(MAX_RETRY_SECONDS, 2.0 ** max(0, attempts))


class Refunder:
    def __init__(self, pool: asyncpg.Pool, gateway: CheckoutGateway) -> None:
        self._pool = pool
        self._gateway = gateway

    async def refund_due(self, limit: int = BATCH) -> int:
        """One pass: make up to `limit` pending refunds."""
        async with self._pool.acquire() as conn:
            refunds = await repository.claim_due_refunds(conn, limit, LEASE_SECONDS)
        for refund in refunds:
            try:
                await self._make(refund)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                raise  # the sweeper waits for the database; the lease brings the row back
            except Exception as exc:
                log.exception("refund %s failed unexpectedly; will retry", refund.id)
                async with self._pool.acquire() as conn:
                    await repository.retry_refund(
                        conn, refund.id, repr(exc), retry_delay(refund.attempts)
                    )
        return len(refunds)

    async def _make(self, refund: Refund) -> None:
        async with self._pool.acquire() as conn:
            payment = await repository.get(conn, refund.payment_id)
        request = RefundRequest(
            refund_id=refund.id,
            payment_id=payment.id,
            enrollment_id=payment.enrollment_id,
            payment_intent=payment.gateway_payment_id,
            amount_minor=refund.amount.amount_minor,
            currency=refund.amount.currency,
            reason=refund.reason,
        )
        try:
            made = await self._gateway.refund(request)
        except GatewayUnavailableError as exc:
            log.warning("refund %s not made yet (attempt %d): %s", refund.id, refund.attempts, exc)
            async with self._pool.acquire() as conn:
                await repository.retry_refund(
                    conn, refund.id, str(exc), retry_delay(refund.attempts)
                )
            return
        except GatewayError as exc:
            async with self._pool.acquire() as conn, conn.transaction():
                failed = await repository.get_refund(conn, refund.id, for_update=True)
                if failed.status is not RefundStatus.PENDING:
                    return
                failed.status = RefundStatus.FAILED
                failed.last_error = str(exc)
                await repository.save_refund(conn, failed)
            log.error(
                "REFUND FAILED: payment %s (enrollment %s) keeps %d %s that must go back; "
                "an operator must refund it by hand: %s",
                payment.id,
                payment.enrollment_id,
                refund.amount.amount_minor,
                refund.amount.currency,
                exc,
            )
            metrics.payments_returned.add(1, {"reason": refund.reason, "outcome": "failed"})
            return
        async with self._pool.acquire() as conn, conn.transaction():
            locked_payment = await repository.get(conn, payment.id, for_update=True)
            locked = await repository.get_refund(conn, refund.id, for_update=True)
            if locked.status is not RefundStatus.PENDING:
                return  # another replica booked it after its lease ran out
            locked_payment.refunded(locked, made.id)
            await repository.save(conn, locked_payment)
            await repository.save_refund(conn, locked)
            await repository.add_refund_ledger_line(conn, locked)
        log.warning(
            "returned payment %s of enrollment %s: %d %s refunded as %s (%s)",
            payment.id,
            payment.enrollment_id,
            refund.amount.amount_minor,
            refund.amount.currency,
            made.id,
            refund.reason,
        )
        metrics.payments_returned.add(1, {"reason": refund.reason, "outcome": "refunded"})
