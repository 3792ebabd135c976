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
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import stripe

from services.common.errors import FieldViolation, InvalidArgumentError, NotFoundError
from services.payments import repository, unit_of_work
from services.payments.domain import (
    REASON_ASYNC_PAYMENT_FAILED,
    REASON_CHECKOUT_EXPIRED,
    REASON_DISPUTE_LOST,
    REASON_GATEWAY_REFUND,
    Dispute,
    Money,
    PaidCheckout,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from services.payments.stripe_events import (
    CHARGE_REFUNDED,
    CHECKOUT_ASYNC_FAILED,
    CHECKOUT_ASYNC_SUCCEEDED,
    CHECKOUT_COMPLETED,
    CHECKOUT_EXPIRED,
    DISPUTE_CLOSED,
    DISPUTE_CREATED,
    DISPUTE_UPDATED,
    REFUND_CREATED,
    REFUND_UPDATED,
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


class _Recorded(str):
    """An outcome that the handler wrote itself, with its last statement (commit_charge),
    so handle() does not write it again. A handler that fails after writing it rolls back
    with the whole transaction, the claim included: the event stays retryable."""

    __slots__ = ()


class WebhookHandler:
    def __init__(self, pool: asyncpg.Pool, secret: str, fee_bps: int) -> None:
        self._pool = pool
        self._secret = secret
        self._fee_bps = fee_bps

    async def handle(self, payload: bytes, signature: str) -> WebhookResult:
        event = verify(payload, signature, self._secret)
        event_id, event_type = event["id"], event["type"]
        apply = _HANDLERS.get(event_type)
        session = event["data"]["object"]
        # The payment our metadata names is locked in the claim's own round trip.
        named = _metadata(session).get("payment_id") if apply is not None else None
        named = named if isinstance(named, str) else ""
        if named and event_type in _PAID:
            result = await self._succeed_at_once(event, session, named)
            if result is not None:
                return result
        async with self._pool.acquire() as conn, conn.transaction():
            claimed, payment = await repository.claim_webhook_event(
                conn, event_id, event_type, event, named
            )
            if not claimed:
                log.info("webhook %s (%s) is a duplicate; ignored", event_id, event_type)
                return WebhookResult(event_id, event_type, duplicate=True, outcome="duplicate")
            if apply is None:
                outcome = "ignored: event type not handled"
            else:
                if payment is None:
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
            if not isinstance(outcome, _Recorded):
                await repository.set_webhook_outcome(
                    conn, event_id, outcome, payment.id if payment else None
                )
        log.info("webhook %s (%s): %s", event_id, event_type, outcome)
        return WebhookResult(event_id, event_type, duplicate=False, outcome=str(outcome))

    async def _succeed_at_once(
        self, event: dict[str, Any], session: dict[str, Any], payment_id: str
    ) -> WebhookResult | None:
        """A checkout's success in two round trips, without a transaction around them: the
        payment read unlocked (with whether the event was seen before), and, when it is a
        plain success (_on_paid would succeed it), the claim, the save, its events and its
        charge in one statement that writes only if the payment is still as read and the
        claim is new (unit_of_work.commit_claimed_charge). None when that is not so, and
        nothing was written: handle() decides again in the locked transaction, whose
        outcome (a duplicate, an anomaly, deferred events applied) is then the answer."""
        event_id, event_type = event["id"], event["type"]
        async with self._pool.acquire() as conn:
            seen, payment = await repository.peek_webhook_event(conn, event_id, payment_id)
            if seen:  # committed before: nothing in this one can apply
                log.info("webhook %s (%s) is a duplicate; ignored", event_id, event_type)
                return WebhookResult(event_id, event_type, duplicate=True, outcome="duplicate")
            if (
                payment is None
                or payment.status is not PaymentStatus.PENDING
                or session.get("payment_status") != "paid"
            ):
                return None
            paid = _paid_checkout(session)
            if payment.mismatches(paid):
                return None
            session_id, gateway = payment.checkout_session_id, payment.gateway
            entry = payment.succeed(paid, fee_bps=self._fee_bps)
            outcome = "payment SUCCEEDED"
            claim = repository.WebhookClaim(event_id, event_type, event, outcome)
            if not await unit_of_work.commit_claimed_charge(
                conn, payment, entry, claim, session_id, gateway
            ):
                return None
        log.info("webhook %s (%s): %s", event_id, event_type, outcome)
        return WebhookResult(event_id, event_type, duplicate=False, outcome=outcome)

    async def _payment_for(
        self, conn: asyncpg.Connection, session: dict[str, Any]
    ) -> Payment | None:
        """The payment a checkout session belongs to, locked, when the payment our metadata
        names (locked with the claim) is not found: by the session id, or for a charge,
        refund or dispute by its PaymentIntent (one made outside this service, or in the
        dashboard, has no metadata of ours)."""
        if session.get("object") != "checkout.session":
            intent = session.get("payment_intent")
            if isinstance(intent, str) and intent:
                return await repository.find_by_payment_intent(conn, intent, for_update=True)
            return None
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
        succeeded = _Recorded("payment SUCCEEDED")
        recorded = repository.WebhookOutcome(event_id, succeeded)
        # The save, its event, the charge and this outcome are one statement; refunds or
        # disputes delivered before this payment come back from it: apply them now, in
        # order, so the end state does not depend on the order Stripe delivered them in.
        deferred_events = await unit_of_work.commit_charge(conn, payment, ledger_entry, recorded)
        for deferred in deferred_events:
            apply = _HANDLERS[deferred["type"]]
            outcome = await apply(self, conn, deferred["id"], deferred["data"]["object"], payment)
            await repository.set_webhook_outcome(conn, deferred["id"], outcome, payment.id)
            log.info("deferred webhook %s (%s): %s", deferred["id"], deferred["type"], outcome)
        return succeeded

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
        await unit_of_work.commit(conn, payment)
        return f"payment {payment.status}"

    # ------------------------------------------------------------- money going back

    async def _not_yet_paid(
        self, conn: asyncpg.Connection, event_id: str, payment: Payment, what: str
    ) -> str | None:
        """None when `payment` has been paid; otherwise the outcome to record."""
        if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
            return None
        if payment.status is PaymentStatus.PENDING:
            # Delivered before the payment's own success: applied right after it.
            return f"deferred: {what} before the payment succeeded"
        return await self._anomaly(
            conn, event_id, payment, "refund_of_unpaid", f"{what} for a {payment.status} payment"
        )

    async def _on_charge_refunded(
        self, conn: asyncpg.Connection, event_id: str, charge: dict[str, Any], payment: Payment
    ) -> str:
        """The charge's money went back, in part or in full: book what is not booked yet.
        Its refunds list (when the API version includes it) names each refund; otherwise
        its running total `amount_refunded` says how much more came back."""
        if (waiting := await self._not_yet_paid(conn, event_id, payment, "a refund")) is not None:
            return waiting
        booked = 0
        refunds = charge.get("refunds")
        listed = refunds.get("data") if isinstance(refunds, dict) else None
        for item in listed if isinstance(listed, list) else []:
            if (
                isinstance(item, dict)
                and item.get("status") == "succeeded"
                and await self._book_gateway_refund(conn, event_id, payment, item)
            ):
                booked += 1
        total = charge.get("amount_refunded")
        if isinstance(total, int) and total > payment.refunded_minor:
            more = await self._book_refunded_total(conn, event_id, payment, total, charge)
            if more is None and not booked:
                return "ignored: refunds of ours on their way book themselves"
            booked += more or 0
        return f"refunds booked: {booked}" if booked else "ignored: refunds already booked"

    async def _on_refund(
        self, conn: asyncpg.Connection, event_id: str, refund: dict[str, Any], payment: Payment
    ) -> str:
        if refund.get("status") != "succeeded":
            return f"ignored: refund status is {refund.get('status')!r}"
        if (waiting := await self._not_yet_paid(conn, event_id, payment, "a refund")) is not None:
            return waiting
        if await self._book_gateway_refund(conn, event_id, payment, refund):
            return "refund booked"
        return "ignored: refund already booked"

    async def _book_gateway_refund(
        self, conn: asyncpg.Connection, event_id: str, payment: Payment, item: dict[str, Any]
    ) -> bool:
        """Book one gateway refund (re_...) once: ours that was on its way, or a new one made
        outside our API. False when it was booked before."""
        gateway_id = str(item.get("id") or "")
        amount = item.get("amount")
        if not gateway_id or not isinstance(amount, int) or amount <= 0:
            return False
        if await repository.find_refund_by_gateway_id(conn, gateway_id) is not None:
            return False
        ours = _metadata(item).get("refund_id")
        refund = None
        if isinstance(ours, str) and ours:
            try:
                refund = await repository.get_refund(conn, ours, for_update=True)
            except NotFoundError:
                refund = None
            if refund is not None and refund.payment_id != payment.id:
                refund = None
            if refund is not None and refund.status is RefundStatus.SUCCEEDED:
                return False  # booked by the refund worker, which knew the gateway's id
        if refund is None:
            # Booked already from the charge's running total (charge.refunded came first
            # and did not name it): that booking is this refund; give it its id.
            for booked in await repository.refunds_of(conn, payment.id):
                if (
                    booked.reason == REASON_GATEWAY_REFUND
                    and booked.status is RefundStatus.SUCCEEDED
                    and not booked.gateway_refund_id
                    and booked.amount.amount_minor == amount
                ):
                    booked.gateway_refund_id = gateway_id
                    await repository.save_refund(conn, booked)
                    return False
            if amount > payment.refundable_minor:
                await self._anomaly(
                    conn,
                    event_id,
                    payment,
                    "refund_exceeds_payment",
                    f"gateway refund {gateway_id} of {amount} exceeds the "
                    f"{payment.refundable_minor} left",
                )
                return False
            refund = payment.refund(
                reason=REASON_GATEWAY_REFUND,
                idempotency_key=f"gateway:{gateway_id}",
                amount_minor=amount,
            )
            await repository.add_refund(conn, refund)
        await self._book(conn, payment, refund, gateway_id, kind="refund")
        return True

    async def _book_refunded_total(
        self,
        conn: asyncpg.Connection,
        event_id: str,
        payment: Payment,
        total: int,
        charge: dict[str, Any],
    ) -> int | None:
        """The gateway says `total` came back but less is booked (None: left to refunds of
        ours that are on their way). While refunds of ours are
        on their way, the difference may be theirs: those are booked by the refund worker
        (or by the refund's own event, which names it), never guessed from a total. With
        none on its way, the difference was refunded elsewhere (the dashboard)."""
        refunds = await repository.refunds_of(conn, payment.id)
        if any(r.status is RefundStatus.PENDING for r in refunds):
            log.info(
                "webhook %s: %d refunded of payment %s while refunds of ours are on their way; "
                "they book themselves",
                event_id,
                total,
                payment.id,
            )
            return None
        gap = min(total, payment.amount.amount_minor) - payment.refunded_minor
        if gap <= 0:
            return 0
        refund = payment.refund(
            reason=REASON_GATEWAY_REFUND,
            # The running total names this step of the charge: a redelivery finds it.
            idempotency_key=f"gateway:{charge.get('id')}:{total}",
            amount_minor=gap,
        )
        if not await repository.add_refund(conn, refund):
            return 0
        await self._book(conn, payment, refund, "", kind="refund")
        return 1

    async def _book(
        self, conn: asyncpg.Connection, payment: Payment, refund: Refund, gateway_id: str, kind: str
    ) -> None:
        payment.refunded(refund, gateway_id)
        await unit_of_work.commit(conn, payment)
        await repository.save_refund(conn, refund)
        await repository.add_refund_ledger_line(conn, refund, kind)

    async def _on_dispute(
        self, conn: asyncpg.Connection, event_id: str, obj: dict[str, Any], payment: Payment
    ) -> str:
        """Record the chargeback for operators; a lost one takes the money back like a full
        refund (and so closes the enrollment and revokes its credential)."""
        amount = obj.get("amount")
        dispute = Dispute(
            id=str(uuid.uuid4()),
            gateway_dispute_id=str(obj.get("id") or ""),
            payment_id=payment.id,
            amount=Money(
                amount if isinstance(amount, int) else payment.amount.amount_minor,
                str(obj.get("currency") or payment.amount.currency).upper(),
            ),
            reason=str(obj.get("reason") or ""),
            status=str(obj.get("status") or ""),
        )
        if not dispute.gateway_dispute_id:
            return await self._anomaly(conn, event_id, payment, "mismatch", "dispute without id")
        await repository.upsert_dispute(conn, dispute)
        log.warning(
            "DISPUTE %s on payment %s (enrollment %s): %s, %s",
            dispute.gateway_dispute_id,
            payment.id,
            payment.enrollment_id,
            dispute.status,
            dispute.reason,
        )
        if not dispute.lost:
            return f"dispute {dispute.status}"
        if (waiting := await self._not_yet_paid(conn, event_id, payment, "a dispute")) is not None:
            return waiting
        key = f"dispute:{dispute.gateway_dispute_id}"
        if await repository.find_refund_by_key(conn, key) is not None:
            return "ignored: lost dispute already booked"
        if payment.refundable_minor <= 0:
            return "dispute lost; nothing left to take back"
        refund = payment.refund(
            reason=REASON_DISPUTE_LOST,
            idempotency_key=key,
            amount_minor=min(dispute.amount.amount_minor, payment.refundable_minor),
        )
        await repository.add_refund(conn, refund)
        await self._book(conn, payment, refund, dispute.gateway_dispute_id, kind="dispute")
        return "dispute lost: booked as a refund"


# The events that succeed a payment: the purchase's path, tried first without a lock.
_PAID = frozenset({CHECKOUT_COMPLETED, CHECKOUT_ASYNC_SUCCEEDED})

_HANDLERS = {
    CHECKOUT_COMPLETED: WebhookHandler._on_paid,
    CHECKOUT_ASYNC_SUCCEEDED: WebhookHandler._on_paid,
    CHECKOUT_EXPIRED: WebhookHandler._on_expired,
    CHECKOUT_ASYNC_FAILED: WebhookHandler._on_async_failed,
    CHARGE_REFUNDED: WebhookHandler._on_charge_refunded,
    REFUND_CREATED: WebhookHandler._on_refund,
    REFUND_UPDATED: WebhookHandler._on_refund,
    DISPUTE_CREATED: WebhookHandler._on_dispute,
    DISPUTE_UPDATED: WebhookHandler._on_dispute,
    DISPUTE_CLOSED: WebhookHandler._on_dispute,
}
