"""EnrollmentService gRPC API: the saga's first step and the enrollment reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
from upskill.catalog.v1 import catalog_pb2
from upskill.enrollment.v1 import enrollment_pb2, enrollment_service_pb2_grpc
from upskill.enrollment.v1 import enrollment_service_pb2 as pb

from services.common.auth import Principal, Role, authenticated
from services.common.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from services.common.paging import Page
from services.common.protos import set_time
from services.common.rpc import rpc
from services.common.sql import OwnerScope
from services.enrollment import repository, unit_of_work
from services.enrollment.domain import Enrollment, Price, Status
from services.enrollment.messages import enrollment_to_pb, snapshot_of
from services.enrollment.peers import Peers
from services.enrollment.seats import (
    DEFAULT_REFUND_WINDOW,
    RefundActor,
    RefundVerdict,
    decide_refund,
)


def _snapshot(program: catalog_pb2.Program) -> enrollment_pb2.ProgramSnapshot:
    return enrollment_pb2.ProgramSnapshot(
        program_id=program.id,
        provider_id=program.provider_id,
        provider_name=program.provider_name,
        title=program.spec.title,
        price=program.spec.price,
        credential=program.spec.credential,
        skills=list(program.spec.skills),
        program_version=program.version,
        volume_tiers=program.spec.volume_tiers,
    )


def _check_can_see(principal: Principal, e: Enrollment) -> None:
    if principal.is_privileged:
        return
    if principal.role is Role.LEARNER and principal.subject == e.learner_id:
        return
    if principal.role is Role.PROVIDER and principal.provider_id == e.provider_id:
        return
    # Someone else's enrollment does not exist as far as this caller can tell.
    raise NotFoundError(f"enrollment {e.id} not found")


class EnrollmentApi(enrollment_service_pb2_grpc.EnrollmentServiceServicer):
    def __init__(
        self, pool: asyncpg.Pool, peers: Peers, refund_window: timedelta = DEFAULT_REFUND_WINDOW
    ) -> None:
        self._pool = pool
        self._peers = peers
        self._refund_window = refund_window

    @rpc(Role.LEARNER)
    async def CreateEnrollment(
        self, request: pb.CreateEnrollmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateEnrollmentResponse:
        learner = authenticated()
        key = request.idempotency_key.strip()
        async with self._pool.acquire() as conn:
            existing, live = await repository.find_keyed_and_live(
                conn, learner.subject, key, request.program_id
            )
        if existing is not None:
            if existing.program_id != request.program_id:
                raise FailedPreconditionError(
                    "Idempotency-Key was already used for another program"
                )
            return await self._with_checkout(existing)
        if live is not None:
            if live.status is not Status.PENDING_PAYMENT:
                raise AlreadyExistsError(
                    f"learner already has enrollment {live.id} in program {live.program_id}"
                )
            # Not paid yet: resume it (and open its checkout if payments was down before)
            # rather than refuse, so a learner is never stuck behind an unpayable enrollment.
            return await self._with_checkout(live)

        program = await self._peers.program(request.program_id)
        if program.status != catalog_pb2.PROGRAM_STATUS_PUBLISHED:
            raise FailedPreconditionError(f"program {program.id} is not on sale")
        enrollment = Enrollment.open(
            learner_id=learner.subject,
            learner_email=learner.email,
            program_id=program.id,
            provider_id=program.provider_id,
            price=Price(program.spec.price.amount_minor, program.spec.price.currency),
            snapshot=_snapshot(program).SerializeToString(),
            idempotency_key=key,
        )
        capacity = program.spec.capacity if program.spec.HasField("capacity") else None
        async with self._pool.acquire() as conn:
            # One statement, no transaction around it: the seat lock is held only while
            # PostgreSQL runs it and commits (unit_of_work.take_seat).
            await unit_of_work.take_seat(conn, enrollment, capacity)
        return await self._with_checkout(enrollment, title=program.spec.title)

    async def _with_checkout(
        self, enrollment: Enrollment, *, title: str | None = None
    ) -> pb.CreateEnrollmentResponse:
        """Open the checkout if the enrollment still lacks one (first call, or a retry after
        payments was unavailable); CreateCheckout is idempotent on the enrollment id.
        `title`: the program's, when the caller has it (else read from the snapshot)."""
        response = pb.CreateEnrollmentResponse()
        if enrollment.status is Status.PENDING_PAYMENT and not enrollment.checkout_url:
            if title is None:
                title = snapshot_of(enrollment).title
            payment = await self._peers.open_checkout(enrollment, title)
            async with self._pool.acquire() as conn:
                attached = await repository.attach_checkout(
                    conn, enrollment.id, payment.id, payment.checkout_url
                )
                if attached is not None:
                    enrollment_to_pb(attached, response.enrollment)
                    return response
                enrollment = await repository.get(conn, enrollment.id)
            # Cancelled meanwhile: keep no payable link (payments closes that checkout).
            # Still without a link: another payment is attached, which the domain refuses.
            if enrollment.status is Status.PENDING_PAYMENT and not enrollment.checkout_url:
                enrollment.attach_checkout(payment.id, payment.checkout_url)
        enrollment_to_pb(enrollment, response.enrollment)
        return response

    @rpc(Role.LEARNER, Role.PROVIDER, Role.ADMIN, Role.SERVICE)
    async def GetEnrollment(
        self, request: pb.GetEnrollmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetEnrollmentResponse:
        async with self._pool.acquire() as conn:
            enrollment = await repository.get(conn, request.enrollment_id)
        _check_can_see(authenticated(), enrollment)
        response = pb.GetEnrollmentResponse()
        self._shown(enrollment, response.enrollment)
        return response

    @rpc(Role.LEARNER, Role.PROVIDER, Role.ADMIN, Role.SERVICE)
    async def ListEnrollments(
        self, request: pb.ListEnrollmentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListEnrollmentsResponse:
        scope = OwnerScope(*authenticated().listing_scope(), program_id=request.program_id)
        status = (
            enrollment_pb2.EnrollmentStatus.Name(request.status).removeprefix("ENROLLMENT_STATUS_")
            if request.status
            else ""
        )
        filters: object = scope
        if status:
            # Only a filtered listing binds its tokens to the state too: tokens issued
            # before the filter existed stay good for the unfiltered listing.
            filters = repository.EnrollmentFilter(scope, status)
        page = Page.request(repository.LISTING, request.page_token, request.page_size, filters)
        async with self._pool.acquire() as conn:
            rows = await repository.list_for(conn, scope, page, status=status)
        rows, next_token = page.split(rows, lambda r: (r.created_at, r.id))
        response = pb.ListEnrollmentsResponse(next_page_token=next_token)
        for e in rows:
            self._shown(e, response.enrollments.add())
        return response

    def _shown(self, enrollment: Enrollment, message: enrollment_pb2.Enrollment) -> None:
        """The enrollment as read into `message` (a response's, empty), with until when its
        learner may still ask for a refund (decided by the same rule as RefundEnrollment,
        so a page offers only what works)."""
        enrollment_to_pb(enrollment, message)
        decision = decide_refund(
            actor=RefundActor.LEARNER,
            status=enrollment.status,
            paid=bool(enrollment.payment_id) and not enrollment.price.is_free,
            enrolled_at=enrollment.created_at,
            now=datetime.now(UTC),
            window=self._refund_window,
            partial=False,
        )
        if decision.verdict is RefundVerdict.ALLOW and enrollment.status is not Status.REFUNDED:
            set_time(message.learner_refund_until, enrollment.created_at + self._refund_window)

    @rpc(public=True)
    async def CountTakenSeats(
        self, request: pb.CountTakenSeatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.CountTakenSeatsResponse:
        # Counts only, no one's identity: as public as the capacity the catalog shows.
        async with self._pool.acquire() as conn:
            taken = await repository.taken_seats(conn, list(dict.fromkeys(request.program_ids)))
        return pb.CountTakenSeatsResponse(taken=taken)

    @rpc(Role.PROVIDER, Role.ADMIN, Role.SERVICE)
    async def CompleteEnrollment(
        self, request: pb.CompleteEnrollmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompleteEnrollmentResponse:
        principal = authenticated()
        async with self._pool.acquire() as conn, conn.transaction():
            enrollment = await repository.get(conn, request.enrollment_id, for_update=True)
            _check_can_see(principal, enrollment)
            enrollment.complete(request.grade.strip(), request.evidence_url)
            await unit_of_work.commit(conn, enrollment)
        return pb.CompleteEnrollmentResponse(enrollment=enrollment_to_pb(enrollment))

    @rpc(Role.LEARNER, Role.ADMIN)
    async def CancelEnrollment(
        self, request: pb.CancelEnrollmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelEnrollmentResponse:
        principal = authenticated()
        async with self._pool.acquire() as conn, conn.transaction():
            enrollment = await repository.get(conn, request.enrollment_id, for_update=True)
            _check_can_see(principal, enrollment)
            if principal.role is Role.PROVIDER:
                raise PermissionDeniedError("providers cannot cancel a learner's enrollment")
            enrollment.cancel()
            await unit_of_work.commit(conn, enrollment)
        return pb.CancelEnrollmentResponse(enrollment=enrollment_to_pb(enrollment))

    @rpc(Role.LEARNER, Role.PROVIDER, Role.ADMIN)
    async def RefundEnrollment(
        self, request: pb.RefundEnrollmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.RefundEnrollmentResponse:
        principal = authenticated()
        async with self._pool.acquire() as conn:
            enrollment = await repository.get(conn, request.enrollment_id)
        _check_can_see(principal, enrollment)
        partial = request.amount_minor > 0
        if partial and not request.idempotency_key.strip():
            raise InvalidArgumentError(
                "a partial refund needs an Idempotency-Key",
                [FieldViolation("idempotency_key", "required with amount_minor")],
            )
        decision = decide_refund(
            actor=_refund_actor(principal),
            status=enrollment.status,
            paid=bool(enrollment.payment_id) and not enrollment.price.is_free,
            enrolled_at=enrollment.created_at,
            now=datetime.now(UTC),
            window=self._refund_window,
            partial=partial,
        )
        if decision.verdict is RefundVerdict.NOT_REFUNDABLE:
            raise FailedPreconditionError(decision.reason)
        if decision.verdict is RefundVerdict.FORBIDDEN:
            raise PermissionDeniedError(decision.reason)
        # The enrollment changes when payments reports the money returned (PaymentRefunded).
        refund = await self._peers.refund_payment(
            enrollment,
            reason=decision.reason,
            note=request.note.strip(),
            amount_minor=request.amount_minor,
            idempotency_key=request.idempotency_key.strip(),
        )
        return pb.RefundEnrollmentResponse(refund=refund)


def _refund_actor(principal: Principal) -> RefundActor:
    if principal.is_privileged:
        return RefundActor.ADMIN
    if principal.role is Role.PROVIDER:
        return RefundActor.PROVIDER  # of this program: _check_can_see let it through
    return RefundActor.LEARNER
