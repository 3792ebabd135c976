"""Employers, their members, seat packs, seat invitations and redemptions: persistence and
the use cases that need several rows at once (the RPC layer is employers_api.py).

Members: whoever creates an employer is its OWNER; owners invite managers by email, and
whoever signs in with that (verified) email accepts. Membership is our data, never a role
in a token. Non-members get NOT_FOUND: another organisation's employer does not exist to
them.

Redemption, once: the pack row is locked first (every redemption of a pack queues on it,
so the last seat goes to exactly one person), then the invitation row (a code redeemed
twice at once: the second sees it redeemed and gets the same enrollment back); the
enrollment's unique seat_invitation_id backs both.

What an employer sees (`seen_by`, the one rule for the team view, the skills matrix and
the learner's own "what my employer sees"): the enrollments on seats of its packs, and the
credentials its sponsored people earned on their own (enrollments they paid for) only
while they share them with it (employer_credential_shares: the consent lives here, beside
the rule that applies it) and the credential still holds (`holds_skills`). A credential
the credentials service revoked (revoked_credentials, recorded from its CredentialRevoked
events by services/enrollment/consumers.py) no longer holds: a sponsored one shows as
revoked, with the reason, and leaves the skills matrix; a shared one is no longer seen, and
none can be shared.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from google.protobuf.message import Message
from upskill.enrollment.v1 import enrollment_pb2, events_pb2
from upskill.type.v1 import money_pb2

from services.common import unit_of_work as shared_unit_of_work
from services.common.auth import Principal, Role
from services.common.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
)
from services.common.paging import Listing, Page
from services.common.protos import timestamp
from services.common.sql import Where, fetch_page
from services.enrollment import repository, seat_packs, unit_of_work
from services.enrollment.domain import Enrollment
from services.enrollment.seat_packs import PackEvent, PackPaid, SeatPack, SeatsReleased
from services.enrollment.seats import SEAT_HOLDING

SOURCE = "upskill.enrollment"
OWNER = "OWNER"
MANAGER = "MANAGER"
# How long a seat invitation's code may be redeemed.
INVITATION_TTL = timedelta(days=30)


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def new_code() -> str:
    """A one-time code: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


# ---------------------------------------------------------------- employers and members


@dataclass(frozen=True)
class EmployerRow:
    id: str
    name: str
    created_at: datetime
    role: str  # the caller's; "" for an admin who is not a member


async def create_employer(conn: asyncpg.Connection, principal: Principal, name: str) -> EmployerRow:
    name = name.strip()
    if not name:
        raise InvalidArgumentError(
            "invalid employer: name: must not be blank",
            [FieldViolation("name", "must not be empty or only whitespace")],
        )
    employer_id = str(uuid.uuid4())
    async with conn.transaction():
        created = await conn.fetchval(
            "INSERT INTO employers (id, name, created_by) VALUES ($1, $2, $3) RETURNING created_at",
            employer_id,
            name,
            principal.subject,
        )
        await conn.execute(
            """INSERT INTO employer_members (employer_id, subject, email, role)
               VALUES ($1, $2, $3, 'OWNER')""",
            employer_id,
            principal.subject,
            (principal.email or "").strip().lower(),
        )
    return EmployerRow(employer_id, name, created, OWNER)


async def employer_for(
    conn: asyncpg.Connection, principal: Principal, employer_id: str, *, owner: bool = False
) -> EmployerRow:
    """The employer if the caller is a member (an owner, when `owner`), or an admin."""
    row = await conn.fetchrow(
        """SELECT e.id, e.name, e.created_at, m.role FROM employers e
           LEFT JOIN employer_members m ON m.employer_id = e.id AND m.subject = $2
           WHERE e.id = $1""",
        employer_id,
        principal.subject,
    )
    admin = principal.role is Role.ADMIN
    if row is None or (row["role"] is None and not admin):
        raise NotFoundError(f"employer {employer_id} not found")
    if owner and row["role"] != OWNER and not admin:
        raise PermissionDeniedError("only the employer's owners may do this")
    return EmployerRow(str(row["id"]), row["name"], row["created_at"], row["role"] or "")


async def invite_manager(
    conn: asyncpg.Connection, principal: Principal, employer_id: str, email: str
) -> asyncpg.Record:
    await employer_for(conn, principal, employer_id, owner=True)
    address = email.strip().lower()
    await conn.execute(
        """INSERT INTO employer_invitations (id, employer_id, email, invited_by)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (employer_id, email) WHERE accepted_at IS NULL DO NOTHING""",
        str(uuid.uuid4()),
        employer_id,
        address,
        principal.subject,
    )
    row = await conn.fetchrow(
        """SELECT * FROM employer_invitations
           WHERE employer_id = $1 AND email = $2 AND accepted_at IS NULL""",
        employer_id,
        address,
    )
    assert row is not None
    return row


async def accept_invitation(
    conn: asyncpg.Connection, principal: Principal, invitation_id: str
) -> EmployerRow:
    if not principal.email:
        raise FailedPreconditionError(
            "your sign-in carries no verified email address, so no invitation can be yours"
        )
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT * FROM employer_invitations WHERE id = $1 FOR UPDATE", invitation_id
        )
        if row is None or row["email"] != principal.email.strip().lower():
            raise NotFoundError(f"invitation {invitation_id} not found")
        if row["accepted_at"] is not None and row["accepted_by"] != principal.subject:
            raise FailedPreconditionError("this invitation was already accepted")
        await conn.execute(
            """UPDATE employer_invitations SET accepted_at = coalesce(accepted_at, now()),
                   accepted_by = $2 WHERE id = $1""",
            invitation_id,
            principal.subject,
        )
        await conn.execute(
            """INSERT INTO employer_members (employer_id, subject, email, role)
               VALUES ($1, $2, $3, 'MANAGER') ON CONFLICT (employer_id, subject) DO NOTHING""",
            row["employer_id"],
            principal.subject,
            row["email"],
        )
    return await employer_for(conn, principal, str(row["employer_id"]))


# ---------------------------------------------------------------- seat packs


def _pack(row: Any) -> SeatPack:
    return SeatPack(
        id=str(row["id"]),
        employer_id=str(row["employer_id"]),
        program_id=str(row["program_id"]),
        provider_id=str(row["provider_id"]),
        snapshot=bytes(row["snapshot"]),
        seats=row["seats"],
        total_minor=row["total_minor"],
        currency=row["currency"].strip(),
        status=row["status"],
        bought_by=row["bought_by"],
        bought_by_email=row["bought_by_email"],
        payment_id=str(row["payment_id"] or ""),
        checkout_url=row["checkout_url"],
        seats_refunded=row["seats_refunded"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def get_pack(
    conn: asyncpg.Connection, pack_id: str, *, for_update: bool = False
) -> SeatPack | None:
    row = await conn.fetchrow(
        f"SELECT * FROM seat_packs WHERE id = $1 {'FOR UPDATE' if for_update else ''}", pack_id
    )
    return _pack(row) if row else None


async def pack_of(
    conn: asyncpg.Connection, employer_id: str, pack_id: str, *, for_update: bool = False
) -> SeatPack:
    pack = await get_pack(conn, pack_id, for_update=for_update)
    if pack is None or pack.employer_id != employer_id:
        raise NotFoundError(f"seat pack {pack_id} not found")
    return pack


async def add_pack(conn: asyncpg.Connection, p: SeatPack) -> None:
    """Insert a new pack and stage its events (a pack that cost nothing is paid at once)."""
    await shared_unit_of_work.commit(
        conn, p, save=_insert_pack, message_of=_pack_event_to_pb, source=SOURCE, subject=p.id
    )


async def _insert_pack(conn: asyncpg.Connection, p: SeatPack) -> None:
    await conn.execute(
        """INSERT INTO seat_packs (id, employer_id, program_id, provider_id, snapshot, seats,
               total_minor, currency, status, bought_by, bought_by_email, created_at,
               updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)""",
        p.id,
        p.employer_id,
        p.program_id,
        p.provider_id,
        p.snapshot,
        p.seats,
        p.total_minor,
        p.currency,
        p.status,
        p.bought_by,
        p.bought_by_email,
        p.created_at,
        p.updated_at,
    )


async def commit_pack(conn: asyncpg.Connection, p: SeatPack) -> None:
    """Save the pack and stage its events: paid, seats released, or a rejected payment
    (payments returns it)."""
    await shared_unit_of_work.commit(
        conn, p, save=_update_pack, message_of=_pack_event_to_pb, source=SOURCE, subject=p.id
    )


async def _update_pack(conn: asyncpg.Connection, p: SeatPack) -> None:
    await conn.execute(
        """UPDATE seat_packs SET status = $2, payment_id = $3, checkout_url = $4,
               updated_at = $5, seats = $6, seats_refunded = $7 WHERE id = $1""",
        p.id,
        p.status,
        p.payment_id or None,
        p.checkout_url,
        p.updated_at,
        p.seats,
        p.seats_refunded,
    )


def _pack_event_to_pb(p: SeatPack, event: PackEvent) -> Message:
    now = timestamp(datetime.now(UTC))
    if isinstance(event, PackPaid):
        return events_pb2.SeatPackPaid(
            seat_pack_id=p.id,
            employer_id=p.employer_id,
            program_id=p.program_id,
            provider_id=p.provider_id,
            seats=p.seats,
            price_per_seat=money_pb2.Money(amount_minor=p.price_per_seat, currency=p.currency),
            total=money_pb2.Money(amount_minor=p.total_minor, currency=p.currency),
            payment_id=event.payment_id,
            occur_time=now,
        )
    if isinstance(event, SeatsReleased):
        return events_pb2.SeatPackSeatsReleased(
            seat_pack_id=p.id,
            employer_id=p.employer_id,
            program_id=p.program_id,
            seats_released=event.seats,
            seats_left=p.seats,
            refund=money_pb2.Money(amount_minor=event.amount_minor, currency=p.currency),
            payment_id=p.payment_id,
            occur_time=now,
        )
    return events_pb2.EnrollmentPaymentRejected(
        enrollment_id=p.id,
        payment_id=event.payment_id,
        learner_id=p.bought_by,
        program_id=p.program_id,
        reason=event.reason,
        enrollment_status=enrollment_pb2.EnrollmentStatus.Value(
            f"ENROLLMENT_STATUS_{event.status.value}"
        ),
        occur_time=timestamp(datetime.now(UTC)),
    )


async def redeemed_count(conn: asyncpg.Connection, pack_id: str) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM seat_invitations WHERE seat_pack_id = $1 AND redeemed_at IS NOT NULL",
            pack_id,
        )
    )


# ---------------------------------------------------------------- unassigned seats back


@dataclass(frozen=True)
class OwedRefund:
    id: str
    amount_minor: int


async def release_unassigned(conn: asyncpg.Connection, pack_id: str) -> tuple[SeatPack, int]:
    """Give the pack's unredeemed seats back (in one transaction: the pack locked, so no
    redemption slips in) and record the refund owed for them; (pack, seats released)."""
    async with conn.transaction():
        pack = await get_pack(conn, pack_id, for_update=True)
        assert pack is not None
        released = pack.release_unassigned(await redeemed_count(conn, pack.id))
        if released:
            await commit_pack(conn, pack)
            await conn.execute(
                """INSERT INTO seat_pack_refunds (id, seat_pack_id, seats, amount_minor)
                   VALUES ($1, $2, $3, $4)""",
                str(uuid.uuid4()),
                pack.id,
                released,
                released * pack.price_per_seat,
            )
    return pack, released


async def unsent_refunds(conn: asyncpg.Connection, pack_id: str) -> list[OwedRefund]:
    rows = await conn.fetch(
        """SELECT id::text, amount_minor FROM seat_pack_refunds
           WHERE seat_pack_id = $1 AND sent_at IS NULL ORDER BY created_at""",
        pack_id,
    )
    return [OwedRefund(r["id"], r["amount_minor"]) for r in rows]


async def refund_sent(conn: asyncpg.Connection, owed_id: str, refund_id: str) -> None:
    await conn.execute(
        "UPDATE seat_pack_refunds SET sent_at = now(), refund_id = $2 WHERE id = $1",
        owed_id,
        refund_id,
    )


# ---------------------------------------------------------------- invitations and redemption


PENDING = "PENDING"
REDEEMED = "REDEEMED"
REVOKED = "REVOKED"
EXPIRED = "EXPIRED"


def invitation_status(row: Any, now: datetime) -> str:
    """Where a seat code is: redeemed (the seat is the learner's) wins over revoked, and
    revoked over expired. Redemption and the listings both read it from here."""
    if row["redeemed_at"] is not None or row["enrollment_id"] is not None:
        return REDEEMED
    if row["revoked_at"] is not None:
        return REVOKED
    if row["expires_at"] <= now:
        return EXPIRED
    return PENDING


@dataclass(frozen=True)
class IssuedInvitation:
    row: asyncpg.Record
    code: str


async def invite_seats(
    conn: asyncpg.Connection, pack: SeatPack, emails: list[str]
) -> list[IssuedInvitation]:
    """A fresh one-time code per email (an email invited before gets a new code, replacing
    its unredeemed one). More people than seats may be invited: seats go to whoever redeems
    first, and the rest are told the pack is sold out."""
    if pack.status not in (seat_packs.PENDING_PAYMENT, seat_packs.PAID):
        raise FailedPreconditionError(f"seat pack {pack.id} is {pack.status}")
    issued = []
    expires = datetime.now(UTC) + INVITATION_TTL
    async with conn.transaction():
        for email in emails:
            code = new_code()
            row = await conn.fetchrow(
                """INSERT INTO seat_invitations (id, seat_pack_id, email, code_hash, expires_at)
                   VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (seat_pack_id, email) DO UPDATE
                       SET code_hash = excluded.code_hash, expires_at = excluded.expires_at,
                           revoked_at = NULL
                       WHERE seat_invitations.redeemed_at IS NULL
                   RETURNING *""",
                str(uuid.uuid4()),
                pack.id,
                email.strip().lower(),
                hash_code(code),
                expires,
            )
            if row is None:
                raise AlreadyExistsError(f"{email} already redeemed a seat of this pack")
            issued.append(IssuedInvitation(row, code))
    return issued


async def revoke_invitation(
    conn: asyncpg.Connection, pack: SeatPack, invitation_id: str
) -> asyncpg.Record:
    """Stop an unredeemed code working (again: no change); a redeemed one is the learner's."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT * FROM seat_invitations WHERE id = $1 AND seat_pack_id = $2 FOR UPDATE",
            invitation_id,
            pack.id,
        )
        if row is None:
            raise NotFoundError(f"invitation {invitation_id} not found")
        if row["redeemed_at"] is not None:
            raise FailedPreconditionError("this code was already redeemed: the seat is taken")
        revoked = await conn.fetchrow(
            """UPDATE seat_invitations SET revoked_at = coalesce(revoked_at, now())
               WHERE id = $1 RETURNING *""",
            invitation_id,
        )
    assert revoked is not None
    return revoked


async def redeem(conn: asyncpg.Connection, principal: Principal, code: str) -> Enrollment:
    """The invited learner's ACTIVE enrollment for the code (the same one again if they
    redeemed it before)."""
    code_hash = hash_code(code.strip())
    found = await conn.fetchrow(
        "SELECT seat_pack_id FROM seat_invitations WHERE code_hash = $1", code_hash
    )
    if found is None:
        raise NotFoundError("no seat invitation has this code")
    async with conn.transaction():
        pack = await get_pack(conn, str(found["seat_pack_id"]), for_update=True)
        invitation = await conn.fetchrow(
            "SELECT * FROM seat_invitations WHERE code_hash = $1 FOR UPDATE", code_hash
        )
        if pack is None or invitation is None:  # the code was replaced meanwhile
            raise NotFoundError("no seat invitation has this code")
        if invitation["email"] != (principal.email or "").strip().lower():
            raise PermissionDeniedError(
                "this code was issued to another email address: sign in as the invited person"
            )
        state = invitation_status(invitation, datetime.now(UTC))
        if state == REDEEMED:
            return await repository.get(conn, str(invitation["enrollment_id"]))
        if state == REVOKED:
            raise FailedPreconditionError("this code was revoked by your employer")
        if state == EXPIRED:
            raise FailedPreconditionError("this code has expired: ask your employer for a new one")
        if pack.status != seat_packs.PAID:
            raise FailedPreconditionError(
                f"the seat pack is not paid (it is {pack.status}): try again once it is"
            )
        if await redeemed_count(conn, pack.id) >= pack.seats:
            raise ResourceExhaustedError(
                f"seat pack {pack.id} is sold out: all {pack.seats} seats are taken"
            )
        enrollment = Enrollment.sponsored(
            learner_id=principal.subject,
            learner_email=principal.email or "",
            program_id=pack.program_id,
            provider_id=pack.provider_id,
            currency=pack.currency,
            snapshot=pack.snapshot,
        )
        # Inserted on the pack's seat: the pack already holds it in the program's count.
        await unit_of_work.commit(
            conn,
            enrollment,
            new=True,
            seat=repository.PackSeat(pack.id, str(invitation["id"])),
        )
        await conn.execute(
            "UPDATE seat_invitations SET redeemed_at = now(), enrollment_id = $2 WHERE id = $1",
            invitation["id"],
            enrollment.id,
        )
    return enrollment


# ---------------------------------------------------------------- listings

# A person's employers are their memberships, newest first: one joined mid-walk is behind
# the walk even when the employer is older than the rows the walk has reached.
EMPLOYERS = Listing("employers", table="m", id="employer_id")
SEAT_PACKS = Listing("seat-packs", table="p")
SEAT_INVITATIONS = Listing("seat-invitations", table="i")


@dataclass(frozen=True)
class MemberScope:
    """Whose employers a page of ListEmployers lists (its token is bound to them)."""

    subject: str


@dataclass(frozen=True)
class EmployerScope:
    employer_id: str


@dataclass(frozen=True)
class PackScope:
    employer_id: str
    seat_pack_id: str


async def list_employers(
    conn: asyncpg.Connection, scope: MemberScope, page: Page
) -> list[tuple[EmployerRow, datetime]]:
    """(employer, when `scope.subject` joined it) of the employers they are a member of
    (owner or manager), in the order of their joining."""
    rows = await fetch_page(
        conn,
        """SELECT e.id, e.name, e.created_at, m.role, m.created_at AS joined_at FROM employers e
           JOIN employer_members m ON m.employer_id = e.id""",
        Where().add("m.subject = {}", scope.subject),
        page,
    )
    return [
        (EmployerRow(str(r["id"]), r["name"], r["created_at"], r["role"]), r["joined_at"])
        for r in rows
    ]


async def list_packs(
    conn: asyncpg.Connection, scope: EmployerScope, page: Page
) -> list[tuple[SeatPack, int]]:
    """(pack, seats redeemed) of one employer's packs."""
    rows = await fetch_page(
        conn,
        """SELECT p.*, (SELECT count(*) FROM seat_invitations i
                        WHERE i.seat_pack_id = p.id AND i.redeemed_at IS NOT NULL) AS redeemed
           FROM seat_packs p""",
        Where().add("p.employer_id = {}::uuid", scope.employer_id),
        page,
    )
    return [(_pack(r), int(r["redeemed"])) for r in rows]


async def list_invitations(
    conn: asyncpg.Connection, scope: PackScope, page: Page
) -> list[asyncpg.Record]:
    return await fetch_page(
        conn,
        "SELECT i.* FROM seat_invitations i",
        Where().add("i.seat_pack_id = {}::uuid", scope.seat_pack_id),
        page,
    )


# ---------------------------------------------------------------- team


@dataclass(frozen=True)
class TeamRow:
    enrollment: Enrollment
    snapshot: enrollment_pb2.ProgramSnapshot
    # A credential its learner earned on their own and shares with the employer.
    shared: bool = False
    # Its credential was revoked (reason as the credentials service gave it, maybe "").
    revoked: bool = False
    revocation_reason: str = ""


# Every query that reads team rows selects the enrollment with these, so that whether its
# credential was revoked is read the same way everywhere (`holds_skills` decides on it).
_REVOCATION_COLUMNS = """(r.credential_id IS NOT NULL) AS credential_revoked,
                         coalesce(r.reason, '') AS revocation_reason"""
_REVOCATION_JOIN = "LEFT JOIN revoked_credentials r ON r.credential_id = e.credential_id"


def _team_row(row: Any, *, shared: bool = False) -> TeamRow:
    enrollment = repository.enrollment_from_row(row)
    snapshot = enrollment_pb2.ProgramSnapshot()
    snapshot.ParseFromString(enrollment.snapshot)
    return TeamRow(
        enrollment,
        snapshot,
        shared,
        revoked=bool(row["credential_revoked"]),
        revocation_reason=row["revocation_reason"],
    )


_SPONSORED = """SELECT 1 FROM enrollments n JOIN seat_packs sp ON sp.id = n.seat_pack_id
                WHERE sp.employer_id = $1 AND n.learner_id = {learner}"""


async def seen_by(
    conn: asyncpg.Connection, employer_id: str, learner_id: str | None = None
) -> list[TeamRow]:
    """Everything the employer sees (of one learner, when given): the enrollments on seats
    of its packs, in every state (the seats are its), then the credentials its sponsored
    people earned on their own and share with it, while those still hold. The team view,
    the skills matrix and a learner's "what my employer sees" all read this, nothing else."""
    rows = await conn.fetch(
        f"""SELECT e.*, false AS shared, {_REVOCATION_COLUMNS} FROM enrollments e
                JOIN seat_packs p ON p.id = e.seat_pack_id
                {_REVOCATION_JOIN}
            WHERE p.employer_id = $1 AND ($2::text IS NULL OR e.learner_id = $2)
            UNION ALL
            SELECT e.*, true AS shared, {_REVOCATION_COLUMNS} FROM employer_credential_shares s
                JOIN enrollments e ON e.id = s.enrollment_id
                {_REVOCATION_JOIN}
            WHERE s.employer_id = $1 AND ($2::text IS NULL OR s.learner_id = $2)
              AND e.learner_id = s.learner_id AND e.seat_pack_id IS NULL
              AND EXISTS ({_SPONSORED.format(learner="s.learner_id")})
            ORDER BY shared, learner_email, created_at""",
        employer_id,
        learner_id,
    )
    found = [_team_row(r, shared=r["shared"]) for r in rows]
    return [t for t in found if not t.shared or holds_skills(t)]


async def sponsors(conn: asyncpg.Connection, employer_id: str, learner_id: str) -> bool:
    """Whether the employer sponsors the learner: they redeemed a seat of one of its packs."""
    return bool(
        await conn.fetchval(
            f"SELECT EXISTS ({_SPONSORED.format(learner='$2')})", employer_id, learner_id
        )
    )


# A learner's sponsors and own credentials, listed in full on their page: bounded here.
MAX_SPONSORS = 100
MAX_OWN_CREDENTIALS = 500


async def sponsors_of(conn: asyncpg.Connection, learner_id: str) -> list[EmployerRow]:
    rows = await conn.fetch(
        """SELECT DISTINCT e.id, e.name, e.created_at FROM employers e
               JOIN seat_packs p ON p.employer_id = e.id
               JOIN enrollments n ON n.seat_pack_id = p.id
           WHERE n.learner_id = $1 ORDER BY e.name, e.id LIMIT $2""",
        learner_id,
        MAX_SPONSORS,
    )
    return [EmployerRow(str(r["id"]), r["name"], r["created_at"], "") for r in rows]


async def own_credentials(conn: asyncpg.Connection, learner_id: str) -> list[TeamRow]:
    """The credentials the learner earned on their own (not on a sponsored seat) that
    still hold: what they may share."""
    rows = await conn.fetch(
        f"""SELECT e.*, {_REVOCATION_COLUMNS} FROM enrollments e {_REVOCATION_JOIN}
           WHERE e.learner_id = $1 AND e.seat_pack_id IS NULL AND e.credential_id IS NOT NULL
           ORDER BY e.created_at DESC LIMIT $2""",
        learner_id,
        MAX_OWN_CREDENTIALS,
    )
    found = [_team_row(r) for r in rows]
    return [t for t in found if holds_skills(t)]


async def shared_enrollments(conn: asyncpg.Connection, learner_id: str) -> set[tuple[str, str]]:
    """(employer id, enrollment id) of every credential the learner shares."""
    rows = await conn.fetch(
        "SELECT employer_id, enrollment_id FROM employer_credential_shares WHERE learner_id = $1",
        learner_id,
    )
    return {(str(r["employer_id"]), str(r["enrollment_id"])) for r in rows}


async def share_credential(
    conn: asyncpg.Connection, principal: Principal, employer_id: str, credential_id: str
) -> TeamRow:
    """Let an employer that sponsors the caller see a credential they earned on their own
    (again: no change). Any other employer does not exist to them."""
    if not await sponsors(conn, employer_id, principal.subject):
        raise NotFoundError(f"employer {employer_id} not found")
    row = await conn.fetchrow(
        f"""SELECT e.*, {_REVOCATION_COLUMNS} FROM enrollments e {_REVOCATION_JOIN}
           WHERE e.learner_id = $1 AND e.credential_id = $2::uuid""",
        principal.subject,
        credential_id,
    )
    if row is None:
        raise NotFoundError(f"credential {credential_id} not found among yours")
    if row["seat_pack_id"] is not None:
        raise FailedPreconditionError(
            "this credential came with a seat an employer paid for: only credentials you"
            " earned on your own can be shared"
        )
    own = _team_row(row, shared=True)
    if own.revoked:
        raise FailedPreconditionError(REVOKED_NOT_SHAREABLE)
    if not holds_skills(own):
        raise FailedPreconditionError("this credential no longer holds, so it cannot be shared")
    await conn.execute(
        """INSERT INTO employer_credential_shares
               (employer_id, learner_id, enrollment_id, credential_id)
           VALUES ($1, $2, $3, $4) ON CONFLICT (employer_id, enrollment_id) DO NOTHING""",
        employer_id,
        principal.subject,
        own.enrollment.id,
        credential_id,
    )
    return own


async def unshare_credential(
    conn: asyncpg.Connection, principal: Principal, employer_id: str, credential_id: str
) -> None:
    """Stop sharing (the caller's own shares only; sponsored or not any more)."""
    await conn.execute(
        """DELETE FROM employer_credential_shares
           WHERE employer_id = $1 AND learner_id = $2 AND credential_id = $3::uuid""",
        employer_id,
        principal.subject,
        credential_id,
    )


# The stable answer (409) to sharing a revoked credential.
REVOKED_NOT_SHAREABLE = "this credential was revoked, so it cannot be shared"


def holds_skills(row: TeamRow) -> bool:
    """Whether the row's skills count in the matrix (and a self-earned credential may be
    seen or shared): its credential was issued, the seat was not given back, and the
    credential was not revoked."""
    e = row.enrollment
    return bool(e.credential_id) and e.status in SEAT_HOLDING and not row.revoked
