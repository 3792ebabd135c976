"""The local provider: a stand-in for Stripe Checkout that needs no account or network.

Sessions live in this service's database, a hosted page (served by the HTTP gateway) reads
and pays them with Stripe's test cards, and every outcome leaves as a signed Stripe-shaped
webhook through the delivery worker, exactly as Stripe would report it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.common.errors import FailedPreconditionError, NotFoundError
from services.common.telemetry import current_traceparent
from services.common.wakeup import fast_lease, staged
from services.payments import cards
from services.payments.delivery import CHANNEL as DELIVERY_CHANNEL
from services.payments.expiry import SWEEP_BATCH
from services.payments.gateways import (
    SESSION_COMPLETE,
    SESSION_EXPIRED,
    GatewayError,
    GatewayRefund,
    GatewaySession,
    RefundRequest,
    SessionRequest,
)
from services.payments.stripe_events import (
    CHARGE_REFUNDED,
    CHECKOUT_COMPLETED,
    CHECKOUT_EXPIRED,
    CHECKOUT_SESSION_OBJECT_SQL,
    LocalRefund,
    SessionSnapshot,
    StripeEvent,
    build_event,
    checkout_session_object,
    event_around,
    refunded_charge_object,
    stripe_id,
)

log = logging.getLogger(__name__)


_COLUMNS = """id, payment_id, enrollment_id, description, amount_minor, currency, customer_email,
    status, payment_status, payment_intent, success_url, cancel_url, created_at, expires_at,
    destination_account, application_fee_minor"""


def _session(row: Any) -> SessionSnapshot:
    return SessionSnapshot(
        id=row["id"],
        payment_id=str(row["payment_id"]),
        enrollment_id=str(row["enrollment_id"]),
        description=row["description"],
        amount_minor=row["amount_minor"],
        currency=row["currency"],
        customer_email=row["customer_email"],
        status=row["status"],
        payment_status=row["payment_status"],
        payment_intent=row["payment_intent"],
        success_url=row["success_url"],
        cancel_url=row["cancel_url"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        destination_account=row["destination_account"],
        application_fee_minor=row["application_fee_minor"],
    )


# A charge of an open session before its expiry: $1 the session, $2 its new PaymentIntent
# (success) or the decline code (a decline: the session stays open for another try).
_PAYABLE = "id = $1 AND status = 'open' AND expires_at > now()"
_COMPLETE_SQL = f"""UPDATE local_checkout_sessions
       SET status = 'complete', payment_status = 'paid', payment_intent = $2, closed_at = now()
     WHERE {_PAYABLE}
    RETURNING {_COLUMNS}"""
# The charge and the checkout.session.completed it owes the gateway, in one statement
# (no transaction around it): the delivery row is inserted from what the UPDATE returned,
# so it exists exactly when the session was paid. $3-$8: the event (stripe_events.
# event_around) and the trace context; $9: the seconds the row is leased to this process's
# delivery worker, which sends it itself once committed (delivery.py, the fast path), or 0:
# due now, for a claim. Besides the session, the row returns the delivery as CLAIM_SQL
# returns a claimed one.
_PAY_SQL = f"""WITH paid AS ({_COMPLETE_SQL}),
         queued AS (
             INSERT INTO local_webhook_deliveries
                 (event_id, event_type, payload, traceparent, tracestate, next_attempt_at)
             SELECT $3, $4, $5 || {CHECKOUT_SESSION_OBJECT_SQL}::text || $6, $7, $8,
                    now() + make_interval(secs => $9)
               FROM paid s
             RETURNING id, event_id, event_type, payload, attempts, traceparent, tracestate,
                       next_attempt_at AS lease)
    SELECT paid.*, q.id AS delivery_id, q.event_id, q.event_type, q.payload, q.attempts,
           q.traceparent, q.tracestate, q.lease
      FROM paid, queued q"""
_DELIVERY_COLUMNS = ("event_id", "event_type", "payload", "attempts", "traceparent", "tracestate")
_DECLINE_SQL = f"""UPDATE local_checkout_sessions
       SET failed_attempts = failed_attempts + 1, last_decline = $2
     WHERE {_PAYABLE}
    RETURNING {_COLUMNS}"""


# A new payment's session, in the payment's own insert (repository.open_payment, whose CTE
# `added` is the payment as inserted, its session id and URL already on it): the session
# and the payment that names it commit together, or neither. The same values create_session
# writes from a SessionRequest (checkout.py builds it from the same row).
SESSION_OF_ADDED_SQL = """INSERT INTO local_checkout_sessions (id, payment_id, enrollment_id,
        description, amount_minor, currency, customer_email, success_url, cancel_url, expires_at,
        destination_account, application_fee_minor)
    SELECT a.checkout_session_id, a.id, a.enrollment_id, a.description, a.amount_minor,
           upper(a.currency), a.learner_email, a.success_url, a.cancel_url, a.expires_at,
           a.destination_account, a.application_fee_minor
      FROM added a"""


def _delivery(row: Any) -> dict[str, Any]:
    """The delivery row _PAY_SQL queued, as CLAIM_SQL returns a claimed one."""
    delivery = {"id": row["delivery_id"], "lease": row["lease"]}
    return delivery | {column: row[column] for column in _DELIVERY_COLUMNS}


@dataclass(frozen=True)
class PayResult:
    session: SessionSnapshot
    outcome: cards.ChargeOutcome


class LocalGateway:
    name = "local"

    def __init__(self, pool: asyncpg.Pool, public_base_url: str) -> None:
        self._pool = pool
        self._public_base_url = public_base_url

    def _url(self, session_id: str) -> str:
        return f"{self._public_base_url}/checkout/{session_id}"

    def new_session(self) -> GatewaySession:
        """A session id and its URL for a payment not inserted yet, whose insert creates
        the session too (SESSION_OF_ADDED_SQL)."""
        session_id = stripe_id("cs_test_", 40)
        return GatewaySession(id=session_id, url=self._url(session_id))

    async def create_session(self, request: SessionRequest) -> GatewaySession:
        async with self._pool.acquire() as conn:
            # payment_id is UNIQUE: the local equivalent of Stripe's Idempotency-Key.
            session_id = await conn.fetchval(
                """INSERT INTO local_checkout_sessions (id, payment_id, enrollment_id, description,
                       amount_minor, currency, customer_email, success_url, cancel_url, expires_at,
                       destination_account, application_fee_minor)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                   ON CONFLICT (payment_id) DO NOTHING
                   RETURNING id""",
                stripe_id("cs_test_", 40),
                request.payment_id,
                request.enrollment_id,
                request.description,
                request.amount_minor,
                request.currency.upper(),
                request.customer_email,
                request.success_url,
                request.cancel_url,
                request.expires_at,
                request.destination_account,
                request.application_fee_minor,
            )
            if session_id is None:
                session_id = await conn.fetchval(
                    "SELECT id FROM local_checkout_sessions WHERE payment_id = $1",
                    request.payment_id,
                )
        return GatewaySession(id=session_id, url=self._url(session_id))

    async def get(self, session_id: str) -> SessionSnapshot:
        """The session as its hosted page shows it. An open session past its expiry already
        reads as expired, even if the sweeper has not closed it yet."""
        async with self._pool.acquire() as conn:
            session = await self._get(conn, session_id)
        if session.status == "open" and session.expires_at <= datetime.now(UTC):
            return replace(session, status="expired")
        return session

    async def pay(self, session_id: str, card_number: str) -> PayResult:
        """Charge a test card. A decline leaves the session open for another try, as Stripe
        Checkout does; success completes it and queues checkout.session.completed.

        The charge is one conditional UPDATE that matches only an open session before its
        expiry (it locks the row and re-checks on what a concurrent payer or canceller
        committed); a success writes its webhook's delivery row in the same statement.
        Only when it matches nothing is the session read, locked, in a transaction, to
        refuse with the reason (unknown, closed, or past its expiry and closed now)."""
        outcome = cards.charge(card_number)
        async with self._pool.acquire() as conn:
            if outcome.succeeded:
                event = event_around(CHECKOUT_COMPLETED)
                trace = current_traceparent()
                lease = fast_lease(conn, DELIVERY_CHANNEL)
                row = await conn.fetchrow(
                    _PAY_SQL,
                    session_id,
                    stripe_id("pi_"),
                    event.id,
                    event.type,
                    event.before,
                    event.after,
                    trace.get("traceparent", ""),
                    trace.get("tracestate", ""),
                    lease or 0.0,
                )
                if row is not None:  # paid, its webhook queued (committed: no transaction)
                    staged(conn, DELIVERY_CHANNEL, None if lease is None else [_delivery(row)])
            else:
                # Only the decline code is kept: card numbers never touch the database.
                row = await conn.fetchrow(_DECLINE_SQL, session_id, outcome.decline_code)
            if row is None:
                async with conn.transaction():
                    session = await self._get(conn, session_id, for_update=True)
                    if session.status != "open":
                        raise FailedPreconditionError(
                            f"checkout session {session_id} is {session.status} and cannot be paid"
                        )
                    # Open yet not matched: past its expiry but not swept yet. Close it now,
                    # as the sweeper would (a status never returns to open).
                    await self._expire(conn, session)
        if row is None:
            raise FailedPreconditionError(f"checkout session {session_id} has expired")
        return PayResult(_session(row), outcome)

    async def expire_session(self, session_id: str) -> str:
        """Close an open session now (as Stripe's POST .../expire does, with the same
        checkout.session.expired event); a paid one stays paid."""
        async with self._pool.acquire() as conn, conn.transaction():
            session = await self._get(conn, session_id, for_update=True)
            if session.status == "open":
                await self._expire(conn, session)
        if session.status == "open":
            return SESSION_EXPIRED
        return SESSION_COMPLETE if session.status == "complete" else SESSION_EXPIRED

    async def refund(self, request: RefundRequest) -> GatewayRefund:
        """Return a paid session's money and send charge.refunded, once per refund id."""
        key = f"refund-{request.refund_id}"
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"""SELECT {_COLUMNS} FROM local_checkout_sessions
                     WHERE payment_intent = $1 AND payment_status = 'paid' FOR UPDATE""",
                request.payment_intent,
            )
            if row is None:
                raise GatewayError(f"no paid checkout with payment_intent {request.payment_intent}")
            session = _session(row)
            if request.amount_minor > session.amount_minor:
                raise GatewayError(
                    f"refund of {request.amount_minor} exceeds the charge of {session.amount_minor}"
                )
            refund_id = await conn.fetchval(
                """INSERT INTO local_refunds (id, idempotency_key, payment_intent, amount_minor,
                       currency, metadata)
                   VALUES ($1, $2, $3, $4, $5, $6::jsonb)
                   ON CONFLICT (idempotency_key) DO NOTHING
                   RETURNING id""",
                stripe_id("re_"),
                key,
                request.payment_intent,
                request.amount_minor,
                request.currency.upper(),
                json.dumps(
                    {
                        "refund_id": request.refund_id,
                        "reason": request.reason,
                        "payment_id": request.payment_id,
                        # As Stripe's reverse_transfer and refund_application_fee would.
                        "reverse_transfer": "true" if request.reverse_transfer else "false",
                    }
                ),
            )
            if refund_id is None:  # a retry: the first request's refund, and no second event
                refund_id = await conn.fetchval(
                    "SELECT id FROM local_refunds WHERE idempotency_key = $1", key
                )
                return GatewayRefund(id=refund_id, status="succeeded")
            made = [
                LocalRefund(
                    id=r["id"],
                    amount_minor=r["amount_minor"],
                    metadata=json.loads(r["metadata"]),
                    created=int(r["created_at"].timestamp()),
                )
                for r in await conn.fetch(
                    """SELECT id, amount_minor, metadata, created_at FROM local_refunds
                        WHERE payment_intent = $1 ORDER BY created_at DESC, id""",
                    request.payment_intent,
                )
            ]
            charge = refunded_charge_object(
                session,
                charge_id="ch_" + session.payment_intent.removeprefix("pi_"),
                amount_refunded=sum(r.amount_minor for r in made),
                created=int(session.created_at.timestamp()),
                refunds=made,
            )
            await self._queue_event(conn, build_event(CHARGE_REFUNDED, charge))
        return GatewayRefund(id=refund_id, status="succeeded")

    async def create_payout_account(self, provider_id: str) -> str:
        """A simulated connected account: the local provider pays nobody out, but keeps the
        account and each destination charge's fee as Stripe would."""
        return stripe_id("acct_", 16)

    async def onboarding_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        # Nothing to fill in locally: onboarding is done, so the link leads straight back.
        separator = "&" if "?" in return_url else "?"
        return f"{return_url}{separator}payout_account={account_id}&onboarding=complete"

    async def expire_due(self, limit: int = SWEEP_BATCH) -> int:
        """Close open sessions past their expiry, each with a checkout.session.expired event."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"""SELECT {_COLUMNS} FROM local_checkout_sessions
                     WHERE status = 'open' AND expires_at <= now()
                     ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED""",
                limit,
            )
            for row in rows:
                await self._expire(conn, _session(row))
        if rows:
            log.info("local checkout: expired %d session(s)", len(rows))
        return len(rows)

    async def _get(
        self, conn: asyncpg.Connection, session_id: str, *, for_update: bool = False
    ) -> SessionSnapshot:
        lock = " FOR UPDATE" if for_update else ""
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM local_checkout_sessions WHERE id = $1{lock}", session_id
        )
        if row is None:
            raise NotFoundError(f"checkout session {session_id} not found")
        return _session(row)

    async def _expire(self, conn: asyncpg.Connection, session: SessionSnapshot) -> None:
        row = await conn.fetchrow(
            f"""UPDATE local_checkout_sessions SET status = 'expired', closed_at = now()
                 WHERE id = $1
                RETURNING {_COLUMNS}""",
            session.id,
        )
        await self._queue_webhook(conn, CHECKOUT_EXPIRED, _session(row))

    async def _queue_webhook(
        self, conn: asyncpg.Connection, event_type: str, session: SessionSnapshot
    ) -> None:
        """Owe the gateway this event, in the session change's own transaction, so a crash
        can lose neither the change nor its webhook."""
        await self._queue_event(conn, build_event(event_type, checkout_session_object(session)))

    async def _queue_event(self, conn: asyncpg.Connection, event: StripeEvent) -> None:
        trace = current_traceparent()
        await conn.execute(
            """INSERT INTO local_webhook_deliveries
                   (event_id, event_type, payload, traceparent, tracestate)
               VALUES ($1, $2, $3, $4, $5)""",
            event.id,
            event.type,
            event.payload,
            trace.get("traceparent", ""),
            trace.get("tracestate", ""),
        )
        staged(conn, DELIVERY_CHANNEL)
