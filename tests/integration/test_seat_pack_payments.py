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
from upskill.payments.v1 import events_pb2 as payment_events
from upskill.type.v1 import money_pb2

from services.common import db, events
from services.common.consumer import ContractViolationError
from services.enrollment import employers, seat_pack_events, seat_packs
from services.enrollment.consumers import SUBSCRIPTIONS
from services.enrollment.seat_packs import SeatPack

pytestmark = pytest.mark.asyncio(loop_scope="session")

HANDLERS = {
    s.event_type.DESCRIPTOR.full_name: s.handler for s in seat_pack_events.route(SUBSCRIPTIONS)
}


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(fresh_database)
    async with pool.acquire() as conn:
        await db.migrate(conn, "services.common", "services.enrollment")
    yield pool
    await pool.close()


async def deliver(
    pool: asyncpg.Pool, event: payment_events.PaymentSucceeded | payment_events.PaymentFailed
) -> None:
    envelope = events.Envelope(str(uuid.uuid4()), event.DESCRIPTOR.full_name, "test", "", "")
    async with pool.acquire() as conn, conn.transaction():
        await HANDLERS[event.DESCRIPTOR.full_name](conn, event, envelope)


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
