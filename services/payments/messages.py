"""Payments domain events -> the protobuf integration events other services consume."""

from __future__ import annotations

from google.protobuf.message import Message
from upskill.payments.v1 import events_pb2
from upskill.type.v1 import money_pb2

from services.common.protos import timestamp
from services.payments.domain import (
    DomainEvent,
    PaymentFailedEvent,
    PaymentRefundedEvent,
    PaymentSucceededEvent,
)


def event_message(event: DomainEvent) -> Message:
    if isinstance(event, PaymentRefundedEvent):
        return events_pb2.PaymentRefunded(
            payment_id=event.payment_id,
            enrollment_id=event.enrollment_id,
            learner_id=event.learner_id,
            provider_id=event.provider_id,
            refund_id=event.refund_id,
            gateway_refund_id=event.gateway_refund_id,
            amount=money_pb2.Money(
                amount_minor=event.amount.amount_minor, currency=event.amount.currency
            ),
            reason=event.reason,
            full_refund=event.full_refund,
            gateway=event.gateway,
            occur_time=timestamp(event.occurred_at),
        )
    if isinstance(event, PaymentSucceededEvent):
        return events_pb2.PaymentSucceeded(
            payment_id=event.payment_id,
            enrollment_id=event.enrollment_id,
            learner_id=event.learner_id,
            amount=money_pb2.Money(
                amount_minor=event.amount.amount_minor, currency=event.amount.currency
            ),
            gateway=event.gateway,
            gateway_payment_id=event.gateway_payment_id,
            occur_time=timestamp(event.occurred_at),
        )
    assert isinstance(event, PaymentFailedEvent)
    return events_pb2.PaymentFailed(
        payment_id=event.payment_id,
        enrollment_id=event.enrollment_id,
        reason=event.reason,
        occur_time=timestamp(event.occurred_at),
    )
