"""Calls to catalog and payments: deadlines, the service's own token, errors translated."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from upskill.catalog.v1 import catalog_pb2, catalog_service_pb2, catalog_service_pb2_grpc
from upskill.payments.v1 import payments_pb2, payments_service_pb2, payments_service_pb2_grpc
from upskill.type.v1 import money_pb2

from services.common.errors import (
    FailedPreconditionError,
    NotFoundError,
    ServiceError,
    UnavailableError,
)
from services.common.grpc_client import DEFAULT_DEADLINE_SECONDS, auth_metadata, channel
from services.common.outages import PEER_UNAVAILABLE
from services.common.telemetry import current_trace_metadata, records_spans
from services.enrollment.domain import Enrollment
from services.enrollment.seat_packs import SeatPack

REASON_UNASSIGNED_SEATS = "unassigned_seats"


class Peers:
    def __init__(
        self,
        catalog_addr: str,
        payments_addr: str,
        token: Callable[[], str],
        public_base_url: str,
        *,
        traced: bool | None = None,
    ) -> None:
        """`traced`: whether the channels run OpenTelemetry's client interceptor; by default
        only when spans are recorded (telemetry.records_spans), as the gateway's. Without
        it (no span would be recorded: a task and a dropped span per call) each call sends
        the current trace context itself, so payments and catalog continue the trace."""
        self._public = public_base_url.rstrip("/")
        traced = records_spans() if traced is None else traced
        self._catalog = catalog_service_pb2_grpc.CatalogServiceStub(
            channel(catalog_addr, traced=traced)
        )
        self._payments = payments_service_pb2_grpc.PaymentsServiceStub(
            channel(payments_addr, traced=traced)
        )
        self._token = token
        # The last token and its metadata: the token changes rarely (a re-mint per hour).
        self._auth: tuple[str, tuple[tuple[str, str], ...]] = ("", ())

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        """The service's token and the current trace context (which a traced channel's
        client interceptor replaces with its own span's)."""
        token = self._token()
        if token != self._auth[0]:
            self._auth = (token, auth_metadata(token))
        return self._auth[1] + current_trace_metadata()

    async def program(self, program_id: str) -> catalog_pb2.Program:
        try:
            response = await self._catalog.GetProgram(
                catalog_service_pb2.GetProgramRequest(program_id=program_id),
                metadata=self._metadata(),
                timeout=DEFAULT_DEADLINE_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFoundError(f"program {program_id} not found") from None
            raise _translate("catalog", exc) from None
        return response.program

    async def open_checkout(self, e: Enrollment, description: str) -> payments_pb2.Payment:
        """Idempotent on the enrollment id, so a retry never opens a second checkout."""
        try:
            response = await self._payments.CreateCheckout(
                payments_service_pb2.CreateCheckoutRequest(
                    enrollment_id=e.id,
                    learner_id=e.learner_id,
                    learner_email=e.learner_email,
                    provider_id=e.provider_id,
                    program_id=e.program_id,
                    amount=money_pb2.Money(
                        amount_minor=e.price.amount_minor, currency=e.price.currency
                    ),
                    description=description[:500],
                    # Where the hosted checkout sends the learner back to; `paid=1` lets
                    # that page say "Payment received, confirming..." from its first paint.
                    success_url=f"{self._public}/enrollments/{e.id}?paid=1",
                    cancel_url=f"{self._public}/programs/{e.program_id}",
                ),
                metadata=self._metadata(),
                timeout=DEFAULT_DEADLINE_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            raise _translate("payments", exc) from None
        return response.payment

    async def open_pack_checkout(
        self, pack: SeatPack, program_title: str, employer_name: str
    ) -> payments_pb2.Payment:
        """One checkout for a whole seat pack, at its total, idempotent on the pack id (which
        payments carries as the order id its events name). The employer and the seats go
        with it, so the checkout, the payment and the receipt name them."""
        price_per_seat = money_pb2.Money(amount_minor=pack.price_per_seat, currency=pack.currency)
        description = f"{pack.seats} seats: {program_title} ({employer_name})"
        try:
            response = await self._payments.CreateCheckout(
                payments_service_pb2.CreateCheckoutRequest(
                    enrollment_id=pack.id,
                    learner_id=pack.bought_by,
                    learner_email=pack.bought_by_email,
                    provider_id=pack.provider_id,
                    program_id=pack.program_id,
                    amount=money_pb2.Money(amount_minor=pack.total_minor, currency=pack.currency),
                    description=description[:500],
                    # Back to the employer's team page, where the manager bought it.
                    success_url=f"{self._public}/team/{pack.employer_id}?bought={pack.id}",
                    cancel_url=f"{self._public}/team/{pack.employer_id}",
                    seat_pack=payments_pb2.SeatPackOrder(
                        employer_id=pack.employer_id,
                        employer_name=employer_name[:200],
                        seats=pack.seats,
                        price_per_seat=price_per_seat,
                    ),
                ),
                metadata=self._metadata(),
                timeout=DEFAULT_DEADLINE_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            raise _translate("payments", exc) from None
        return response.payment

    async def refund_pack_seats(
        self, pack: SeatPack, *, amount_minor: int, idempotency_key: str
    ) -> payments_pb2.Refund:
        """Return part of a pack's payment (its unassigned seats); one refund per key."""
        try:
            response = await self._payments.RefundPayment(
                payments_service_pb2.RefundPaymentRequest(
                    payment_id=pack.payment_id,
                    enrollment_id=pack.id,
                    reason=REASON_UNASSIGNED_SEATS,
                    amount_minor=amount_minor,
                    idempotency_key=idempotency_key,
                ),
                metadata=self._metadata(),
                timeout=DEFAULT_DEADLINE_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            raise _translate("payments", exc) from None
        return response.refund

    async def refund_payment(
        self, e: Enrollment, *, reason: str, note: str, amount_minor: int, idempotency_key: str
    ) -> payments_pb2.Refund:
        """Ask payments to return (part of) the enrollment's payment; idempotent (one full
        refund per payment, one partial refund per key). Its refusals (nothing left to
        refund, say) keep their status code."""
        try:
            response = await self._payments.RefundPayment(
                payments_service_pb2.RefundPaymentRequest(
                    payment_id=e.payment_id,
                    enrollment_id=e.id,
                    reason=reason,
                    note=note,
                    amount_minor=amount_minor,
                    idempotency_key=idempotency_key,
                ),
                metadata=self._metadata(),
                timeout=DEFAULT_DEADLINE_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                raise FailedPreconditionError(
                    exc.details() or "payment cannot be refunded"
                ) from None
            raise _translate("payments", exc) from None
        return response.refund


def _translate(peer: str, exc: grpc.aio.AioRpcError) -> ServiceError:
    if exc.code() in PEER_UNAVAILABLE:
        return UnavailableError(f"{peer} is unavailable; retry with the same Idempotency-Key")
    error = ServiceError(f"{peer} failed: {exc.details()}")
    return error
