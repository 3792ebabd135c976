"""Enrollment's CredentialRevoked consumer on a real database, fed through the consumer's
inbox exactly as the running service is: a revocation is recorded once by credential id,
so duplicated and reordered deliveries (the revocation before the CredentialIssued
included) leave the same team view; a revoked sponsored credential shows as revoked with
its reason and leaves the skills matrix; a shared self-earned one leaves the employer's
view; a revoked one cannot be shared; a malformed event is a contract violation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from google.protobuf.message import Message
from upskill.catalog.v1 import catalog_pb2
from upskill.credentials.v1 import events_pb2 as credential_events
from upskill.enrollment.v1 import enrollment_pb2
from upskill.type.v1 import money_pb2

from services.common import db, events
from services.common.auth import Principal, Role
from services.common.consumer import ContractViolationError, EventConsumer
from services.common.errors import FailedPreconditionError
from services.enrollment import employers, unit_of_work
from services.enrollment.consumers import SUBSCRIPTIONS
from services.enrollment.domain import Enrollment, Price
from services.enrollment.employers_api import team_people

pytestmark = pytest.mark.asyncio(loop_scope="session")

COMPLETED = enrollment_pb2.EnrollmentStatus.Value("ENROLLMENT_STATUS_COMPLETED")


def snapshot(skill: str) -> enrollment_pb2.ProgramSnapshot:
    return enrollment_pb2.ProgramSnapshot(
        program_id=str(uuid.uuid4()),
        provider_id=str(uuid.uuid4()),
        provider_name="Acme",
        title=f"Program {skill}",
        price=money_pb2.Money(amount_minor=0, currency="USD"),
        skills=[skill],
        credential=catalog_pb2.CredentialTemplate(
            name=f"{skill} badge",
            description="Can do it",
            criteria="Pass",
            issuance=catalog_pb2.ISSUANCE_POLICY_ON_COMPLETION,
        ),
    )


class Service:
    """Enrollment's consumer (inbox and all), without NATS in front."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.handlers = {s.event_type.DESCRIPTOR.full_name: s.handler for s in SUBSCRIPTIONS}
        # Only _apply is used: the inbox row and the handler in one transaction.
        self.consumer = EventConsumer("enrollment", pool, None, SUBSCRIPTIONS)  # type: ignore[arg-type]

    async def deliver(self, event: Message, event_id: str | None = None) -> bool:
        envelope = events.Envelope(
            id=event_id or str(uuid.uuid4()),
            type=event.DESCRIPTOR.full_name,
            source="test",
            subject="",
            time="",
        )
        return await self.consumer._apply(
            self.handlers[event.DESCRIPTOR.full_name], event, envelope
        )


@pytest.fixture
async def service(fresh_database: str) -> AsyncIterator[Service]:
    pool = await db.create_pool(fresh_database)
    async with pool.acquire() as conn:
        await db.migrate(conn, "services.common", "services.enrollment")
    yield Service(pool)
    await pool.close()


async def completed(conn: asyncpg.Connection, enrollment: Enrollment) -> Enrollment:
    async with conn.transaction():
        await unit_of_work.commit(conn, enrollment, new=True)
    enrollment.complete()
    async with conn.transaction():
        await unit_of_work.commit(conn, enrollment)
    return enrollment


async def sponsored(pool: asyncpg.Pool, learner: str, skill: str) -> tuple[str, Enrollment]:
    """(employer id, a completed enrollment on a seat of its paid pack) for `learner`."""
    program = snapshot(skill)
    async with pool.acquire() as conn:
        employer = await employers.create_employer(
            conn, Principal(subject=f"owner-{learner}", role=Role.LEARNER, token=""), "Acme"
        )
        pack_id = str(uuid.uuid4())
        await conn.execute(
            """INSERT INTO seat_packs (id, employer_id, program_id, provider_id, snapshot,
                   seats, total_minor, currency, status, bought_by)
               VALUES ($1, $2, $3, $4, $5, 5, 0, 'USD', 'PAID', 'owner')""",
            pack_id,
            employer.id,
            program.program_id,
            program.provider_id,
            program.SerializeToString(),
        )
        enrollment = Enrollment.sponsored(
            learner_id=learner,
            learner_email=f"{learner}@example.com",
            program_id=program.program_id,
            provider_id=program.provider_id,
            currency="USD",
            snapshot=program.SerializeToString(),
        )
        await completed(conn, enrollment)
        await conn.execute(
            "UPDATE enrollments SET seat_pack_id = $2 WHERE id = $1", enrollment.id, pack_id
        )
    return employer.id, enrollment


async def self_earned(pool: asyncpg.Pool, learner: str, skill: str) -> Enrollment:
    program = snapshot(skill)
    async with pool.acquire() as conn:
        return await completed(
            conn,
            Enrollment.open(
                learner_id=learner,
                learner_email=f"{learner}@example.com",
                program_id=program.program_id,
                provider_id=program.provider_id,
                price=Price(0, "USD"),
                snapshot=program.SerializeToString(),
            ),
        )


def issued(enrollment: Enrollment, credential_id: str) -> credential_events.CredentialIssued:
    return credential_events.CredentialIssued(
        credential_id=credential_id,
        enrollment_id=enrollment.id,
        learner_id=enrollment.learner_id,
        program_id=enrollment.program_id,
    )


def revoked(
    enrollment: Enrollment, credential_id: str, reason: str = "misconduct"
) -> credential_events.CredentialRevoked:
    return credential_events.CredentialRevoked(
        credential_id=credential_id, enrollment_id=enrollment.id, reason=reason
    )


async def team(pool: asyncpg.Pool, employer_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The team view as GetTeam answers it, ids left out so runs can be compared."""
    async with pool.acquire() as conn:
        people, skills = team_people(await employers.seen_by(conn, employer_id))
    return [
        {
            "enrollments": [
                (
                    e.status,
                    e.shared,
                    bool(e.credential_id),
                    e.credential_revoked,
                    e.revocation_reason,
                )
                for e in p.enrollments
            ],
            "skills": list(p.skills),
            "shared_skills": list(p.shared_skills),
        }
        for p in people
    ], skills


ORDERS = {
    "issued, then revoked": ["I", "R"],
    "revoked before issued": ["R", "I"],
    "everything twice, reordered": ["R", "R=", "I", "R", "I=", "R="],
}


async def test_duplicate_and_reordered_events_leave_one_revoked_credential(
    service: Service,
) -> None:
    ends = {}
    for name, order in ORDERS.items():
        learner = f"l-{uuid.uuid4().hex[:8]}"
        employer_id, enrollment = await sponsored(service.pool, learner, "sql")
        credential = str(uuid.uuid4())
        # Before anything: the seat is seen, no credential, no skill.
        assert await team(service.pool, employer_id) == (
            [
                {
                    "enrollments": [(COMPLETED, False, False, False, "")],
                    "skills": [],
                    "shared_skills": [],
                }
            ],
            [],
        )
        ids: dict[str, str] = {}
        for step in order:
            kind = step[0]
            if not step.endswith("="):
                ids[kind] = str(uuid.uuid4())
            event = (
                issued(enrollment, credential) if kind == "I" else revoked(enrollment, credential)
            )
            # "X": a copy under a new id (the rules stop it); "X=": the last "X" delivered
            # again (the inbox stops it).
            first = await service.deliver(event, ids[kind])
            assert first is not step.endswith("=")
        ends[name] = await team(service.pool, employer_id)
        async with service.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT * FROM revoked_credentials WHERE credential_id = $1", credential
            )
        assert [(str(r["enrollment_id"]), r["reason"]) for r in rows] == [
            (enrollment.id, "misconduct")
        ]
    assert list(ends.values()) == [
        (
            [
                {
                    "enrollments": [(COMPLETED, False, True, True, "misconduct")],
                    "skills": [],
                    "shared_skills": [],
                }
            ],
            [],
        )
    ] * len(ORDERS)


async def test_an_issued_credential_counts_until_revoked_and_the_first_reason_stays(
    service: Service,
) -> None:
    employer_id, enrollment = await sponsored(service.pool, "bea", "python")
    credential = str(uuid.uuid4())
    await service.deliver(issued(enrollment, credential))
    people, skills = await team(service.pool, employer_id)
    assert (people[0]["skills"], skills) == (["python"], ["python"])
    assert people[0]["enrollments"] == [(COMPLETED, False, True, False, "")]
    # The reason may be empty, and may carry a NUL (stored without it); a later
    # revocation of the same credential does not replace the first.
    await service.deliver(revoked(enrollment, credential, reason="cheat\x00ed"))
    await service.deliver(revoked(enrollment, credential, reason="another"))
    people, skills = await team(service.pool, employer_id)
    assert (people[0]["skills"], skills) == ([], [])
    assert people[0]["enrollments"] == [(COMPLETED, False, True, True, "cheated")]


async def test_a_shared_credential_revoked_leaves_the_view_and_a_revoked_one_is_not_shareable(
    service: Service,
) -> None:
    learner = "cy"
    me = Principal(subject=learner, role=Role.LEARNER, token="", email=f"{learner}@example.com")
    employer_id, _ = await sponsored(service.pool, learner, "team-skill")
    own = await self_earned(service.pool, learner, "own-skill")
    credential = str(uuid.uuid4())
    await service.deliver(issued(own, credential))
    async with service.pool.acquire() as conn:
        await employers.share_credential(conn, me, employer_id, credential)
    people, skills = await team(service.pool, employer_id)
    assert people[0]["shared_skills"] == ["own-skill"]
    assert "own-skill" in skills

    await service.deliver(revoked(own, credential))
    people, skills = await team(service.pool, employer_id)
    assert [e[1] for e in people[0]["enrollments"]] == [False]  # the shared row is gone
    assert "own-skill" not in skills
    assert people[0]["shared_skills"] == []
    async with service.pool.acquire() as conn:
        assert await employers.own_credentials(conn, learner) == []
        with pytest.raises(FailedPreconditionError) as refused:
            await employers.share_credential(conn, me, employer_id, credential)
    assert str(refused.value) == employers.REVOKED_NOT_SHAREABLE

    # Revoked before its CredentialIssued arrived: never shareable either.
    late = await self_earned(service.pool, learner, "late-skill")
    late_credential = str(uuid.uuid4())
    await service.deliver(revoked(late, late_credential))
    await service.deliver(issued(late, late_credential))
    async with service.pool.acquire() as conn:
        with pytest.raises(FailedPreconditionError):
            await employers.share_credential(conn, me, employer_id, late_credential)


async def test_a_pathway_revocation_is_recorded_and_malformed_ones_are_contract_violations(
    service: Service,
) -> None:
    pathway_credential = str(uuid.uuid4())
    await service.deliver(
        credential_events.CredentialRevoked(
            credential_id=pathway_credential, pathway_id=str(uuid.uuid4()), reason="component"
        )
    )
    async with service.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT * FROM revoked_credentials WHERE credential_id = $1", pathway_credential
        )
    assert row is not None
    assert row["enrollment_id"] is None
    for bad in (
        credential_events.CredentialRevoked(credential_id="nope", enrollment_id=str(uuid.uuid4())),
        credential_events.CredentialRevoked(credential_id="", enrollment_id=str(uuid.uuid4())),
        credential_events.CredentialRevoked(credential_id=str(uuid.uuid4()), enrollment_id="x\x00"),
    ):
        with pytest.raises(ContractViolationError):
            await service.deliver(bad)


async def test_concurrent_copies_of_a_revocation_and_its_issue_record_it_once(
    service: Service,
) -> None:
    employer_id, enrollment = await sponsored(service.pool, "dee", "go")
    credential = str(uuid.uuid4())
    firsts = await asyncio.gather(
        *[service.deliver(revoked(enrollment, credential, reason=f"r{n}")) for n in range(4)],
        service.deliver(issued(enrollment, credential)),
    )
    assert firsts == [True] * 5  # five deliveries under five ids: none lost, none failed
    async with service.pool.acquire() as conn:
        reasons = await conn.fetch(
            "SELECT reason FROM revoked_credentials WHERE credential_id = $1", credential
        )
    assert len(reasons) == 1
    people, skills = await team(service.pool, employer_id)
    assert (people[0]["skills"], skills) == ([], [])
    assert people[0]["enrollments"] == [(COMPLETED, False, True, True, reasons[0]["reason"])]
