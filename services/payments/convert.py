"""Conversions between the payments domain and its protobuf messages."""

from __future__ import annotations

from upskill.payments.v1 import payments_pb2, payments_service_pb2
from upskill.type.v1 import money_pb2

from services.common.errors import FieldViolation, InvalidArgumentError
from services.common.protos import timestamp
from services.payments.domain import (
    CheckoutOrder,
    Dispute,
    Money,
    Payment,
    Refund,
    SeatPackOrder,
)
from services.payments.repository import EarningsRow, LedgerLine
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
        program_id=request.program_id,
        seat_pack=seat_pack_from_pb(request.seat_pack, request.amount.currency)
        if request.HasField("seat_pack")
        else None,
    )


def seat_pack_from_pb(pb: payments_pb2.SeatPackOrder, currency: str) -> SeatPackOrder:
    if pb.price_per_seat.currency != currency:
        raise InvalidArgumentError(
            "a seat pack's price per seat must be in the payment's currency",
            [FieldViolation("seat_pack.price_per_seat.currency", f"must be {currency}")],
        )
    return SeatPackOrder(
        employer_id=pb.employer_id,
        employer_name=pb.employer_name.strip(),
        seats=pb.seats,
        price_per_seat_minor=pb.price_per_seat.amount_minor,
    )


def seat_pack_to_pb(pack: SeatPackOrder, currency: str) -> payments_pb2.SeatPackOrder:
    return payments_pb2.SeatPackOrder(
        employer_id=pack.employer_id,
        employer_name=pack.employer_name,
        seats=pack.seats,
        price_per_seat=money_pb2.Money(amount_minor=pack.price_per_seat_minor, currency=currency),
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
        program_id=payment.program_id,
        destination_account=payment.destination_account,
        application_fee_minor=payment.application_fee_minor,
        create_time=timestamp(payment.created_at),
        update_time=timestamp(payment.updated_at),
        seat_pack=seat_pack_to_pb(payment.seat_pack, payment.amount.currency)
        if payment.seat_pack
        else None,
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


def dispute_to_pb(dispute: Dispute) -> payments_pb2.Dispute:
    return payments_pb2.Dispute(
        id=dispute.id,
        gateway_dispute_id=dispute.gateway_dispute_id,
        payment_id=dispute.payment_id,
        enrollment_id=dispute.enrollment_id,
        provider_id=dispute.provider_id,
        amount=money_to_pb(dispute.amount),
        reason=dispute.reason,
        status=dispute.status,
        create_time=timestamp(dispute.created_at),
        update_time=timestamp(dispute.updated_at),
    )


def earnings_to_pb(row: EarningsRow) -> payments_pb2.EarningsTotal:
    return payments_pb2.EarningsTotal(
        currency=row.currency,
        program_id=row.program_id,
        gross_minor=row.gross_minor,
        platform_fee_minor=row.fee_minor,
        refunds_minor=row.refunds_minor,
        disputes_minor=row.disputes_minor,
        net_minor=row.net_minor,
        available_minor=row.available_minor,
        pending_minor=row.net_minor - row.available_minor,
        charges=row.charges,
    )


def ledger_line_to_pb(line: LedgerLine) -> payments_pb2.LedgerLine:
    return payments_pb2.LedgerLine(
        id=line.id,
        payment_id=line.payment_id,
        enrollment_id=line.enrollment_id,
        program_id=line.program_id,
        kind=line.kind,
        currency=line.currency,
        gross_minor=line.gross_minor,
        platform_fee_minor=line.fee_minor,
        provider_net_minor=line.net_minor,
        fee_bps=line.fee_bps,
        refund_id=line.refund_id,
        create_time=timestamp(line.created_at),
        available=line.available,
    )
