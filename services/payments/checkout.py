"""Opening a checkout: one payment and one gateway session per enrollment, however often
the enrollment service retries.

The payment row is committed before the gateway is called (no transaction is held across
the network), and the gateway call itself is idempotent per payment, so a crash or a
concurrent retry at any point ends with exactly one session, attached to exactly one payment.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import asyncpg

from services.common.errors import (
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    UnavailableError,
)
from services.common.urls import is_on_origin
from services.payments import repository, unit_of_work
from services.payments.domain import (
    REASON_CHECKOUT_NOT_OPENED,
    CheckoutOrder,
    Payment,
    PaymentStatus,
    destination_fee,
)
from services.payments.expiry import SWEEP_BATCH
from services.payments.gateways import (
    CheckoutGateway,
    GatewayError,
    GatewaySession,
    GatewayUnavailableError,
    SessionRequest,
)
from services.payments.local_gateway import SESSION_OF_ADDED_SQL, LocalGateway

log = logging.getLogger(__name__)


class CheckoutOpener:
    def __init__(
        self,
        pool: asyncpg.Pool,
        gateway: CheckoutGateway,
        *,
        ttl_seconds: int,
        public_base_url: str,
        fee_bps: int = 0,
    ) -> None:
        self._fee_bps = fee_bps
        self._pool = pool
        self._gateway = gateway
        self._ttl_seconds = ttl_seconds
        self._public_base_url = public_base_url

    def _with_default_urls(self, order: CheckoutOrder) -> CheckoutOrder:
        """Where the hosted page sends the learner back to when the caller did not say."""
        base = f"{self._public_base_url}/?enrollment_id={order.enrollment_id}&checkout="
        return replace(
            order,
            success_url=order.success_url or base + "success",
            cancel_url=order.cancel_url or base + "cancelled",
        )

    async def open(self, order: CheckoutOrder) -> Payment:
        if order.amount.amount_minor <= 0:
            raise InvalidArgumentError(
                "a checkout needs a positive amount; free enrollments need no payment",
                [FieldViolation("amount.amount_minor", "must be greater than 0")],
            )
        if order.seat_pack is not None and (problems := order.seat_pack.violations(order.amount)):
            raise InvalidArgumentError(
                f"invalid seat pack order: {'; '.join(problems)}",
                [FieldViolation("seat_pack", problem) for problem in problems],
            )
        off_site = [
            FieldViolation(name, f"must be a URL on {self._public_base_url} (PUBLIC_BASE_URL)")
            for name, url in (("success_url", order.success_url), ("cancel_url", order.cancel_url))
            if url and not is_on_origin(url, self._public_base_url)
        ]
        if off_site:
            # The hosted checkout redirects there: anything else would be an open redirect.
            raise InvalidArgumentError(
                "checkout return URLs must be on this site's public origin", off_site
            )
        order = self._with_default_urls(order)
        # Not the payment of a closed enrollment; with a payout account, a destination
        # charge (the provider is paid by Stripe).
        candidate = Payment.open(order, gateway=self._gateway.name, ttl_seconds=self._ttl_seconds)
        fee = destination_fee(order.amount.amount_minor, self._fee_bps)
        session_sql = ""
        if isinstance(self._gateway, LocalGateway):
            # Its sessions live in this database: the payment is inserted with its session
            # attached and the session with it, one statement (no call to wait for between).
            session = self._gateway.new_session()
            candidate.checkout_session_id, candidate.checkout_url = session.id, session.url
            session_sql = SESSION_OF_ADDED_SQL
        async with self._pool.acquire() as conn:
            payment = await repository.open_payment(conn, candidate, fee, session_sql)
        if payment is None:
            # Cancelled or expired while its checkout was being opened: nothing to pay.
            raise FailedPreconditionError(
                f"enrollment {order.enrollment_id} is closed; it takes no payment"
            )
        payment.check_same_order(order)
        if payment.has_session or payment.status is not PaymentStatus.PENDING:
            return payment
        session = await self._create_session(payment)
        async with self._pool.acquire() as conn:
            return await repository.attach_session(
                conn, payment.id, self._gateway.name, session.id, session.url
            )

    async def _create_session(self, payment: Payment) -> GatewaySession:
        request = session_request(payment)
        try:
            return await self._gateway.create_session(request)
        except GatewayUnavailableError as exc:
            # The payment stays PENDING without a session; the caller's retry completes it.
            log.warning("checkout for payment %s not opened: %s", payment.id, exc)
            raise UnavailableError(str(exc)) from exc
        except GatewayError as exc:
            log.error("checkout for payment %s refused by the gateway: %s", payment.id, exc)
            raise FailedPreconditionError(str(exc)) from exc

    async def expire_unopened(self, limit: int = SWEEP_BATCH) -> int:
        """Close payments whose gateway session was never created (the gateway was down and
        the caller stopped retrying) once their checkout would have expired anyway, so the
        enrollment hears PaymentFailed and frees its seat instead of waiting forever."""
        async with self._pool.acquire() as conn, conn.transaction():
            payments = await repository.lock_unopened_past_expiry(conn, limit)
            for payment in payments:
                payment.close_unpaid(PaymentStatus.EXPIRED, REASON_CHECKOUT_NOT_OPENED)
                await unit_of_work.commit(conn, payment)
        if payments:
            log.warning("expired %d payment(s) whose checkout was never opened", len(payments))
        return len(payments)


def session_request(payment: Payment) -> SessionRequest:
    """What the gateway is asked to open a checkout session for: `payment`, as it stands."""
    return SessionRequest(
        payment_id=payment.id,
        enrollment_id=payment.enrollment_id,
        customer_email=payment.learner_email,
        amount_minor=payment.amount.amount_minor,
        currency=payment.amount.currency,
        description=payment.description,
        success_url=payment.success_url,
        cancel_url=payment.cancel_url,
        expires_at=payment.expires_at,
        destination_account=payment.destination_account,
        application_fee_minor=payment.application_fee_minor,
        seat_pack=payment.seat_pack,
    )
