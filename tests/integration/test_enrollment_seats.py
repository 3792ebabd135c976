"""CreateEnrollment's first look (repository.find_keyed_and_live) and creating enrollments
within a program's capacity (unit_of_work.take_seat: the seat lock, the count, the insert
and its outbox rows in one statement, outside a transaction, as CreateEnrollment does)
against a real database: concurrent buyers never take more seats than the program has,
a seat pack's seats count as taken, a learner never holds two live enrollments, and the
refusals read as before ("sold out", "only N seats left")."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from asyncpg.connection import LoggedQuery

from services.common import db
from services.common.errors import AlreadyExistsError, ResourceExhaustedError
from services.enrollment import repository, unit_of_work
from services.enrollment.domain import Enrollment, Price
from tests.polling import eventually_async

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def enrollments(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(fresh_database, max_size=10)
    async with pool.acquire() as conn:
        await db.migrate(conn, "services.common", "services.enrollment")
    yield pool
    await pool.close()


def opened(learner: str, program_id: str, price: int = 4900) -> Enrollment:
    return Enrollment.open(
        learner_id=learner,
        learner_email=f"{learner}@example.com",
        program_id=program_id,
        provider_id=str(uuid.uuid4()),
        price=Price(price, "USD"),
        snapshot=b"",
    )


async def enroll(pool: asyncpg.Pool, e: Enrollment, capacity: int | None) -> Enrollment:
    async with pool.acquire() as conn:
        await unit_of_work.take_seat(conn, e, capacity)
    return e


async def waiting_for_a_lock(pool: asyncpg.Pool, pid: int) -> None:
    """Until the backend `pid` waits for a lock (what PostgreSQL says, not a time)."""

    async def waiting() -> bool:
        async with pool.acquire() as conn:
            return bool(
                await conn.fetchval(
                    "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
                )
            )

    await eventually_async(waiting, what=f"backend {pid} to wait for the seat lock")


async def live(pool: asyncpg.Pool, program_id: str) -> int:
    async with pool.acquire() as conn:
        return (await repository.taken_seats(conn, [program_id])).get(program_id, 0)


async def test_concurrent_buyers_never_take_more_seats_than_there_are(
    enrollments: asyncpg.Pool,
) -> None:
    program_id = str(uuid.uuid4())
    results = await asyncio.gather(
        *(enroll(enrollments, opened(f"learner-{i}", program_id), 3) for i in range(9)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 6
    assert all(isinstance(r, ResourceExhaustedError) for r in refused), refused
    assert all(str(r) == f"program {program_id} is sold out (3 seats)" for r in refused)
    assert await live(enrollments, program_id) == 3


async def test_the_refusal_says_how_many_seats_are_left(enrollments: asyncpg.Pool) -> None:
    program_id = str(uuid.uuid4())
    await enroll(enrollments, opened("a", program_id), 2)
    # A pack of 2 seats in the same program cannot fit past the one enrollment.
    async with enrollments.acquire() as conn, conn.transaction():
        with pytest.raises(ResourceExhaustedError, match="has only 1 seats left"):
            await repository.reserve_seat(conn, program_id, 2, count=2)
    await enroll(enrollments, opened("b", program_id), 2)
    with pytest.raises(ResourceExhaustedError, match=r"is sold out \(2 seats\)"):
        await enroll(enrollments, opened("c", program_id), 2)
    # Without a capacity, nothing is counted or refused.
    await enroll(enrollments, opened("c", program_id), None)
    assert await live(enrollments, program_id) == 3


async def test_a_learner_never_holds_two_live_enrollments(enrollments: asyncpg.Pool) -> None:
    program_id = str(uuid.uuid4())
    results = await asyncio.gather(
        *(enroll(enrollments, opened("alice", program_id), 5) for _ in range(4)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 3
    assert all(isinstance(r, AlreadyExistsError) for r in refused), refused
    assert all(
        str(r) == f"learner already has an enrollment in program {program_id}" for r in refused
    )
    assert await live(enrollments, program_id) == 1


async def test_a_free_enrollment_is_active_with_its_event_and_a_refused_one_leaves_none(
    enrollments: asyncpg.Pool,
) -> None:
    program_id = str(uuid.uuid4())
    await enroll(enrollments, opened("a", program_id, price=0), 1)
    with pytest.raises(ResourceExhaustedError):
        await enroll(enrollments, opened("b", program_id, price=0), 1)
    async with enrollments.acquire() as conn:
        types = [r["type"] for r in await conn.fetch("SELECT type FROM outbox ORDER BY seq")]
        statuses = [r["status"] for r in await conn.fetch("SELECT status FROM enrollments")]
    assert types == ["upskill.enrollment.v1.EnrollmentActivated"]
    assert statuses == ["ACTIVE"]


async def test_one_statement_finds_the_keyed_and_the_live_enrollment(
    enrollments: asyncpg.Pool,
) -> None:
    # CreateEnrollment's first look: the learner's enrollment under the request's key and
    # their live one in the program (both found in one statement).
    program_id, other_program = str(uuid.uuid4()), str(uuid.uuid4())
    first = opened("alice", program_id)
    first.idempotency_key = "order-1"
    await enroll(enrollments, first, None)
    async with enrollments.acquire() as conn:
        await conn.execute("UPDATE enrollments SET status = 'CANCELLED' WHERE id = $1", first.id)
    second = await enroll(enrollments, opened("alice", program_id), None)
    elsewhere = opened("alice", other_program)
    elsewhere.idempotency_key = "order-2"
    await enroll(enrollments, elsewhere, None)

    async def found(learner: str, key: str, program: str) -> tuple[str | None, str | None]:
        async with enrollments.acquire() as conn:
            keyed, live = await repository.find_keyed_and_live(conn, learner, key, program)
        return (keyed.id if keyed else None, live.id if live else None)

    assert await found("alice", "order-1", program_id) == (first.id, second.id)
    assert await found("alice", "", program_id) == (None, second.id)
    assert await found("alice", "order-2", program_id) == (elsewhere.id, second.id)
    assert await found("alice", "order-2", other_program) == (elsewhere.id, elsewhere.id)
    assert await found("alice", "order-9", other_program) == (None, elsewhere.id)
    assert await found("bob", "order-1", program_id) == (None, None)


async def test_buyers_of_a_program_without_a_capacity_do_not_wait_for_each_other(
    enrollments: asyncpg.Pool,
) -> None:
    program_id = str(uuid.uuid4())
    await enroll(enrollments, opened("first", program_id), None)  # creates the seat row
    async with enrollments.acquire() as conn, conn.transaction():
        # One buyer's enrollment is in flight (its seat lock held, not committed) ...
        await unit_of_work.take_seat(conn, opened("in-flight", program_id), None)
        # ... and another's goes through meanwhile. Were the lock exclusive, this would wait
        # for the commit above: lock_timeout turns that wait into a failure, not a hang.
        async with enrollments.acquire() as other, other.transaction():
            await other.execute("SET LOCAL lock_timeout = '10s'")
            await unit_of_work.take_seat(other, opened("meanwhile", program_id), None)
    assert await live(enrollments, program_id) == 3


async def test_the_first_buyer_of_a_program_without_a_capacity_creates_its_seat_row(
    enrollments: asyncpg.Pool,
) -> None:
    program_id = str(uuid.uuid4())
    await enroll(enrollments, opened("first", program_id), None)
    async with enrollments.acquire() as conn:
        rows = await conn.fetchval(
            "SELECT count(*) FROM program_seats WHERE program_id = $1", program_id
        )
    assert rows == 1


async def test_a_count_waits_for_the_uncounted_enrollments_in_flight_and_counts_them(
    enrollments: asyncpg.Pool,
) -> None:
    # A capacity set while enrollments made without one are in flight: the first counting
    # transaction waits for them to commit, and its count includes them.
    program_id = str(uuid.uuid4())
    await enroll(enrollments, opened("first", program_id), None)
    async with enrollments.acquire() as conn, enrollments.acquire() as counter:
        async with conn.transaction():
            await unit_of_work.take_seat(conn, opened("in-flight", program_id), None)
            counted = asyncio.create_task(enroll_on(counter, opened("late", program_id), 2))
            await waiting_for_a_lock(enrollments, counter.get_server_pid())
            assert not counted.done()
        # Committed: the count sees both seats, so the capacity of 2 is full.
        with pytest.raises(ResourceExhaustedError, match=r"is sold out \(2 seats\)"):
            await counted
    assert await live(enrollments, program_id) == 2


async def enroll_on(conn: asyncpg.Connection, e: Enrollment, capacity: int) -> None:
    await unit_of_work.take_seat(conn, e, capacity)


async def test_a_seat_and_its_events_are_one_statement_outside_a_transaction(
    enrollments: asyncpg.Pool,
) -> None:
    # A free enrollment is ACTIVE at once, with its event: the seat lock, the count, the
    # insert and the outbox row are one statement, committed together although no
    # transaction surrounds them.
    program_id = str(uuid.uuid4())
    free = opened("a", program_id, price=0)
    ran: list[str] = []

    def log(query: LoggedQuery) -> None:
        ran.append(query.query)

    async with enrollments.acquire() as conn:
        conn.add_query_logger(log)
        try:
            await unit_of_work.take_seat(conn, free, 5)
        finally:
            conn.remove_query_logger(log)
        assert not conn.is_in_transaction()
        outbox = await conn.fetch("SELECT type, ce_subject FROM outbox")
        status = await conn.fetchval("SELECT status FROM enrollments WHERE id = $1", free.id)
    assert len(ran) == 1, ran
    assert status == "ACTIVE"
    assert [(r["type"], r["ce_subject"]) for r in outbox] == [
        ("upskill.enrollment.v1.EnrollmentActivated", free.id)
    ]


async def test_seat_packs_in_a_program_without_a_capacity_share_its_lock_too(
    enrollments: asyncpg.Pool,
) -> None:
    program_id = str(uuid.uuid4())
    await enroll(enrollments, opened("first", program_id), None)
    async with enrollments.acquire() as conn, conn.transaction():
        await repository.reserve_seat(conn, program_id, None, count=50)
        async with enrollments.acquire() as other, other.transaction():
            await other.execute("SET LOCAL lock_timeout = '10s'")
            await unit_of_work.take_seat(other, opened("meanwhile", program_id), None)
