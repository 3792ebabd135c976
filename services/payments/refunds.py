"""Returning money: records refunds to make (`request_refund`), makes the ones recorded in
the `refunds` table at the gateway, then books them (payment REFUNDED when nothing is left,
a reversing ledger line, PaymentRefunded) in one transaction.

Refunds to make come from two places: a payment its enrollment rejected because it could no
longer take it (services/payments/consumers.py), and RefundPayment (asked through the API;
who may ask is services/enrollment/seats.py `decide_refund`). Refunds made elsewhere (the
gateway's dashboard, a lost dispute) arrive as webhooks (services/payments/webhooks.py).
Rows are leased, so no transaction is open across the gateway call; the refund's id is the
gateway's Idempotency-Key, so a retry (ours, stripe-python's, or another replica's after a
lease ran out) never refunds twice.
"""

from __future__ import annotations

import logging

import asyncpg

from services.common import metrics
from services.common.errors import FailedPreconditionError
from services.payments import repository, unit_of_work
from services.payments.domain import Payment, PaymentStatus, Refund, RefundStatus
from services.payments.gateways import (
    CheckoutGateway,
    GatewayError,
    GatewayUnavailableError,
    RefundRequest,
)
from services.payments.leases import BATCH, LEASE_SECONDS, retry_delay, work_leased

log = logging.getLogger(__name__)


def full_refund_key(payment_id: str) -> str:
    """One full refund per payment asked through the API, however often it is asked."""
    return f"full:{payment_id}"


def partial_refund_key(payment_id: str, idempotency_key: str) -> str:
    return f"partial:{payment_id}:{idempotency_key}"


async def request_refund(
    conn: asyncpg.Connection,
    payment: Payment,
    *,
    reason: str,
    note: str,
    amount_minor: int,
    idempotency_key: str,
) -> Refund:
    """The refund to make for `payment` (locked by the caller): the one already asked for
    with the same key, or a new PENDING one. A full refund (amount 0) of a payment that is
    already refunded, or has a full refund on its way, is that refund: asking twice is safe.
    """
    refunds = await repository.refunds_of(conn, payment.id)
    if amount_minor == 0:
        key = full_refund_key(payment.id)
        live_full = [
            r
            for r in refunds
            if r.idempotency_key == key or (r.full_refund and r.status is not RefundStatus.FAILED)
        ]
        if live_full:
            return live_full[-1]
        if payment.status is PaymentStatus.REFUNDED and refunds:
            return refunds[-1]
    else:
        key = partial_refund_key(payment.id, idempotency_key)
        for existing in refunds:
            if existing.idempotency_key == key:
                if existing.amount.amount_minor != amount_minor:
                    raise FailedPreconditionError(
                        "Idempotency-Key was already used for a refund of another amount"
                    )
                return existing
    pending = sum(r.amount.amount_minor for r in refunds if r.status is RefundStatus.PENDING)
    refund = payment.refund(
        reason=reason,
        idempotency_key=key,
        amount_minor=amount_minor or None,
        note=note,
        pending_minor=pending,
    )
    if not await repository.add_refund(conn, refund):  # unreachable under the payment lock
        found = await repository.find_refund_by_key(conn, key)
        assert found is not None
        return found
    log.warning(
        "refund %s of payment %s (enrollment %s) asked: %d %s (%s)",
        refund.id,
        payment.id,
        payment.enrollment_id,
        refund.amount.amount_minor,
        refund.amount.currency,
        reason,
    )
    metrics.payments_returned.add(1, {"reason": reason, "outcome": "requested"})
    return await repository.get_refund(conn, refund.id)


class Refunder:
    def __init__(self, pool: asyncpg.Pool, gateway: CheckoutGateway) -> None:
        self._pool = pool
        self._gateway = gateway

    async def refund_due(self, limit: int = BATCH) -> int:
        """One pass: make up to `limit` pending refunds."""
        return await work_leased(
            self._pool,
            lambda conn: repository.claim_due_refunds(conn, limit, LEASE_SECONDS),
            self._make,
            lambda conn, refund, error, delay: repository.retry_refund(
                conn, refund.id, error, delay
            ),
            lambda refund: f"refund {refund.id}",
        )

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
            reverse_transfer=bool(payment.destination_account),
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
                # Booked already: by another replica after its lease ran out, or by the
                # gateway's webhook, which may not have known the gateway's refund id.
                if locked.status is RefundStatus.SUCCEEDED and not locked.gateway_refund_id:
                    locked.gateway_refund_id = made.id
                    await repository.save_refund(conn, locked)
                return
            locked_payment.refunded(locked, made.id)
            await unit_of_work.commit(conn, locked_payment)
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
