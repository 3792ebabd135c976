"""Conversions between the payments domain and its protobuf messages."""

from __future__ import annotations

from upskill.payments.v1 import payments_pb2, payments_service_pb2
from upskill.type.v1 import money_pb2

from services.common.protos import timestamp
from services.payments.domain import CheckoutOrder, Money, Payment, Refund
from services.payments.stripe_events import SessionSnapshot

_STATUS = {
    "PENDING": payments_pb2.PAYMENT_STATUS_PENDING,
    "SUCCEEDED": payments_pb2.PAYMENT_STATUS_SUCCEEDED,
    "FAILED": payments_pb2.PAYMENT_STATUS_FAILED,
    "EXPIRED": payments_pb2.PAYMENT_STATUS_EXPIRED,
    "REFUNDED": payments_pb2.PAYMENT_STATUS_REFUNDED,
}


def money_to_pb(money: Money) -> money_pb2.Money:
    return money_pb2.Money(amount_minor=money.amount_minor, currency=money.currency)


def order_from_pb(request: payments_service_pb2.CreateCheckoutRequest) -> CheckoutOrder:
    return CheckoutOrder(
        enrollment_id=request.enrollment_id,
        learner_id=request.learner_id,
        learner_email=request.learner_email,
        provider_id=request.provider_id,
        amount=Money(request.amount.amount_minor, request.amount.currency),
        description=request.description.strip(),
        success_url=request.success_url,
        cancel_url=request.cancel_url,
    )


def payment_to_pb(payment: Payment) -> payments_pb2.Payment:
    return payments_pb2.Payment(
        id=payment.id,
        enrollment_id=payment.enrollment_id,
        learner_id=payment.learner_id,
        provider_id=payment.provider_id,
        amount=money_to_pb(payment.amount),
        status=_STATUS[payment.status.value],
        gateway=payment.gateway,
        checkout_session_id=payment.checkout_session_id,
        checkout_url=payment.checkout_url,
        gateway_payment_id=payment.gateway_payment_id,
        failure_reason=payment.failure_reason,
        create_time=timestamp(payment.created_at),
        update_time=timestamp(payment.updated_at),
    )


def session_to_pb(session: SessionSnapshot) -> payments_pb2.CheckoutSession:
    return payments_pb2.CheckoutSession(
        id=session.id,
        payment_id=session.payment_id,
        description=session.description,
        amount=money_to_pb(Money(session.amount_minor, session.currency)),
        status=session.status,
        success_url=session.success_url,
        cancel_url=session.cancel_url,
        expire_time=timestamp(session.expires_at),
    )


_REFUND_STATUS = {
    "PENDING": payments_pb2.REFUND_STATUS_PENDING,
    "SUCCEEDED": payments_pb2.REFUND_STATUS_SUCCEEDED,
    "FAILED": payments_pb2.REFUND_STATUS_FAILED,
}


def refund_to_pb(refund: Refund) -> payments_pb2.Refund:
    message = payments_pb2.Refund(
        id=refund.id,
        payment_id=refund.payment_id,
        enrollment_id=refund.enrollment_id,
        learner_id=refund.learner_id,
        provider_id=refund.provider_id,
        amount=money_to_pb(refund.amount),
        reason=refund.reason,
        status=_REFUND_STATUS[refund.status.value],
        gateway=refund.gateway,
        gateway_refund_id=refund.gateway_refund_id,
        full_refund=refund.full_refund,
        last_error=refund.last_error,
        create_time=timestamp(refund.created_at),
    )
    if refund.completed_at is not None:
        message.complete_time.CopyFrom(timestamp(refund.completed_at))
    return message
