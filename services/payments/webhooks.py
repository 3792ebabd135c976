"""Applies gateway webhooks: verify Stripe's signature, dedupe on the event id, then turn
the event into at most one payment transition, in one transaction with its outbox event.

What arrives is authentic but not necessarily sensible: events may repeat, come out of
order, or describe a charge that does not match the payment. Only a checkout that matches
the stored payment in session, enrollment, amount and currency ever succeeds it; anything
else is recorded as an anomaly and acknowledged, so Stripe stops re-sending it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import stripe

from services.common.errors import FieldViolation, InvalidArgumentError
from services.payments import repository
from services.payments.domain import (
    REASON_ASYNC_PAYMENT_FAILED,
    REASON_CHECKOUT_EXPIRED,
    PaidCheckout,
    Payment,
    PaymentStatus,
)
from services.payments.stripe_events import (
    CHECKOUT_ASYNC_FAILED,
    CHECKOUT_ASYNC_SUCCEEDED,
    CHECKOUT_COMPLETED,
    CHECKOUT_EXPIRED,
)

log = logging.getLogger(__name__)

# Stripe's own default: a signature older than five minutes is a replay.
TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    event_type: str
    duplicate: bool
    outcome: str


def verify(
    payload: bytes, signature: str, secret: str, *, now: Callable[[], float] = time.time
) -> dict[str, Any]:
    """The event in `payload` if Stripe (or the local provider) signed it with `secret`
    within the tolerance (either side of `now`); InvalidArgumentError otherwise, before
    anything is touched."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgumentError(
            "webhook payload is not UTF-8", [FieldViolation("payload", "must be UTF-8 JSON")]
        ) from None
    try:
        # stripe-python's own check of the scheme and the constant-time compare. Its
        # tolerance only looks into the past (a timestamp ten years ahead passes), so the
        # timestamp is checked below, both ways, against our own clock.
        stripe.WebhookSignature.verify_header(text, signature, secret, tolerance=None)
        _check_timestamp(_signed_at(signature), now())
    except stripe.SignatureVerificationError as exc:
        log.warning("webhook rejected: signature verification failed: %s", exc.user_message)
        raise InvalidArgumentError(
            f"webhook signature verification failed: {exc.user_message}",
            [FieldViolation("signature", str(exc.user_message))],
        ) from None
    try:
        event = json.loads(text)
    except ValueError:  # signed by the secret's holder, but not JSON
        event = None
    data = event.get("data") if isinstance(event, dict) else None
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and event["id"]
        and isinstance(event.get("type"), str)
        and isinstance(data, dict)
        and isinstance(data.get("object"), dict)
    ):
        raise InvalidArgumentError(
            "webhook payload is not a Stripe event",
            [FieldViolation("payload", "needs id, type and data.object")],
        )
    return event


def _signed_at(header: str) -> int:
    """The header's `t=` timestamp (the first one, as stripe-python reads it), once
    verify_header has accepted the header."""
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key.strip() == "t":
            return int(value)
    raise stripe.SignatureVerificationError("no timestamp in the header", header)


def _check_timestamp(signed_at: int, now: float) -> None:
    """A signature dated more than the tolerance before or after `now` is refused: in the
    past it may be a replay, in the future a forgery made to outlive the replay window."""
    if abs(now - signed_at) > TOLERANCE_SECONDS:
        raise stripe.SignatureVerificationError(
            f"Timestamp outside the tolerance zone ({signed_at})", None
        )


def _metadata(session: dict[str, Any]) -> dict[str, Any]:
    metadata = session.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _paid_checkout(session: dict[str, Any]) -> PaidCheckout:
    metadata = _metadata(session)
    amount = session.get("amount_total")
    return PaidCheckout(
        session_id=str(session.get("id") or ""),
        client_reference_id=str(session.get("client_reference_id") or ""),
        metadata_enrollment_id=str(metadata.get("enrollment_id") or ""),
        amount_minor=amount if isinstance(amount, int) else -1,
        currency=str(session.get("currency") or "").upper(),
        payment_intent=str(session.get("payment_intent") or ""),
    )


class WebhookHandler:
    def __init__(self, pool: asyncpg.Pool, secret: str, fee_bps: int) -> None:
        self._pool = pool
        self._secret = secret
        self._fee_bps = fee_bps

    async def handle(self, payload: bytes, signature: str) -> WebhookResult:
        event = verify(payload, signature, self._secret)
        event_id, event_type = event["id"], event["type"]
        async with self._pool.acquire() as conn, conn.transaction():
            if not await repository.record_webhook_event(conn, event_id, event_type, event):
                log.info("webhook %s (%s) is a duplicate; ignored", event_id, event_type)
                return WebhookResult(event_id, event_type, duplicate=True, outcome="duplicate")
            apply = _HANDLERS.get(event_type)
            payment: Payment | None = None
            if apply is None:
                outcome = "ignored: event type not handled"
            else:
                session = event["data"]["object"]
                payment = await self._payment_for(conn, session)
                if payment is None:
                    outcome = "ignored: no payment for this checkout session"
                    log.warning(
                        "webhook %s (%s): no payment for session %s",
                        event_id,
                        event_type,
                        session.get("id"),
                    )
                else:
                    outcome = await apply(self, conn, event_id, session, payment)
            await repository.set_webhook_outcome(
                conn, event_id, outcome, payment.id if payment else None
            )
        log.info("webhook %s (%s): %s", event_id, event_type, outcome)
        return WebhookResult(event_id, event_type, duplicate=False, outcome=outcome)

    async def _payment_for(
        self, conn: asyncpg.Connection, session: dict[str, Any]
    ) -> Payment | None:
        """The payment a checkout session belongs to, locked: our metadata first, then the
        session id (a session created outside this service has neither)."""
        metadata = _metadata(session)
        payment_id = metadata.get("payment_id")
        if isinstance(payment_id, str) and payment_id:
            payment = await repository.find(conn, payment_id, for_update=True)
            if payment is not None:
                return payment
        session_id = session.get("id")
        if isinstance(session_id, str) and session_id:
            return await repository.find_by_session(conn, session_id, for_update=True)
        return None

    async def _anomaly(
        self, conn: asyncpg.Connection, event_id: str, payment: Payment, kind: str, detail: str
    ) -> str:
        # Authentic, yet it does not fit: a human must look (money may have moved).
        log.error(
            "PAYMENT ANOMALY %s on payment %s (event %s): %s", kind, payment.id, event_id, detail
        )
        await repository.add_anomaly(
            conn, payment_id=payment.id, event_id=event_id, kind=kind, detail=detail
        )
        return f"anomaly: {kind}"

    async def _on_paid(
        self, conn: asyncpg.Connection, event_id: str, session: dict[str, Any], payment: Payment
    ) -> str:
        if session.get("payment_status") != "paid":
            # Delayed methods complete unpaid; async_payment_succeeded follows if they clear.
            return f"ignored: payment_status is {session.get('payment_status')!r}"
        if payment.status is PaymentStatus.SUCCEEDED:
            return "ignored: payment already SUCCEEDED"
        paid = _paid_checkout(session)
        if payment.status is not PaymentStatus.PENDING:
            return await self._anomaly(
                conn,
                event_id,
                payment,
                "paid_after_close",
                f"checkout {paid.session_id} was paid but the payment is {payment.status}; "
                "refund it",
            )
        if problems := payment.mismatches(paid):
            return await self._anomaly(conn, event_id, payment, "mismatch", "; ".join(problems))
        ledger_entry = payment.succeed(paid, fee_bps=self._fee_bps)
        await repository.save(conn, payment)
        await repository.add_ledger_entry(conn, ledger_entry)
        return "payment SUCCEEDED"

    async def _on_expired(
        self, conn: asyncpg.Connection, event_id: str, session: dict[str, Any], payment: Payment
    ) -> str:
        return await self._close_unpaid(
            conn, event_id, session, payment, PaymentStatus.EXPIRED, REASON_CHECKOUT_EXPIRED
        )

    async def _on_async_failed(
        self, conn: asyncpg.Connection, event_id: str, session: dict[str, Any], payment: Payment
    ) -> str:
        return await self._close_unpaid(
            conn, event_id, session, payment, PaymentStatus.FAILED, REASON_ASYNC_PAYMENT_FAILED
        )

    async def _close_unpaid(
        self,
        conn: asyncpg.Connection,
        event_id: str,
        session: dict[str, Any],
        payment: Payment,
        status: PaymentStatus,
        reason: str,
    ) -> str:
        if payment.status is not PaymentStatus.PENDING:
            # Late or out of order (e.g. expired after completed): never undo a final state.
            return f"ignored: payment already {payment.status}"
        session_id = str(session.get("id") or "")
        if payment.checkout_session_id and session_id != payment.checkout_session_id:
            return await self._anomaly(
                conn,
                event_id,
                payment,
                "mismatch",
                f"session {session_id!r} is not this payment's {payment.checkout_session_id!r}",
            )
        payment.close_unpaid(status, reason)
        await repository.save(conn, payment)
        return f"payment {payment.status}"


_HANDLERS = {
    CHECKOUT_COMPLETED: WebhookHandler._on_paid,
    CHECKOUT_ASYNC_SUCCEEDED: WebhookHandler._on_paid,
    CHECKOUT_EXPIRED: WebhookHandler._on_expired,
    CHECKOUT_ASYNC_FAILED: WebhookHandler._on_async_failed,
}
