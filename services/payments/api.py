"""PaymentsService gRPC API: who may call what and what they may see; the work is elsewhere."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
from upskill.payments.v1 import payments_service_pb2 as pb
from upskill.payments.v1 import payments_service_pb2_grpc

from services.common.auth import Principal, Role, authenticated
from services.common.errors import (
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
)
from services.common.paging import Page
from services.common.rpc import rpc
from services.payments import repository
from services.payments.cards import TEST_CARDS
from services.payments.checkout import CheckoutOpener
from services.payments.convert import (
    dispute_to_pb,
    earnings_to_pb,
    ledger_line_to_pb,
    order_from_pb,
    payment_to_pb,
    refund_to_pb,
    seat_pack_to_pb,
    session_to_pb,
)
from services.payments.domain import Payment
from services.payments.gateways import CheckoutGateway, GatewayError, GatewayUnavailableError
from services.payments.local_gateway import LocalGateway
from services.payments.refunds import request_refund
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
        earnings_hold: timedelta = timedelta(days=14),
        gateway: CheckoutGateway | None = None,
        public_base_url: str = "",
        wake_refunder: Callable[[], None] = lambda: None,
    ) -> None:
        # A refund asked here is made at once, not at the refund worker's next poll.
        self._wake_refunder = wake_refunder
        self._gateway = gateway
        self._public_base_url = public_base_url.rstrip("/")
        self._earnings_hold = earnings_hold
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

    def _local_gateway(self) -> LocalGateway:
        if self._local is None:
            raise FailedPreconditionError(
                "checkout sessions are hosted by Stripe here (PAYMENTS_PROVIDER=stripe)"
            )
        return self._local

    async def _readable_session(self, session_id: str) -> tuple[LocalGateway, SessionSnapshot]:
        local = self._local_gateway()
        session = await local.get(session_id)
        principal = authenticated()
        if principal.role is Role.LEARNER:
            async with self._pool.acquire() as conn:
                payment = await repository.find(conn, session.payment_id)
            if payment is None or payment.learner_id != principal.subject:
                raise NotFoundError(f"checkout session {session_id} not found")
        return local, session

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
        found = session_to_pb(session)
        async with self._pool.acquire() as conn:
            payment = await repository.find(conn, session.payment_id)
        if payment is not None and payment.seat_pack is not None:
            # The hosted page shows the seats at their price and the employer paying.
            found.seat_pack.CopyFrom(seat_pack_to_pb(payment.seat_pack, payment.amount.currency))
        return pb.GetCheckoutSessionResponse(
            session=found,
            test_cards=[pb.TestCard(number=c.number, outcome=c.outcome) for c in TEST_CARDS],
        )

    @rpc(Role.SERVICE, Role.LEARNER)
    async def PayCheckoutSession(
        self, request: pb.PayCheckoutSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.PayCheckoutSessionResponse:
        if authenticated().role is Role.LEARNER:
            local, _ = await self._readable_session(request.session_id)  # theirs?
        else:
            # The gateway, by link alone: paying reads (and locks) the session itself, and
            # an unknown one is NOT_FOUND there; a read before it would be a round trip more.
            local = self._local_gateway()
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

    @rpc(Role.SERVICE, Role.ADMIN)
    async def RefundPayment(
        self, request: pb.RefundPaymentRequest, context: grpc.aio.ServicerContext
    ) -> pb.RefundPaymentResponse:
        """Record a refund to make (the refund worker makes it and books it). Who may ask
        is not decided here: the enrollment decides (seats.decide_refund) and calls."""
        if request.amount_minor and not request.idempotency_key.strip():
            raise InvalidArgumentError(
                "a partial refund needs an idempotency_key",
                [FieldViolation("idempotency_key", "required with amount_minor")],
            )
        async with self._pool.acquire() as conn, conn.transaction():
            payment = await repository.find(conn, request.payment_id, for_update=True)
            if payment is None or payment.enrollment_id != request.enrollment_id:
                raise NotFoundError(
                    f"payment {request.payment_id} of enrollment {request.enrollment_id} not found"
                )
            refund = await request_refund(
                conn,
                payment,
                reason=request.reason.strip(),
                note=request.note.strip(),
                amount_minor=request.amount_minor,
                idempotency_key=request.idempotency_key.strip(),
            )
        self._wake_refunder()
        return pb.RefundPaymentResponse(refund=refund_to_pb(refund))

    @rpc(Role.ADMIN, Role.SERVICE)
    async def ListDisputes(
        self, request: pb.ListDisputesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDisputesResponse:
        """Chargebacks, for operators (a lost one was booked as a refund)."""
        page = Page.request(repository.DISPUTES, request.page_token, request.page_size, _NoFilter())
        async with self._pool.acquire() as conn:
            rows = await repository.list_disputes(conn, page)
        rows, next_token = page.split(rows, lambda d: (d.created_at, d.id))
        return pb.ListDisputesResponse(
            disputes=[dispute_to_pb(d) for d in rows], next_page_token=next_token
        )

    @rpc(Role.ADMIN, Role.SERVICE, Role.PROVIDER)
    async def GetProviderEarnings(
        self, request: pb.GetProviderEarningsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetProviderEarningsResponse:
        _check_provider_books(authenticated(), request.provider_id)
        start, end = _period(request)
        async with self._pool.acquire() as conn:
            rows = await repository.provider_earnings(
                conn, request.provider_id, start, end, self._earnings_hold.total_seconds()
            )
        totals = [earnings_to_pb(r) for r in rows if r.all_programs]
        programs = [earnings_to_pb(r) for r in rows if not r.all_programs]
        return pb.GetProviderEarningsResponse(totals=totals, programs=programs)

    @rpc(Role.ADMIN, Role.SERVICE, Role.PROVIDER)
    async def ListLedgerLines(
        self, request: pb.ListLedgerLinesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListLedgerLinesResponse:
        _check_provider_books(authenticated(), request.provider_id)
        start, end = _period(request)
        size = min(request.page_size or 100, 1000)
        async with self._pool.acquire() as conn:
            lines = await repository.ledger_lines(
                conn,
                request.provider_id,
                start,
                end,
                self._earnings_hold.total_seconds(),
                int(request.page_token or 0),
                size + 1,
            )
        next_token = str(lines[size - 1].id) if len(lines) > size else ""
        return pb.ListLedgerLinesResponse(
            lines=[ledger_line_to_pb(line) for line in lines[:size]], next_page_token=next_token
        )

    @rpc(Role.ADMIN, Role.PROVIDER)
    async def CreatePayoutAccountLink(
        self, request: pb.CreatePayoutAccountLinkRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreatePayoutAccountLinkResponse:
        """The provider's connected account (made on first call) and a link to onboard it;
        from then on its programs' checkouts are destination charges."""
        _check_provider_books(authenticated(), request.provider_id)
        if self._gateway is None:
            raise FailedPreconditionError("this payments service has no gateway")
        async with self._pool.acquire() as conn:
            account_id = await repository.payout_account(conn, request.provider_id)
        if not account_id:
            made = await _gateway_call(self._gateway.create_payout_account(request.provider_id))
            async with self._pool.acquire() as conn:
                account_id = await repository.add_payout_account(
                    conn, request.provider_id, made, self._gateway.name
                )
        studio = f"{self._public_base_url}/studio"
        url = await _gateway_call(self._gateway.onboarding_link(account_id, studio, studio))
        return pb.CreatePayoutAccountLinkResponse(account_id=account_id, url=url)


async def _gateway_call(call: Awaitable[str]) -> str:
    try:
        return await call
    except GatewayUnavailableError as exc:
        raise UnavailableError(str(exc)) from exc
    except GatewayError as exc:
        raise FailedPreconditionError(str(exc)) from exc


def _check_provider_books(principal: Principal, provider_id: str) -> None:
    """A provider's books are its own staff's and the operators'."""
    if principal.is_privileged:
        return
    if principal.role is Role.PROVIDER and principal.provider_id == provider_id:
        return
    raise PermissionDeniedError("only the provider's own staff and admins see its earnings")


def _period(
    request: pb.GetProviderEarningsRequest | pb.ListLedgerLinesRequest,
) -> tuple[datetime | None, datetime | None]:
    start = request.start_time.ToDatetime(UTC) if request.HasField("start_time") else None
    end = request.end_time.ToDatetime(UTC) if request.HasField("end_time") else None
    if start is not None and end is not None and end < start:
        raise InvalidArgumentError(
            "the period ends before it starts",
            [FieldViolation("end_time", "must not be before start_time")],
        )
    return start, end


@dataclass(frozen=True)
class _NoFilter:
    """A listing without filters (its page tokens bind to nothing)."""
