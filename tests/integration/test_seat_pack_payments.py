"""Payments' events for seat packs on a real enrollment database, through the routed
consumer handlers the service runs (services/enrollment/seat_pack_events.py): the pack's
payment pays it once however often delivered (one SeatPackPaid); money for an expired pack is sent back
(EnrollmentPaymentRejected, which payments answers with a refund); events for ordinary
enrollments still reach their handlers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from asyncpg.connection import LoggedQuery
from upskill.payments.v1 import events_pb2 as payment_events
from upskill.type.v1 import money_pb2

from services.common import events
from services.common.consumer import ContractViolationError
from services.enrollment import employers, repository, seat_pack_events, seat_packs
from services.enrollment import unit_of_work as enrollment_unit_of_work
from services.enrollment.consumers import SUBSCRIPTIONS
from services.enrollment.domain import Enrollment, Price, Status
from services.enrollment.seat_packs import SeatPack
from tests.databases import migrated_pool

pytestmark = pytest.mark.asyncio(loop_scope="session")

HANDLERS = {
    s.event_type.DESCRIPTOR.full_name: s.handler for s in seat_pack_events.route(SUBSCRIPTIONS)
}


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(fresh_database, "services.enrollment") as pool:
        yield pool


async def deliver(
    pool: asyncpg.Pool, event: payment_events.PaymentSucceeded | payment_events.PaymentFailed
) -> list[str]:
    """Handle `event` as the service does; the statements it ran."""
    envelope = events.Envelope(str(uuid.uuid4()), event.DESCRIPTOR.full_name, "test", "", "")
    ran: list[str] = []

    def log(query: LoggedQuery) -> None:
        ran.append(query.query)

    async with pool.acquire() as conn:
        conn.add_query_logger(log)
        try:
            async with conn.transaction():
                await HANDLERS[event.DESCRIPTOR.full_name](conn, event, envelope)
        finally:
            conn.remove_query_logger(log)
    return ran


async def pending_pack(pool: asyncpg.Pool) -> SeatPack:
    employer_id = str(uuid.uuid4())
    pack = SeatPack.open(
        employer_id=employer_id,
        program_id=str(uuid.uuid4()),
        provider_id=str(uuid.uuid4()),
        snapshot=b"",
        seats=3,
        price_minor=4900,
        currency="USD",
        bought_by="manager",
        bought_by_email="m@example.com",
    )
    pack.attach_checkout(str(uuid.uuid4()), "http://checkout")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO employers (id, name, created_by) VALUES ($1, 'Acme', 'manager')",
            employer_id,
        )
        await employers.add_pack(conn, pack)
        await employers.commit_pack(conn, pack)
    return pack


def paid(pack: SeatPack, amount: int = 14700) -> payment_events.PaymentSucceeded:
    return payment_events.PaymentSucceeded(
        payment_id=pack.payment_id,
        enrollment_id=pack.id,
        amount=money_pb2.Money(amount_minor=amount, currency="USD"),
    )


async def state(pool: asyncpg.Pool, pack: SeatPack) -> tuple[str, list[str]]:
    async with pool.acquire() as conn:
        found = await employers.get_pack(conn, pack.id)
        types = [r["type"] for r in await conn.fetch("SELECT type FROM outbox ORDER BY seq")]
    assert found is not None
    return found.status, types


async def test_the_packs_payment_pays_it_once(pool: asyncpg.Pool) -> None:
    pack = await pending_pack(pool)
    await deliver(pool, paid(pack))
    await deliver(pool, paid(pack))
    await deliver(
        pool, payment_events.PaymentFailed(payment_id=pack.payment_id, enrollment_id=pack.id)
    )
    # Paid once: one SeatPackPaid however often the payment is delivered.
    assert await state(pool, pack) == (seat_packs.PAID, ["upskill.enrollment.v1.SeatPackPaid"])


async def test_money_for_an_expired_pack_goes_back(pool: asyncpg.Pool) -> None:
    pack = await pending_pack(pool)
    await deliver(
        pool, payment_events.PaymentFailed(payment_id=pack.payment_id, enrollment_id=pack.id)
    )
    await deliver(pool, paid(pack))
    assert await state(pool, pack) == (
        seat_packs.EXPIRED,
        ["upskill.enrollment.v1.EnrollmentPaymentRejected"],
    )


async def test_a_wrong_amount_is_sent_back_and_leaves_the_pack_payable(pool: asyncpg.Pool) -> None:
    pack = await pending_pack(pool)
    await deliver(pool, paid(pack, amount=4900))
    assert await state(pool, pack) == (
        seat_packs.PENDING_PAYMENT,
        ["upskill.enrollment.v1.EnrollmentPaymentRejected"],
    )


async def test_other_ids_still_reach_the_enrollment_handlers(pool: asyncpg.Pool) -> None:
    unknown = payment_events.PaymentSucceeded(
        payment_id=str(uuid.uuid4()),
        enrollment_id=str(uuid.uuid4()),
        amount=money_pb2.Money(amount_minor=100, currency="USD"),
    )
    with pytest.raises(ContractViolationError, match="unknown enrollment"):
        await deliver(pool, unknown)


async def test_an_enrollments_payment_never_looks_at_the_packs(pool: asyncpg.Pool) -> None:
    # The enrollment's locked read comes first; the packs are read only for an id that no
    # enrollment has (one round trip less for every ordinary purchase).
    enrollment = Enrollment.open(
        learner_id="alice",
        learner_email="alice@example.com",
        program_id=str(uuid.uuid4()),
        provider_id=str(uuid.uuid4()),
        price=Price(4900, "USD"),
        snapshot=b"",
    )
    enrollment.attach_checkout(str(uuid.uuid4()), "http://checkout")
    async with pool.acquire() as conn, conn.transaction():
        await enrollment_unit_of_work.commit(conn, enrollment, new=True)
    ran = await deliver(
        pool,
        payment_events.PaymentSucceeded(
            payment_id=enrollment.payment_id,
            enrollment_id=enrollment.id,
            amount=money_pb2.Money(amount_minor=4900, currency="USD"),
        ),
    )
    assert not [q for q in ran if "seat_packs" in q]
    async with pool.acquire() as conn:
        assert (await repository.get(conn, enrollment.id)).status is Status.ACTIVE


async def test_a_packs_payment_is_routed_to_the_pack_after_the_enrollment_read(
    pool: asyncpg.Pool,
) -> None:
    pack = await pending_pack(pool)
    ran = await deliver(pool, paid(pack))
    assert [q for q in ran if "seat_packs" in q][:1] == [
        "SELECT * FROM seat_packs WHERE id = $1 FOR UPDATE"
    ]
    assert await state(pool, pack) == (seat_packs.PAID, ["upskill.enrollment.v1.SeatPackPaid"])
