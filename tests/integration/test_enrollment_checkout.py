"""Attaching a checkout to an enrollment (repository.attach_checkout) against a real
database: one statement that attaches only to a PENDING_PAYMENT enrollment without a
checkout, exactly once under concurrent callers, never over another payment, never to a
cancelled enrollment, and raises no event."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.common import db
from services.enrollment import repository, unit_of_work
from services.enrollment.domain import Enrollment, Price, Status

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def enrollments(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(fresh_database, max_size=8)
    async with pool.acquire() as conn:
        await db.migrate(conn, "services.common", "services.enrollment")
    yield pool
    await pool.close()


async def unpaid(pool: asyncpg.Pool) -> Enrollment:
    enrollment = Enrollment.open(
        learner_id="alice",
        learner_email="alice@example.com",
        program_id=str(uuid.uuid4()),
        provider_id=str(uuid.uuid4()),
        price=Price(4900, "USD"),
        snapshot=b"",
    )
    async with pool.acquire() as conn, conn.transaction():
        await unit_of_work.commit(conn, enrollment, new=True)
        await conn.execute("DELETE FROM outbox")  # only what attaching writes is left
    return enrollment


async def attach(pool: asyncpg.Pool, enrollment_id: str, payment_id: str) -> Enrollment | None:
    async with pool.acquire() as conn:
        return await repository.attach_checkout(
            conn, enrollment_id, payment_id, f"http://pay/{payment_id}"
        )


async def test_attaches_once_and_writes_no_event(enrollments: asyncpg.Pool) -> None:
    e = await unpaid(enrollments)
    payment = str(uuid.uuid4())

    attached = await attach(enrollments, e.id, payment)

    assert attached is not None
    assert (attached.payment_id, attached.checkout_url) == (payment, f"http://pay/{payment}")
    assert attached.status is Status.PENDING_PAYMENT
    assert attached.updated_at >= e.updated_at
    async with enrollments.acquire() as conn:
        stored = await repository.get(conn, e.id)
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    assert (stored.payment_id, stored.checkout_url) == (payment, f"http://pay/{payment}")
    # Once attached, the same payment again changes nothing (the link is kept).
    assert await attach(enrollments, e.id, payment) is None


async def test_concurrent_attaches_of_one_payment_attach_it_once(
    enrollments: asyncpg.Pool,
) -> None:
    e = await unpaid(enrollments)
    payment = str(uuid.uuid4())

    results = await asyncio.gather(*(attach(enrollments, e.id, payment) for _ in range(6)))

    assert sum(r is not None for r in results) == 1


async def test_never_over_another_payment(enrollments: asyncpg.Pool) -> None:
    e = await unpaid(enrollments)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    async with enrollments.acquire() as conn:
        # A payment recorded without its link yet (as a half-done earlier attempt would be).
        await conn.execute("UPDATE enrollments SET payment_id = $2 WHERE id = $1", e.id, first)

    assert await attach(enrollments, e.id, second) is None
    attached = await attach(enrollments, e.id, first)
    assert attached is not None
    assert attached.payment_id == first


async def test_never_to_a_cancelled_or_unknown_enrollment(enrollments: asyncpg.Pool) -> None:
    e = await unpaid(enrollments)
    async with enrollments.acquire() as conn, conn.transaction():
        cancelled = await repository.get(conn, e.id, for_update=True)
        cancelled.cancel()
        await unit_of_work.commit(conn, cancelled)

    assert await attach(enrollments, e.id, str(uuid.uuid4())) is None
    assert await attach(enrollments, str(uuid.uuid4()), str(uuid.uuid4())) is None
    async with enrollments.acquire() as conn:
        stored = await repository.get(conn, e.id)
    assert (stored.status, stored.payment_id, stored.checkout_url) == (Status.CANCELLED, "", "")
