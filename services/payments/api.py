"""PaymentsService gRPC API: who may call what and what they may see; the work is elsewhere."""

from __future__ import annotations

import asyncpg
import grpc
from upskill.payments.v1 import payments_service_pb2 as pb
from upskill.payments.v1 import payments_service_pb2_grpc

from services.common.auth import Principal, Role, authenticated
from services.common.errors import FailedPreconditionError, NotFoundError
from services.common.paging import Page
from services.common.rpc import rpc
from services.payments import repository
from services.payments.checkout import CheckoutOpener
from services.payments.convert import order_from_pb, payment_to_pb, refund_to_pb, session_to_pb
from services.payments.domain import Payment
from services.payments.local_gateway import LocalGateway
from services.payments.stripe_events import SessionSnapshot
from services.payments.webhooks import WebhookHandler


def _may_read(principal: Principal, payment: Payment) -> bool:
    if principal.is_privileged:
        return True
    if principal.role is Role.LEARNER:
        return payment.learner_id == principal.subject
    if principal.role is Role.PROVIDER:
        return payment.provider_id == principal.provider_id
    return False


class PaymentsApi(payments_service_pb2_grpc.PaymentsServiceServicer):
    def __init__(
        self,
        pool: asyncpg.Pool,
        opener: CheckoutOpener,
        webhooks: WebhookHandler,
        local: LocalGateway | None,
    ) -> None:
        self._pool = pool
        self._opener = opener
        self._webhooks = webhooks
        self._local = local

    async def _readable_payment(self, payment_id: str) -> Payment:
        principal = authenticated()
        async with self._pool.acquire() as conn:
            payment = await repository.get(conn, payment_id)
        if not _may_read(principal, payment):
            # Someone else's payment does not exist as far as this caller can tell.
            raise NotFoundError(f"payment {payment_id} not found")
        return payment

    async def _readable_session(self, session_id: str) -> tuple[LocalGateway, SessionSnapshot]:
        if self._local is None:
            raise FailedPreconditionError(
                "checkout sessions are hosted by Stripe here (PAYMENTS_PROVIDER=stripe)"
            )
        session = await self._local.get(session_id)
        principal = authenticated()
        if principal.role is Role.LEARNER:
            async with self._pool.acquire() as conn:
                payment = await repository.find(conn, session.payment_id)
            if payment is None or payment.learner_id != principal.subject:
                raise NotFoundError(f"checkout session {session_id} not found")
        return self._local, session

    @rpc(Role.SERVICE)
    async def CreateCheckout(
        self, request: pb.CreateCheckoutRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateCheckoutResponse:
        payment = await self._opener.open(order_from_pb(request))
        return pb.CreateCheckoutResponse(payment=payment_to_pb(payment))

    @rpc(Role.SERVICE, Role.ADMIN, Role.LEARNER, Role.PROVIDER)
    async def GetPayment(
        self, request: pb.GetPaymentRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPaymentResponse:
        payment = await self._readable_payment(request.payment_id)
        return pb.GetPaymentResponse(payment=payment_to_pb(payment))

    @rpc(Role.SERVICE)
    async def HandleProviderWebhook(
        self, request: pb.HandleProviderWebhookRequest, context: grpc.aio.ServicerContext
    ) -> pb.HandleProviderWebhookResponse:
        result = await self._webhooks.handle(request.payload, request.signature)
        return pb.HandleProviderWebhookResponse(
            event_id=result.event_id, event_type=result.event_type, duplicate=result.duplicate
        )

    # The hosted checkout page: the gateway calls these with the learner's token, or with its
    # own when it serves the page by link alone (the unguessable session id is the capability,
    # as with Stripe Checkout).
    @rpc(Role.SERVICE, Role.ADMIN, Role.LEARNER)
    async def GetCheckoutSession(
        self, request: pb.GetCheckoutSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCheckoutSessionResponse:
        _, session = await self._readable_session(request.session_id)
        return pb.GetCheckoutSessionResponse(session=session_to_pb(session))

    @rpc(Role.SERVICE, Role.LEARNER)
    async def PayCheckoutSession(
        self, request: pb.PayCheckoutSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.PayCheckoutSessionResponse:
        local, _ = await self._readable_session(request.session_id)
        result = await local.pay(request.session_id, request.card_number)
        return pb.PayCheckoutSessionResponse(
            session=session_to_pb(result.session),
            decline_code=result.outcome.decline_code,
            message=result.outcome.message,
        )

    @rpc(Role.ADMIN, Role.SERVICE)
    async def ListRefunds(
        self, request: pb.ListRefundsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListRefundsResponse:
        """Money returned to learners, for operators: every automatic return is here."""
        filters = repository.RefundFilter(enrollment_id=request.enrollment_id)
        page = Page.request(repository.REFUNDS, request.page_token, request.page_size, filters)
        async with self._pool.acquire() as conn:
            rows = await repository.list_refunds(conn, filters, page)
        rows, next_token = page.split(rows, lambda r: (r.created_at, r.id))
        return pb.ListRefundsResponse(
            refunds=[refund_to_pb(r) for r in rows], next_page_token=next_token
        )
