"""EmployersService gRPC API (served by the enrollment service, which owns seats):
authorisation here, rules in seat_packs.py and employers.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import grpc
from upskill.catalog.v1 import catalog_pb2
from upskill.enrollment.v1 import employers_pb2, employers_service_pb2_grpc, enrollment_pb2
from upskill.enrollment.v1 import employers_service_pb2 as pb
from upskill.type.v1 import money_pb2

from services.common.auth import Role, authenticated
from services.common.errors import FailedPreconditionError
from services.common.paging import Page
from services.common.protos import timestamp
from services.common.rpc import rpc
from services.common.volume_tiers import VolumeTier
from services.enrollment import employers, repository, seat_packs
from services.enrollment.api import _snapshot
from services.enrollment.messages import enrollment_to_pb
from services.enrollment.peers import Peers
from services.enrollment.seat_packs import SeatPack

_ROLE = {
    employers.OWNER: employers_pb2.EMPLOYER_ROLE_OWNER,
    employers.MANAGER: employers_pb2.EMPLOYER_ROLE_MANAGER,
}


def employer_to_pb(e: employers.EmployerRow) -> employers_pb2.Employer:
    return employers_pb2.Employer(
        id=e.id,
        name=e.name,
        create_time=timestamp(e.created_at),
        role=_ROLE.get(e.role, employers_pb2.EMPLOYER_ROLE_UNSPECIFIED),
    )


def pack_to_pb(p: SeatPack, redeemed: int) -> employers_pb2.SeatPack:
    program = enrollment_pb2.ProgramSnapshot()
    program.ParseFromString(p.snapshot)
    return employers_pb2.SeatPack(
        id=p.id,
        employer_id=p.employer_id,
        program=program,
        seats=p.seats,
        seats_redeemed=redeemed,
        total=money_pb2.Money(amount_minor=p.total_minor, currency=p.currency),
        status=employers_pb2.SeatPackStatus.Value(f"SEAT_PACK_STATUS_{p.status}"),
        payment_id=p.payment_id,
        checkout_url=p.checkout_url,
        create_time=timestamp(p.created_at),
        update_time=timestamp(p.updated_at),
        seats_refunded=p.seats_refunded,
        price_per_seat=money_pb2.Money(amount_minor=p.price_per_seat, currency=p.currency),
    )


def invitation_to_pb(row: Any, now: datetime) -> employers_pb2.SeatInvitation:
    """A seat invitation as listed: never its code (stored hashed), always its status."""
    message = employers_pb2.SeatInvitation(
        id=str(row["id"]),
        seat_pack_id=str(row["seat_pack_id"]),
        email=row["email"],
        expire_time=timestamp(row["expires_at"]),
        enrollment_id=str(row["enrollment_id"] or ""),
        status=employers_pb2.SeatInvitationStatus.Value(
            f"SEAT_INVITATION_STATUS_{employers.invitation_status(row, now)}"
        ),
    )
    if row["redeemed_at"] is not None:
        message.redeem_time.CopyFrom(timestamp(row["redeemed_at"]))
    if row["revoked_at"] is not None:
        message.revoke_time.CopyFrom(timestamp(row["revoked_at"]))
    return message


def team_people(rows: list[employers.TeamRow]) -> tuple[list[employers_pb2.TeamPerson], list[str]]:
    """What `employers.seen_by` found, as the team view shows it: each person with their
    enrollments (shared ones marked) and skills, and the matrix's columns."""
    people: dict[str, employers_pb2.TeamPerson] = {}
    skills: dict[str, None] = {}
    for row in rows:
        e = row.enrollment
        person = people.setdefault(
            e.learner_id,
            employers_pb2.TeamPerson(email=e.learner_email, learner_id=e.learner_id),
        )
        person.enrollments.append(
            employers_pb2.TeamEnrollment(
                enrollment_id=e.id,
                program_id=e.program_id,
                program_title=row.snapshot.title,
                status=enrollment_pb2.EnrollmentStatus.Value(f"ENROLLMENT_STATUS_{e.status.value}"),
                credential_id=e.credential_id,
                shared=row.shared,
                credential_revoked=row.revoked,
                revocation_reason=row.revocation_reason,
            )
        )
        if employers.holds_skills(row):
            for skill in row.snapshot.skills:
                skills.setdefault(skill, None)
                if skill not in person.skills:
                    person.skills.append(skill)
                    if row.shared:
                        person.shared_skills.append(skill)
                elif not row.shared and skill in person.shared_skills:
                    person.shared_skills.remove(skill)
    return list(people.values()), sorted(skills)


def shareable_to_pb(row: employers.TeamRow, shared: bool) -> employers_pb2.ShareableCredential:
    return employers_pb2.ShareableCredential(
        credential_id=row.enrollment.credential_id,
        enrollment_id=row.enrollment.id,
        program_id=row.enrollment.program_id,
        program_title=row.snapshot.title,
        skills=list(row.snapshot.skills),
        shared=shared,
    )


class EmployersApi(employers_service_pb2_grpc.EmployersServiceServicer):
    def __init__(self, pool: asyncpg.Pool, peers: Peers) -> None:
        self._pool = pool
        self._peers = peers

    @rpc(Role.LEARNER, Role.ADMIN)
    async def CreateEmployer(
        self, request: pb.CreateEmployerRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateEmployerResponse:
        async with self._pool.acquire() as conn:
            row = await employers.create_employer(conn, authenticated(), request.name)
        return pb.CreateEmployerResponse(employer=employer_to_pb(row))

    @rpc(Role.LEARNER, Role.ADMIN)
    async def GetEmployer(
        self, request: pb.GetEmployerRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetEmployerResponse:
        async with self._pool.acquire() as conn:
            row = await employers.employer_for(conn, authenticated(), request.employer_id)
        return pb.GetEmployerResponse(employer=employer_to_pb(row))

    @rpc(Role.LEARNER, Role.ADMIN)
    async def InviteManager(
        self, request: pb.InviteManagerRequest, context: grpc.aio.ServicerContext
    ) -> pb.InviteManagerResponse:
        async with self._pool.acquire() as conn:
            row = await employers.invite_manager(
                conn, authenticated(), request.employer_id, request.email
            )
        return pb.InviteManagerResponse(
            invitation=employers_pb2.EmployerInvitation(
                id=str(row["id"]),
                employer_id=str(row["employer_id"]),
                email=row["email"],
                role=employers_pb2.EMPLOYER_ROLE_MANAGER,
                create_time=timestamp(row["created_at"]),
            )
        )

    @rpc(Role.LEARNER)
    async def AcceptEmployerInvitation(
        self, request: pb.AcceptEmployerInvitationRequest, context: grpc.aio.ServicerContext
    ) -> pb.AcceptEmployerInvitationResponse:
        async with self._pool.acquire() as conn:
            row = await employers.accept_invitation(conn, authenticated(), request.invitation_id)
        return pb.AcceptEmployerInvitationResponse(employer=employer_to_pb(row))

    @rpc(Role.LEARNER, Role.ADMIN)
    async def CreateSeatPack(
        self, request: pb.CreateSeatPackRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateSeatPackResponse:
        principal = authenticated()
        async with self._pool.acquire() as conn:
            employer = await employers.employer_for(conn, principal, request.employer_id)
        program = await self._peers.program(request.program_id)
        if program.status != catalog_pb2.PROGRAM_STATUS_PUBLISHED:
            raise FailedPreconditionError(f"program {program.id} is not on sale")
        pack = SeatPack.open(
            employer_id=employer.id,
            program_id=program.id,
            provider_id=program.provider_id,
            snapshot=_snapshot(program).SerializeToString(),
            seats=request.seats,
            price_minor=program.spec.price.amount_minor,
            currency=program.spec.price.currency,
            bought_by=principal.subject,
            bought_by_email=principal.email or "",
            volume_tiers=[
                VolumeTier(t.min_seats, t.unit_amount_minor) for t in program.spec.volume_tiers
            ],
        )
        async with self._pool.acquire() as conn, conn.transaction():
            await repository.reserve_seat(
                conn,
                program.id,
                program.spec.capacity if program.spec.HasField("capacity") else None,
                count=pack.seats,
            )
            await employers.add_pack(conn, pack)
        if pack.status == seat_packs.PENDING_PAYMENT:
            payment = await self._peers.open_pack_checkout(pack, program.spec.title, employer.name)
            async with self._pool.acquire() as conn, conn.transaction():
                locked = await employers.get_pack(conn, pack.id, for_update=True)
                assert locked is not None
                if not locked.checkout_url:
                    locked.attach_checkout(payment.id, payment.checkout_url)
                    await employers.commit_pack(conn, locked)
                pack = locked
        return pb.CreateSeatPackResponse(seat_pack=pack_to_pb(pack, 0))

    @rpc(Role.LEARNER, Role.ADMIN)
    async def GetSeatPack(
        self, request: pb.GetSeatPackRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetSeatPackResponse:
        async with self._pool.acquire() as conn:
            await employers.employer_for(conn, authenticated(), request.employer_id)
            pack = await employers.pack_of(conn, request.employer_id, request.seat_pack_id)
            redeemed = await employers.redeemed_count(conn, pack.id)
        return pb.GetSeatPackResponse(seat_pack=pack_to_pb(pack, redeemed))

    @rpc(Role.LEARNER, Role.ADMIN)
    async def InviteSeats(
        self, request: pb.InviteSeatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.InviteSeatsResponse:
        async with self._pool.acquire() as conn:
            await employers.employer_for(conn, authenticated(), request.employer_id)
            pack = await employers.pack_of(conn, request.employer_id, request.seat_pack_id)
            issued = await employers.invite_seats(conn, pack, list(request.emails))
        return pb.InviteSeatsResponse(
            invitations=[
                employers_pb2.SeatInvitation(
                    id=str(i.row["id"]),
                    seat_pack_id=pack.id,
                    email=i.row["email"],
                    code=i.code,
                    expire_time=timestamp(i.row["expires_at"]),
                )
                for i in issued
            ]
        )

    @rpc(Role.LEARNER, Role.ADMIN)
    async def RevokeSeatInvitation(
        self, request: pb.RevokeSeatInvitationRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevokeSeatInvitationResponse:
        async with self._pool.acquire() as conn:
            await employers.employer_for(conn, authenticated(), request.employer_id)
            pack = await employers.pack_of(conn, request.employer_id, request.seat_pack_id)
            row = await employers.revoke_invitation(conn, pack, request.invitation_id)
        return pb.RevokeSeatInvitationResponse(
            invitation=employers_pb2.SeatInvitation(
                id=str(row["id"]),
                seat_pack_id=pack.id,
                email=row["email"],
                expire_time=timestamp(row["expires_at"]),
                revoke_time=timestamp(row["revoked_at"]),
            )
        )

    @rpc(Role.LEARNER)
    async def RedeemSeat(
        self, request: pb.RedeemSeatRequest, context: grpc.aio.ServicerContext
    ) -> pb.RedeemSeatResponse:
        async with self._pool.acquire() as conn:
            enrollment = await employers.redeem(conn, authenticated(), request.code)
        return pb.RedeemSeatResponse(enrollment=enrollment_to_pb(enrollment))

    @rpc(Role.LEARNER, Role.ADMIN)
    async def RefundUnassignedSeats(
        self, request: pb.RefundUnassignedSeatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.RefundUnassignedSeatsResponse:
        async with self._pool.acquire() as conn:
            await employers.employer_for(conn, authenticated(), request.employer_id)
            await employers.pack_of(conn, request.employer_id, request.seat_pack_id)
            pack, released = await employers.release_unassigned(conn, request.seat_pack_id)
            owed = await employers.unsent_refunds(conn, pack.id)
        if not released and not owed:
            raise FailedPreconditionError("every seat of this pack is redeemed: none to refund")
        # Each owed refund under its own key: a retry after a failure re-sends, never doubles.
        for refund in owed:
            made = await self._peers.refund_pack_seats(
                pack, amount_minor=refund.amount_minor, idempotency_key=refund.id
            )
            async with self._pool.acquire() as conn:
                await employers.refund_sent(conn, refund.id, made.id)
        async with self._pool.acquire() as conn:
            redeemed = await employers.redeemed_count(conn, pack.id)
        return pb.RefundUnassignedSeatsResponse(
            seat_pack=pack_to_pb(pack, redeemed), seats_refunded=released
        )

    @rpc(Role.LEARNER, Role.ADMIN)
    async def GetTeam(
        self, request: pb.GetTeamRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTeamResponse:
        async with self._pool.acquire() as conn:
            await employers.employer_for(conn, authenticated(), request.employer_id)
            rows = await employers.seen_by(conn, request.employer_id)
        people, skills = team_people(rows)
        return pb.GetTeamResponse(people=people, skills=skills)

    @rpc(Role.LEARNER, Role.ADMIN)
    async def ListEmployers(
        self, request: pb.ListEmployersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListEmployersResponse:
        scope = employers.MemberScope(authenticated().subject)
        page = Page.request(employers.EMPLOYERS, request.page_token, request.page_size, scope)
        async with self._pool.acquire() as conn:
            rows = await employers.list_employers(conn, scope, page)
        rows, next_token = page.split(rows, lambda r: (r[1], r[0].id))
        return pb.ListEmployersResponse(
            employers=[employer_to_pb(e) for e, _ in rows], next_page_token=next_token
        )

    @rpc(Role.LEARNER, Role.ADMIN)
    async def ListSeatPacks(
        self, request: pb.ListSeatPacksRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSeatPacksResponse:
        scope = employers.EmployerScope(request.employer_id)
        page = Page.request(employers.SEAT_PACKS, request.page_token, request.page_size, scope)
        async with self._pool.acquire() as conn:
            await employers.employer_for(conn, authenticated(), request.employer_id)
            rows = await employers.list_packs(conn, scope, page)
        rows, next_token = page.split(rows, lambda r: (r[0].created_at, r[0].id))
        return pb.ListSeatPacksResponse(
            seat_packs=[pack_to_pb(p, redeemed) for p, redeemed in rows],
            next_page_token=next_token,
        )

    @rpc(Role.LEARNER, Role.ADMIN)
    async def ListSeatInvitations(
        self, request: pb.ListSeatInvitationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSeatInvitationsResponse:
        scope = employers.PackScope(request.employer_id, request.seat_pack_id)
        page = Page.request(
            employers.SEAT_INVITATIONS, request.page_token, request.page_size, scope
        )
        async with self._pool.acquire() as conn:
            await employers.employer_for(conn, authenticated(), request.employer_id)
            await employers.pack_of(conn, request.employer_id, request.seat_pack_id)
            rows = await employers.list_invitations(conn, scope, page)
        rows, next_token = page.split(rows, lambda r: (r["created_at"], str(r["id"])))
        now = datetime.now(UTC)
        return pb.ListSeatInvitationsResponse(
            invitations=[invitation_to_pb(r, now) for r in rows], next_page_token=next_token
        )

    @rpc(Role.LEARNER)
    async def ListSponsors(
        self, request: pb.ListSponsorsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSponsorsResponse:
        learner = authenticated().subject
        found = []
        async with self._pool.acquire() as conn:
            own = await employers.own_credentials(conn, learner)
            shared = await employers.shared_enrollments(conn, learner)
            for employer in await employers.sponsors_of(conn, learner):
                people, _ = team_people(await employers.seen_by(conn, employer.id, learner))
                found.append(
                    employers_pb2.Sponsor(
                        employer=employer_to_pb(employer),
                        seen=people[0] if people else None,
                        credentials=[
                            shareable_to_pb(c, (employer.id, c.enrollment.id) in shared)
                            for c in own
                        ],
                    )
                )
        return pb.ListSponsorsResponse(sponsors=found)

    @rpc(Role.LEARNER)
    async def ShareCredential(
        self, request: pb.ShareCredentialRequest, context: grpc.aio.ServicerContext
    ) -> pb.ShareCredentialResponse:
        async with self._pool.acquire() as conn:
            row = await employers.share_credential(
                conn, authenticated(), request.employer_id, request.credential_id
            )
        return pb.ShareCredentialResponse(credential=shareable_to_pb(row, True))

    @rpc(Role.LEARNER)
    async def UnshareCredential(
        self, request: pb.UnshareCredentialRequest, context: grpc.aio.ServicerContext
    ) -> pb.UnshareCredentialResponse:
        async with self._pool.acquire() as conn:
            await employers.unshare_credential(
                conn, authenticated(), request.employer_id, request.credential_id
            )
        return pb.UnshareCredentialResponse()
