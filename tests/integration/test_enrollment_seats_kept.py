"""The seats taken kept on the program's seat row (enrollment migration 0600) against a real
database: after any sequence of purchases, payments, expiries, cancellations, completions,
refunds, seat packs reserved, paid, expired, refunded and released, redemptions, and
operators' own SQL, the kept number equals a full recount by the rule in seats.py; the SQL
form of that rule is the Python one; writes that hold the same seat never touch the
program's row; a first count waits for the seat changes in flight; concurrent purchases
and cancellations keep the number exact."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.common.auth import Principal, Role
from services.common.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    ResourceExhaustedError,
)
from services.enrollment import employers, repository, seat_packs, unit_of_work
from services.enrollment.domain import Enrollment, Price
from services.enrollment.seat_packs import SeatPack
from services.enrollment.seats import PACK_SEAT_HOLDING, SEAT_HOLDING, IncomingPayment, Status
from tests.databases import migrated_pool
from tests.integration.test_enrollment_seats import opened, waiting_for_a_lock

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(fresh_database, "services.enrollment") as pool:
        yield pool


# The recount the kept number must equal: the count lock_and_count_seats ran before
# migration 0600, with the states of the Python rule (seats.py), not the SQL functions.
RECOUNT = """
    SELECT p.id AS program_id,
           (SELECT count(*) FROM enrollments e
             WHERE e.program_id = p.id AND e.status = ANY($2::text[])
               AND (e.seat_pack_id IS NULL OR NOT EXISTS (
                   SELECT 1 FROM seat_packs sp
                    WHERE sp.id = e.seat_pack_id AND sp.status = ANY($3::text[]))))
         + (SELECT coalesce(sum(seats), 0) FROM seat_packs
             WHERE program_id = p.id AND status = ANY($3::text[])) AS taken
      FROM unnest($1::uuid[]) AS p (id)"""


async def recount(conn: asyncpg.Connection, programs: list[str]) -> dict[str, int]:
    rows = await conn.fetch(
        RECOUNT, programs, [s.value for s in SEAT_HOLDING], sorted(PACK_SEAT_HOLDING)
    )
    return {str(r["program_id"]): r["taken"] for r in rows}


async def kept(conn: asyncpg.Connection, programs: list[str]) -> dict[str, int]:
    rows = await conn.fetch(
        """SELECT program_id, taken FROM program_seats
            WHERE program_id = ANY($1::uuid[]) AND taken IS NOT NULL""",
        programs,
    )
    return {str(r["program_id"]): r["taken"] for r in rows}


async def assert_kept_exactly(pool: asyncpg.Pool, programs: list[str]) -> None:
    async with pool.acquire() as conn:
        counted = await recount(conn, programs)
        numbers = await kept(conn, programs)
        shown = await repository.taken_seats(conn, programs)
    assert numbers == {p: counted[p] for p in numbers}, (numbers, counted)
    # What the storefront shows is the number the check uses.
    assert shown == {p: n for p, n in counted.items() if n}, (shown, counted)


# ------------------------------------------------------------------ the rule, once


async def test_the_sql_rule_is_the_python_rule(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        for status in Status:
            holds = await conn.fetchval("SELECT enrollment_holds_seat($1)", status.value)
            assert holds is (status in SEAT_HOLDING), status
        for pack_status in (
            seat_packs.PENDING_PAYMENT,
            seat_packs.PAID,
            seat_packs.EXPIRED,
            seat_packs.CANCELLED,
            seat_packs.REFUNDED,
        ):
            holds = await conn.fetchval("SELECT seat_pack_holds_seats($1)", pack_status)
            assert holds is (pack_status in PACK_SEAT_HOLDING), pack_status
        # The older SQL copy: one live enrollment per learner and program (0001).
        predicate = await conn.fetchval(
            """SELECT pg_get_expr(indpred, indrelid) FROM pg_index
                WHERE indexrelid = 'enrollments_one_live'::regclass"""
        )
    assert set(re.findall(r"'([A-Z_]+)'", predicate)) == {s.value for s in SEAT_HOLDING}


# ------------------------------------------------------------------ random sequences


@dataclass
class World:
    pool: asyncpg.Pool
    programs: list[str]
    employer_id: str
    enrollments: list[str] = field(default_factory=list)
    packs: list[str] = field(default_factory=list)

    def enrollment(self, i: int) -> str | None:
        return self.enrollments[i % len(self.enrollments)] if self.enrollments else None

    def pack(self, i: int) -> str | None:
        return self.packs[i % len(self.packs)] if self.packs else None


CAPACITIES = (None, 3, 1000)
REFUSED = (AlreadyExistsError, FailedPreconditionError, ResourceExhaustedError)


async def buy(w: World, program: int, learner: int, capacity: int, free: bool) -> None:
    e = opened(f"learner-{learner}", w.programs[program % len(w.programs)], 0 if free else 4900)
    async with w.pool.acquire() as conn:
        await unit_of_work.take_seat(conn, e, CAPACITIES[capacity % len(CAPACITIES)])
    w.enrollments.append(e.id)


async def change(w: World, i: int, how: Callable[[Enrollment], None]) -> None:
    enrollment_id = w.enrollment(i)
    if enrollment_id is None:
        return
    async with w.pool.acquire() as conn, conn.transaction():
        e = await repository.get(conn, enrollment_id, for_update=True)
        how(e)
        await unit_of_work.commit(conn, e)


def pay(e: Enrollment) -> None:
    if not e.payment_id:
        e.attach_checkout(str(uuid.uuid4()), "http://checkout")
    e.payment_succeeded(e.payment_id, e.price)


def refund(e: Enrollment) -> None:
    e.payment_refunded(e.payment_id, refund_id=str(uuid.uuid4()), reason="r", full_refund=True)


async def operator_status(w: World, i: int, status: int) -> None:
    # An operator's own SQL, any state to any state: the triggers keep the number anyway.
    async with w.pool.acquire() as conn:
        await conn.execute(
            "UPDATE enrollments SET status = $2 WHERE id = $1",
            w.enrollment(i),
            list(Status)[status % len(Status)].value,
        )


async def operator_delete(w: World, i: int) -> None:
    enrollment_id = w.enrollment(i)
    if enrollment_id is not None:
        async with w.pool.acquire() as conn:
            await conn.execute("DELETE FROM enrollments WHERE id = $1", enrollment_id)
        w.enrollments.remove(enrollment_id)


async def operator_move(w: World, i: int, j: int) -> None:
    # Onto a pack, or off it (None), by hand.
    async with w.pool.acquire() as conn:
        await conn.execute(
            "UPDATE enrollments SET seat_pack_id = $2 WHERE id = $1",
            w.enrollment(i),
            w.pack(j) if j % 3 else None,
        )


async def reserve_pack(w: World, program: int, seats: int, capacity: int, free: bool) -> None:
    pack = SeatPack.open(
        employer_id=w.employer_id,
        program_id=w.programs[program % len(w.programs)],
        provider_id=str(uuid.uuid4()),
        snapshot=b"",
        seats=seats,
        price_minor=0 if free else 1000,
        currency="USD",
        bought_by="manager",
        bought_by_email="manager@example.com",
    )
    async with w.pool.acquire() as conn, conn.transaction():
        await repository.reserve_seat(
            conn, pack.program_id, CAPACITIES[capacity % len(CAPACITIES)], count=seats
        )
        await employers.add_pack(conn, pack)
    w.packs.append(pack.id)


async def change_pack(w: World, j: int, how: Callable[[SeatPack], None]) -> None:
    pack_id = w.pack(j)
    if pack_id is None:
        return
    async with w.pool.acquire() as conn, conn.transaction():
        pack = await employers.get_pack(conn, pack_id, for_update=True)
        assert pack is not None
        how(pack)
        await employers.commit_pack(conn, pack)


def pack_paid(p: SeatPack) -> None:
    if not p.payment_id:
        p.attach_checkout(str(uuid.uuid4()), "http://checkout")
    p.payment_succeeded(IncomingPayment(p.payment_id, p.total_minor, p.currency))


async def release(w: World, j: int) -> None:
    pack_id = w.pack(j)
    if pack_id is not None:
        async with w.pool.acquire() as conn:
            await employers.release_unassigned(conn, pack_id)


async def redeem(w: World, j: int, learner: int) -> None:
    pack_id = w.pack(j)
    if pack_id is None:
        return
    email = f"learner-{learner}@example.com"
    async with w.pool.acquire() as conn:
        pack = await employers.get_pack(conn, pack_id)
        assert pack is not None
        issued = await employers.invite_seats(conn, pack, [email])
        e = await employers.redeem(
            conn, Principal(f"learner-{learner}", Role.LEARNER, email=email), issued[0].code
        )
    if e.id not in w.enrollments:
        w.enrollments.append(e.id)


n = st.integers(min_value=0, max_value=7)
PACK_STEPS = st.one_of(
    st.tuples(st.just(reserve_pack), n, st.integers(1, 4), n, st.booleans()),
    st.tuples(st.just(change_pack), n, st.just(pack_paid)),
    st.tuples(st.just(redeem), n, n),
    st.tuples(st.just(redeem), n, n),
)
STEPS = st.one_of(
    PACK_STEPS,
    st.tuples(st.just(buy), n, n, n, st.booleans()),
    st.tuples(st.just(change), n, st.sampled_from([pay, refund])),
    st.tuples(st.just(change), n, st.just(lambda e: e.payment_failed("expired"))),
    st.tuples(st.just(change), n, st.just(Enrollment.cancel)),
    st.tuples(st.just(change), n, st.just(Enrollment.complete)),
    st.tuples(st.just(operator_status), n, n),
    st.tuples(st.just(operator_delete), n),
    st.tuples(st.just(operator_move), n, n),
    st.tuples(st.just(reserve_pack), n, st.integers(1, 4), n, st.booleans()),
    st.tuples(st.just(change_pack), n, st.just(pack_paid)),
    st.tuples(st.just(change_pack), n, st.just(SeatPack.payment_failed)),
    st.tuples(
        st.just(change_pack),
        n,
        st.just(lambda p: p.payment_refunded(p.payment_id, full_refund=True)),
    ),
    st.tuples(st.just(release), n),
    st.tuples(st.just(redeem), n, n),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEPS, min_size=10, max_size=40))
async def test_the_kept_number_is_always_a_full_recount(
    pool: asyncpg.Pool, steps: list[tuple[object, ...]]
) -> None:
    world = World(pool, [str(uuid.uuid4()), str(uuid.uuid4())], str(uuid.uuid4()))
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO employers (id, name, created_by) VALUES ($1, 'Acme', 'manager')",
            world.employer_id,
        )
    for step, *args in steps:
        run: Callable[..., Awaitable[None]] = step  # type: ignore[assignment]
        try:
            await run(world, *args)
        except REFUSED:
            pass
        except asyncpg.UniqueViolationError:
            pass  # an operator's status change into a second live enrollment
        await assert_kept_exactly(pool, world.programs)
    # And a counted check reads the kept number: every program counted once more.
    for program in world.programs:
        async with pool.acquire() as conn, conn.transaction():
            await repository.reserve_seat(conn, program, 10**6, count=0)
    await assert_kept_exactly(pool, world.programs)


# ------------------------------------------------------------------ locks


async def test_writes_that_hold_the_same_seat_never_touch_the_programs_row(
    pool: asyncpg.Pool,
) -> None:
    program_id = str(uuid.uuid4())
    e = opened("a", program_id)
    async with pool.acquire() as conn:
        await unit_of_work.take_seat(conn, e, 5)
    async with pool.acquire() as holder, holder.transaction():
        # Another purchase's seat check in flight: the program's row locked FOR UPDATE.
        await repository.reserve_seat(holder, program_id, 5)
        async with pool.acquire() as conn, conn.transaction():
            # Were any of these to touch the program's row, it would wait: lock_timeout
            # turns that wait into a failure, not a hang.
            await conn.execute("SET LOCAL lock_timeout = '10s'")
            payment_id = str(uuid.uuid4())
            attached = await repository.attach_checkout(conn, e.id, payment_id, "http://pay")
            assert attached is not None
            attached.payment_succeeded(payment_id, Price(4900, "USD"))
            await unit_of_work.commit(conn, attached)
            credential = repository.attach_credential(e.id, str(uuid.uuid4()), when="true")
            await conn.execute(credential.sql, *credential.args)
            attached.complete()
            await unit_of_work.commit(conn, attached)
    await assert_kept_exactly(pool, [program_id])


async def test_a_program_whose_capacity_is_removed_stops_keeping_its_number(
    pool: asyncpg.Pool,
) -> None:
    program_id = str(uuid.uuid4())
    async with pool.acquire() as conn:
        await unit_of_work.take_seat(conn, opened("a", program_id), 5)
        assert await kept(conn, [program_id]) == {program_id: 1}
        # The provider removes the capacity: the next purchase forgets the number.
        await unit_of_work.take_seat(conn, opened("b", program_id), None)
        assert await kept(conn, [program_id]) == {}
    # So the program's buyers no longer wait for each other on its row: one purchase in
    # flight (not committed), another goes through meanwhile.
    async with pool.acquire() as holder, holder.transaction():
        await unit_of_work.take_seat(holder, opened("c", program_id), None)
        async with pool.acquire() as conn, conn.transaction():
            # A wait for the row would fail here (lock_timeout), not hang.
            await conn.execute("SET LOCAL lock_timeout = '10s'")
            await unit_of_work.take_seat(conn, opened("d", program_id), None)
    # The capacity back: the next counted check counts them all again, and keeps it.
    async with pool.acquire() as conn:
        await unit_of_work.take_seat(conn, opened("e", program_id), 10)
        assert await kept(conn, [program_id]) == {program_id: 5}
    await assert_kept_exactly(pool, [program_id])


async def test_a_first_count_waits_for_a_seat_freed_in_flight_and_sees_it(
    pool: asyncpg.Pool,
) -> None:
    # A program bought without a capacity (not kept); one of its enrollments is being
    # cancelled (not committed) when the first counted check comes: the check waits for it,
    # and counts it freed.
    program_id = str(uuid.uuid4())
    first, second = opened("a", program_id), opened("b", program_id)
    for e in (first, second):
        async with pool.acquire() as conn:
            await unit_of_work.take_seat(conn, e, None)
    async with pool.acquire() as conn, pool.acquire() as counter:
        async with conn.transaction():
            e = await repository.get(conn, first.id, for_update=True)
            e.cancel()
            await unit_of_work.commit(conn, e)
            counted = asyncio.create_task(
                unit_of_work.take_seat(counter, opened("c", program_id), 2)
            )
            await waiting_for_a_lock(pool, counter.get_server_pid())
            assert not counted.done()
        await counted  # one seat was freed: it fits
    await assert_kept_exactly(pool, [program_id])
    async with pool.acquire() as conn:
        assert await kept(conn, [program_id]) == {program_id: 2}


async def test_a_seat_freed_while_the_first_count_runs_is_not_lost(pool: asyncpg.Pool) -> None:
    # The other way round: the first count holds the program's row (not committed) when an
    # enrollment is cancelled; the cancellation waits for it, then takes its seat off the
    # number the count kept.
    program_id = str(uuid.uuid4())
    first = opened("a", program_id)
    async with pool.acquire() as conn:
        await unit_of_work.take_seat(conn, first, None)
    async with pool.acquire() as counter, pool.acquire() as conn:
        async with counter.transaction():
            await repository.reserve_seat(counter, program_id, 5)

            async def cancel() -> None:
                async with conn.transaction():
                    e = await repository.get(conn, first.id, for_update=True)
                    e.cancel()
                    await unit_of_work.commit(conn, e)

            cancelled = asyncio.create_task(cancel())
            await waiting_for_a_lock(pool, conn.get_server_pid())
            assert not cancelled.done()
        await cancelled
    await assert_kept_exactly(pool, [program_id])
    async with pool.acquire() as c:
        assert await kept(c, [program_id]) == {program_id: 0}


async def test_concurrent_purchases_and_cancellations_keep_the_number_exact(
    pool: asyncpg.Pool,
) -> None:
    program_id = str(uuid.uuid4())
    pending = [opened(f"old-{i}", program_id) for i in range(8)]
    for e in pending:
        async with pool.acquire() as conn:
            await unit_of_work.take_seat(conn, e, 20)

    async def cancel(e: Enrollment) -> None:
        async with pool.acquire() as conn, conn.transaction():
            locked = await repository.get(conn, e.id, for_update=True)
            locked.cancel()
            await unit_of_work.commit(conn, locked)

    async def buy_one(i: int) -> None:
        async with pool.acquire() as conn:
            await unit_of_work.take_seat(conn, opened(f"new-{i}", program_id), 20)

    results = await asyncio.gather(
        *(cancel(e) for e in pending),
        *(buy_one(i) for i in range(20)),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, ResourceExhaustedError) for r in failures), failures
    await assert_kept_exactly(pool, [program_id])
    async with pool.acquire() as conn:
        assert (await kept(conn, [program_id]))[program_id] <= 20


async def test_a_first_count_among_uncounted_buyers_keeps_the_number_exact(
    pool: asyncpg.Pool,
) -> None:
    # A capacity appears while buyers without one are still buying: whoever counts first,
    # and whenever, the number ends as the recount.
    for _ in range(5):
        program_id = str(uuid.uuid4())

        async def buy_one(i: int, capacity: int | None, program_id: str = program_id) -> None:
            async with pool.acquire() as conn:
                await unit_of_work.take_seat(conn, opened(f"b-{i}", program_id), capacity)

        await asyncio.gather(*(buy_one(i, None if i % 3 else 100) for i in range(12)))
        await assert_kept_exactly(pool, [program_id])
        async with pool.acquire() as conn:
            # Kept if a counted check came last, forgotten if an uncounted buyer did (0700).
            assert await kept(conn, [program_id]) in ({}, {program_id: 12})
        # Either way, the next counted check goes on from the right number.
        await buy_one(12, 100)
        await assert_kept_exactly(pool, [program_id])
        async with pool.acquire() as conn:
            assert await kept(conn, [program_id]) == {program_id: 13}


async def test_a_pack_closing_while_its_enrollments_and_its_program_change(
    pool: asyncpg.Pool,
) -> None:
    # A paid pack with redeemed seats refunded while, at once, an operator closes its
    # sponsored enrollments one by one and learners buy seats of the program: no deadlock,
    # and the number ends as the recount, whichever order the locks were granted in.
    employer_id = str(uuid.uuid4())
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO employers (id, name, created_by) VALUES ($1, 'Acme', 'manager')",
            employer_id,
        )
    for round_ in range(8):
        world = World(pool, [str(uuid.uuid4())], employer_id)
        await reserve_pack(world, 0, 3, 2, False)  # capacity 1000: counted, kept
        await change_pack(world, 0, pack_paid)
        for learner in range(3):
            await redeem(world, 0, 100 + learner)
        sponsored = list(world.enrollments)

        async def close(enrollment_id: str) -> None:
            async with pool.acquire() as conn:
                await conn.execute(
                    "UPDATE enrollments SET status = 'REFUNDED' WHERE id = $1", enrollment_id
                )

        async def buy_one(i: int, world: World = world) -> None:
            await buy(world, 0, 200 + i, 2, False)

        refund = change_pack(world, 0, lambda p: p.payment_refunded(p.payment_id, full_refund=True))
        await asyncio.gather(
            refund, *(close(e) for e in sponsored), *(buy_one(i) for i in range(4))
        )
        await assert_kept_exactly(pool, world.programs)
        async with pool.acquire() as conn:
            status = await conn.fetchval(
                "SELECT status FROM seat_packs WHERE id = $1", world.packs[0]
            )
        assert status == seat_packs.REFUNDED, round_
