"""The saga's consumers against a real database: each event moves the enrollment once,
writes its follow-up event to the outbox in the same transaction, and a credential is
issued exactly once per enrollment however often (and under whatever event id) the
triggering event arrives."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from asyncpg.connection import LoggedQuery
from upskill.catalog.v1 import catalog_pb2
from upskill.credentials.v1 import events_pb2 as credential_events
from upskill.enrollment.v1 import enrollment_pb2
from upskill.enrollment.v1 import events_pb2 as enrollment_events
from upskill.payments.v1 import events_pb2 as payment_events
from upskill.type.v1 import money_pb2

from services.common import db, events
from services.common.consumer import ContractViolationError
from services.credentials.consumers import subscriptions as credential_subscriptions
from services.credentials.issuer import Issuer
from services.credentials.keys import IssuerKey
from services.enrollment import consumers, repository, unit_of_work
from services.enrollment.domain import Enrollment, Price, Status

pytestmark = pytest.mark.asyncio(loop_scope="session")

SNAPSHOT = enrollment_pb2.ProgramSnapshot(
    program_id=str(uuid.uuid4()),
    provider_id=str(uuid.uuid4()),
    provider_name="Acme",
    title="Intro to SQL",
    price=money_pb2.Money(amount_minor=4900, currency="USD"),
    credential=catalog_pb2.CredentialTemplate(
        name="SQL Basics",
        description="Can query",
        criteria="Pass",
        issuance=catalog_pb2.ISSUANCE_POLICY_ON_COMPLETION,
    ),
)


def envelope() -> events.Envelope:
    return events.Envelope(id=str(uuid.uuid4()), type="t", source="test", subject="", time="")


async def migrated_pool(dsn: str, package: str) -> asyncpg.Pool:
    pool = await db.create_pool(dsn)
    async with pool.acquire() as conn:
        await db.migrate(conn, "services.common", package)
    return pool


@pytest.fixture
async def enrollments(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_pool(fresh_database, "services.enrollment")
    yield pool
    await pool.close()


async def pending(pool: asyncpg.Pool) -> Enrollment:
    enrollment = Enrollment.open(
        learner_id="alice",
        learner_email="alice@example.com",
        program_id=SNAPSHOT.program_id,
        provider_id=SNAPSHOT.provider_id,
        price=Price(4900, "USD"),
        snapshot=SNAPSHOT.SerializeToString(),
    )
    enrollment.attach_checkout(str(uuid.uuid4()), "http://checkout")
    async with pool.acquire() as conn, conn.transaction():
        await unit_of_work.commit(conn, enrollment, new=True)
    return enrollment


async def outbox_types(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        return [r["type"] for r in await conn.fetch("SELECT type FROM outbox ORDER BY seq")]


def succeeded(e: Enrollment, amount: int = 4900) -> payment_events.PaymentSucceeded:
    return payment_events.PaymentSucceeded(
        payment_id=e.payment_id,
        enrollment_id=e.id,
        learner_id=e.learner_id,
        amount=money_pb2.Money(amount_minor=amount, currency="USD"),
    )


async def test_payment_succeeded_activates_once_with_its_event(enrollments: asyncpg.Pool) -> None:
    e = await pending(enrollments)
    for _ in range(2):  # the second is a redelivery under a new event id: no second effect
        async with enrollments.acquire() as conn, conn.transaction():
            await consumers.on_payment_succeeded(conn, succeeded(e), envelope())
    async with enrollments.acquire() as conn:
        assert (await repository.get(conn, e.id)).status is Status.ACTIVE
    assert await outbox_types(enrollments) == ["upskill.enrollment.v1.EnrollmentActivated"]


async def test_payment_failed_expires_and_frees_the_seat(enrollments: asyncpg.Pool) -> None:
    e = await pending(enrollments)
    async with enrollments.acquire() as conn, conn.transaction():
        await consumers.on_payment_failed(
            conn,
            payment_events.PaymentFailed(
                payment_id=e.payment_id, enrollment_id=e.id, reason="checkout_expired"
            ),
            envelope(),
        )
    async with enrollments.acquire() as conn:
        assert (await repository.get(conn, e.id)).status is Status.EXPIRED
        assert await repository.find_live(conn, "alice", SNAPSHOT.program_id) is None
    assert await outbox_types(enrollments) == ["upskill.enrollment.v1.EnrollmentExpired"]


async def test_an_unknown_enrollment_is_a_contract_violation(enrollments: asyncpg.Pool) -> None:
    e = await pending(enrollments)
    message = succeeded(e)
    message.enrollment_id = str(uuid.uuid4())
    async with enrollments.acquire() as conn:
        with pytest.raises(ContractViolationError):
            async with conn.transaction():
                await consumers.on_payment_succeeded(conn, message, envelope())
        assert (await repository.get(conn, e.id)).status is Status.PENDING_PAYMENT
    assert await outbox_types(enrollments) == []


async def rejections(pool: asyncpg.Pool) -> list[enrollment_events.EnrollmentPaymentRejected]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT payload FROM outbox WHERE type = $1 ORDER BY seq",
            enrollment_events.EnrollmentPaymentRejected.DESCRIPTOR.full_name,
        )
    return [enrollment_events.EnrollmentPaymentRejected.FromString(r["payload"]) for r in rows]


async def test_a_payment_for_a_cancelled_enrollment_is_rejected_not_dead_lettered(
    enrollments: asyncpg.Pool,
) -> None:
    """Enroll, cancel, enroll again, pay the first checkout: on main the late payment moved
    the first enrollment back to ACTIVE and hit enrollments_one_live forever."""
    first = await pending(enrollments)
    async with enrollments.acquire() as conn, conn.transaction():
        cancelled = await repository.get(conn, first.id, for_update=True)
        cancelled.cancel()
        await unit_of_work.commit(conn, cancelled)
    second = await pending(enrollments)  # the same learner and program, live again
    async with enrollments.acquire() as conn, conn.transaction():
        await consumers.on_payment_succeeded(conn, succeeded(first), envelope())
    async with enrollments.acquire() as conn:
        assert (await repository.get(conn, first.id)).status is Status.CANCELLED
        assert (await repository.get(conn, second.id)).status is Status.PENDING_PAYMENT
    [rejected] = await rejections(enrollments)
    assert (rejected.enrollment_id, rejected.payment_id, rejected.reason) == (
        first.id,
        first.payment_id,
        "enrollment_cancelled",
    )
    assert rejected.enrollment_status == enrollment_pb2.ENROLLMENT_STATUS_CANCELLED


async def test_a_payment_of_the_wrong_amount_is_rejected(enrollments: asyncpg.Pool) -> None:
    e = await pending(enrollments)
    async with enrollments.acquire() as conn, conn.transaction():
        await consumers.on_payment_succeeded(conn, succeeded(e, amount=100), envelope())
    async with enrollments.acquire() as conn:
        assert (await repository.get(conn, e.id)).status is Status.PENDING_PAYMENT
    assert [r.reason for r in await rejections(enrollments)] == ["amount_mismatch"]


async def test_a_credential_is_issued_exactly_once_per_enrollment(fresh_database: str) -> None:
    pool = await migrated_pool(fresh_database, "services.credentials")
    try:
        issuer = Issuer(IssuerKey.generate(), "http://upskill.test")
        async with pool.acquire() as conn:
            await issuer.register_key(conn)
        handlers = {s.event_type: s.handler for s in credential_subscriptions(issuer)}
        enrollment_id = str(uuid.uuid4())
        activated = enrollment_events.EnrollmentActivated(
            enrollment_id=enrollment_id, learner_id="alice", program=SNAPSHOT
        )
        completed = enrollment_events.EnrollmentCompleted(
            enrollment_id=enrollment_id, learner_id="alice", program=SNAPSHOT
        )
        # ON_COMPLETION: activation earns nothing; completion (twice, two event ids) one.
        for message in (activated, completed, completed):
            async with pool.acquire() as conn, conn.transaction():
                await handlers[type(message)](conn, message, envelope())
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM credentials") == 1
            issued = await conn.fetchval("SELECT count(*) FROM outbox WHERE type LIKE '%Issued'")
            assert issued == 1
            verdict = await issuer.verify(conn, await conn.fetchval("SELECT jwt FROM credentials"))
        assert verdict.verified
    finally:
        await pool.close()


async def test_credential_issued_attaches_the_credential_in_one_statement(
    enrollments: asyncpg.Pool,
) -> None:
    e = await pending(enrollments)
    credential_id = str(uuid.uuid4())
    issued = credential_events.CredentialIssued(enrollment_id=e.id, credential_id=credential_id)
    ran: list[str] = []

    def log(query: LoggedQuery) -> None:
        ran.append(query.query)

    async with enrollments.acquire() as conn:
        conn.add_query_logger(log)
        try:
            async with conn.transaction():
                await consumers.on_credential_issued(conn, issued, envelope())
        finally:
            conn.remove_query_logger(log)
        found = await repository.get(conn, e.id)
    assert found.credential_id == credential_id
    assert found.status is Status.PENDING_PAYMENT  # nothing else changes
    assert found.updated_at > e.updated_at
    statements = [q for q in ran if q not in ("BEGIN;", "COMMIT;")]
    assert len(statements) == 1
    assert "UPDATE enrollments SET credential_id" in statements[0]
    assert await outbox_types(enrollments) == []

    unknown = credential_events.CredentialIssued(
        enrollment_id=str(uuid.uuid4()), credential_id=str(uuid.uuid4())
    )
    async with enrollments.acquire() as conn, conn.transaction():
        with pytest.raises(ContractViolationError, match="unknown enrollment"):
            await consumers.on_credential_issued(conn, unknown, envelope())
