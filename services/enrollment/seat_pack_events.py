"""Payments' events for seat packs. Payments knows a pack's checkout only by the order id
it was opened with (the pack's id, in the events' `enrollment_id`), so each payment event
is routed here: an enrollment's id goes to the enrollment handlers
(services/enrollment/consumers.py), a pack's id to the pack."""

from __future__ import annotations

import uuid

import asyncpg
from google.protobuf.message import Message
from upskill.payments.v1 import events_pb2 as payment_events

from services.common.consumer import AtOnce, Handler, Subscription
from services.common.events import Envelope
from services.enrollment import employers
from services.enrollment.consumers import UnknownEnrollmentError
from services.enrollment.seat_packs import SeatPack
from services.enrollment.seats import IncomingPayment

_PAYMENT_EVENTS = (
    payment_events.PaymentSucceeded,
    payment_events.PaymentFailed,
    payment_events.PaymentRefunded,
)


def apply(pack: SeatPack, event: Message) -> None:
    """One payment event's effect on a pack (the rules are the pack's own)."""
    if isinstance(event, payment_events.PaymentSucceeded):
        pack.payment_succeeded(
            IncomingPayment(event.payment_id, event.amount.amount_minor, event.amount.currency)
        )
    elif isinstance(event, payment_events.PaymentFailed):
        pack.payment_failed()
    elif isinstance(event, payment_events.PaymentRefunded):
        pack.payment_refunded(event.payment_id, full_refund=event.full_refund)


def _routed(handler: Handler) -> Handler:
    async def route(conn: asyncpg.Connection, event: Message, envelope: Envelope) -> None:
        order_id = getattr(event, "enrollment_id", "")
        try:
            uuid.UUID(order_id)
        except ValueError:
            await handler(conn, event, envelope)  # the enrollment handler refuses it
            return
        # Most orders are enrollments: their handler's locked read comes first, and only
        # an id no enrollment has (UnknownEnrollmentError, raised before anything is
        # written) costs a look at the packs. Ids are uuid4s, so no id is both.
        try:
            await handler(conn, event, envelope)
            return
        except UnknownEnrollmentError:
            pack = await employers.get_pack(conn, order_id, for_update=True)
            if pack is None:
                raise
        apply(pack, event)
        await employers.commit_pack(conn, pack)

    if isinstance(handler, AtOnce):
        # Its attempt writes only for an enrollment it found, and leaves any other id (a
        # pack's) to its locked path: routed here.
        return AtOnce(handler.attempt, route)
    return route


def route(subscriptions: list[Subscription]) -> list[Subscription]:
    """`subscriptions` with each payment event handler routing seat packs to the pack."""
    return [
        Subscription(s.event_type, _routed(s.handler)) if s.event_type in _PAYMENT_EVENTS else s
        for s in subscriptions
    ]
